"""The operators' desk pages: the dashboard, a batch, a dead push resent, a person's
account unlocked, and the bulk actions (issue 29).

A bulk action dismisses several review items with one reason, or sends several failed
dossiers to be processed again. Each asks first: the chosen dossiers come back on a
confirmation page ("Xác nhận: bỏ qua kiểm tra 3 hồ sơ?") and nothing is done until it is
confirmed; each dossier's history says who acted, as a single dismissal or retry does.
Same-origin is checked for every POST by the operator's page dependency (``app.auth``): no
other site can act with an operator's session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import locked_accounts, unlock_account
from app.auth import OperatorPage, operator_page, visible_batch, visible_dossier
from app.review import retry_dossier
from app.routes.state import Service
from app.views import batch_json, ops_data, push_ops
from flows.runtime import metadata_store
from models import DossierInfo, DossierStatus, Principal

router = APIRouter(include_in_schema=False, dependencies=[Depends(operator_page)])

# The dashboard reloads itself this often (a page, no script: it works everywhere).
OPS_REFRESH_S = 30
# At most this many dossiers in one bulk action (a review page shows 20).
MAX_CHOSEN = 50


@router.get("/ops", response_class=HTMLResponse)
def ops_page(
    request: Request,
    service: Service,
    principal: OperatorPage,
    retried: Annotated[str, Query(max_length=64)] = "",
    resent: Annotated[str, Query(max_length=20)] = "",
    retried_n: Annotated[int, Query(ge=0, le=1000)] = 0,
    chosen: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> Response:
    data = ops_data(service.settings, request_runner=service.runner)
    data["locked_accounts"] = locked_accounts(service.settings)
    data.update(push_ops(service.settings))  # issue 27: dead letters, resent from here
    return service.render(
        request, "ops.html", principal, ops=data, statuses=list(DossierStatus),
        retried=retried, now=datetime.now(UTC), refresh_s=OPS_REFRESH_S, resent=resent,
        retried_n=retried_n, chosen=chosen,
    )  # fmt: skip


@router.get("/ops/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request, batch_id: str, service: Service, principal: OperatorPage
) -> Response:
    settings = service.settings
    batch = batch_json(settings, visible_batch(settings, principal, batch_id), principal)
    counts: dict[str, int] = {}
    for d in batch["dossiers"]:
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    tally = [(str(s), counts[s]) for s in DossierStatus if counts.get(s)]
    return service.render(request, "batch.html", principal, batch=batch, tally=tally)


@router.post("/ops/accounts/{user_name}/unlock")
def unlock_page(user_name: str, service: Service, principal: OperatorPage) -> Response:
    # Cookie posts are same-origin only (app.auth): no other site can unlock anyone.
    unlock_account(service.settings, user_name)
    return RedirectResponse("/ops#locked", status_code=303)


@router.post("/ops/push/{outbox_id}/resend")
def resend(outbox_id: int, service: Service, principal: OperatorPage) -> Response:
    """A dead letter (issue 27) due again now."""
    if not metadata_store(service.settings).resend(outbox_id, actor=principal.name):
        raise HTTPException(404, "no such dead letter")
    return RedirectResponse(f"/ops?resent={outbox_id}#dead-letters", status_code=303)


async def chosen_ids(request: Request) -> tuple[list[str], dict[str, str]]:
    """The ids ticked (each once, in order) and the form's other fields."""
    async with request.form(max_files=0, max_fields=MAX_CHOSEN + 8, max_part_size=4096) as data:
        ids = list(dict.fromkeys(str(v) for v in data.getlist("id")))
        rest = {k: str(v).strip() for k, v in data.items() if k != "id"}
    if len(ids) > MAX_CHOSEN:
        raise HTTPException(422, f"at most {MAX_CHOSEN} dossiers at once")
    return ids, rest


def confirm_page(
    request: Request,
    service: Service,
    principal: Principal,
    *,
    question: str,
    action: str,
    back: str,
    dossiers: list[DossierInfo],
    keep: dict[str, str],
) -> Response:
    return service.render(
        request, "confirm.html", principal, question=question, action=action, back=back,
        dossiers=dossiers, keep=keep,
    )  # fmt: skip


@router.post("/ops/bulk/dismiss")
async def bulk_dismiss(request: Request, service: Service, principal: OperatorPage) -> Response:
    ids, form = await chosen_ids(request)
    reasons = service.messages.sections.get("dismiss", {})
    reason, note = form.get("reason", ""), form.get("note", "")[:2000]
    if reason not in reasons:
        raise HTTPException(422, "not a dismissal reason")
    dossiers = [visible_dossier(service.settings, principal, i) for i in ids]
    if form.get("confirm") != "1" or not dossiers:
        question = service.messages.ui("confirm_dismiss", n=len(dossiers), reason=reasons[reason])
        return confirm_page(
            request, service, principal, question=question, action="/ops/bulk/dismiss",
            back="/ops/review", dossiers=dossiers, keep={"reason": reason, "note": note},
        )  # fmt: skip
    words = reasons[reason] + (f" ({note})" if note else "")
    meta = metadata_store(service.settings)
    # One settled meanwhile (corrected or dismissed by someone else) is left as it is.
    waiting = [d for d in dossiers if d.needs_review]
    for dossier in waiting:
        meta.dismiss_review(dossier.dossier_id, reason=words, dismissed_by=principal.name)
    return RedirectResponse(f"/ops/review?dismissed={len(waiting)}", status_code=303)


@router.post("/ops/bulk/retry")
async def bulk_retry(request: Request, service: Service, principal: OperatorPage) -> Response:
    ids, form = await chosen_ids(request)
    dossiers = [visible_dossier(service.settings, principal, i) for i in ids]
    if form.get("confirm") != "1" or not dossiers:
        return confirm_page(
            request, service, principal,
            question=service.messages.ui("confirm_retry", n=len(dossiers)),
            action="/ops/bulk/retry", back="/ops", dossiers=dossiers, keep={},
        )  # fmt: skip
    sent = 0
    for dossier in dossiers:
        try:
            retry_dossier(service.settings, service.runner, dossier, principal)
            sent += 1
        except HTTPException as exc:  # retried meanwhile (by someone else): left as is
            if exc.status_code != 409:
                raise
    return RedirectResponse(f"/ops?retried_n={sent}&chosen={len(dossiers)}", status_code=303)
