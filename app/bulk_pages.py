"""Operators' bulk actions (issue 29): several review items dismissed with one reason, several
failed dossiers sent to be processed again. Each asks first: the chosen dossiers come back on
a confirmation page ("Xác nhận: bỏ qua kiểm tra 3 hồ sơ?") and nothing is done until it is
confirmed. Same-origin is checked for every POST by the operator's page dependency (as for
the single actions); each dossier's history says who acted, as a single dismissal or retry
does."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from app.auth import visible_dossier
from app.i18n import Messages
from app.review import retry_dossier
from app.review_pages import OperatorPage
from config import Settings
from flows.runtime import metadata_store
from models import DossierInfo, Principal

# At most this many dossiers in one bulk action (a review page shows 20).
MAX_CHOSEN = 50


async def _chosen(request: Request) -> tuple[list[str], dict[str, str]]:
    """The ids ticked (each once, in order) and the form's other fields."""
    async with request.form(max_files=0, max_fields=MAX_CHOSEN + 8, max_part_size=4096) as data:
        ids = list(dict.fromkeys(str(v) for v in data.getlist("id")))
        rest = {k: str(v).strip() for k, v in data.items() if k != "id"}
    if len(ids) > MAX_CHOSEN:
        raise HTTPException(422, f"at most {MAX_CHOSEN} dossiers at once")
    return ids, rest


def add_bulk_pages(
    app: FastAPI,
    settings: Settings,
    render: Callable[..., Response],
    messages: Messages,
) -> None:
    def confirm_page(
        request: Request,
        principal: Principal,
        *,
        question: str,
        action: str,
        back: str,
        dossiers: list[DossierInfo],
        keep: dict[str, str],
    ) -> Response:
        return render(
            request, "confirm.html", principal, question=question, action=action, back=back,
            dossiers=dossiers, keep=keep,
        )  # fmt: skip

    @app.post("/ops/bulk/dismiss", include_in_schema=False)
    async def bulk_dismiss(request: Request, principal: OperatorPage) -> Response:
        ids, form = await _chosen(request)
        reasons = messages.sections.get("dismiss", {})
        reason, note = form.get("reason", ""), form.get("note", "")[:2000]
        if reason not in reasons:
            raise HTTPException(422, "not a dismissal reason")
        dossiers = [visible_dossier(settings, principal, i) for i in ids]
        if form.get("confirm") != "1" or not dossiers:
            question = messages.ui("confirm_dismiss", n=len(dossiers), reason=reasons[reason])
            return confirm_page(
                request, principal, question=question, action="/ops/bulk/dismiss",
                back="/ops/review", dossiers=dossiers, keep={"reason": reason, "note": note},
            )  # fmt: skip
        words = reasons[reason] + (f" ({note})" if note else "")
        meta = metadata_store(settings)
        # One settled meanwhile (corrected or dismissed by someone else) is left as it is.
        waiting = [d for d in dossiers if d.needs_review]
        for dossier in waiting:
            meta.dismiss_review(dossier.dossier_id, reason=words, dismissed_by=principal.name)
        return RedirectResponse(f"/ops/review?dismissed={len(waiting)}", status_code=303)

    @app.post("/ops/bulk/retry", include_in_schema=False)
    async def bulk_retry(request: Request, principal: OperatorPage) -> Response:
        ids, form = await _chosen(request)
        dossiers = [visible_dossier(settings, principal, i) for i in ids]
        if form.get("confirm") != "1" or not dossiers:
            return confirm_page(
                request, principal, question=messages.ui("confirm_retry", n=len(dossiers)),
                action="/ops/bulk/retry", back="/ops", dossiers=dossiers, keep={},
            )  # fmt: skip
        sent = 0
        for dossier in dossiers:
            try:
                retry_dossier(settings, request.app.state.runner, dossier, principal)
                sent += 1
            except HTTPException as exc:  # retried meanwhile (by someone else): left as is
                if exc.status_code != 409:
                    raise
        return RedirectResponse(f"/ops?retried_n={sent}&chosen={len(dossiers)}", status_code=303)
