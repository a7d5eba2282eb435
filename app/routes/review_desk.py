"""The operators' review desk (issue 14, 29): the queue of dossiers a person must check,
their corrections, dismissals and retries. A refused correction comes back on its own form
with what was typed, never on a bare error page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth import OperatorPage, operator_page, visible_dossier
from app.review import (
    RELATED_FIELDS,
    CorrectionRefused,
    apply_correction,
    checked_correction,
    retry_dossier,
    review_items,
)
from app.routes.state import Service, ServiceState
from config import Settings
from flows.runtime import metadata_store
from models import Principal
from models.codes import receiving_unit
from models.errors import DossierNotFoundError
from models.search import MAX_OFFSET
from storage import keys

router = APIRouter(include_in_schema=False, dependencies=[Depends(operator_page)])

# The review desk's reason filter looks at this many waiting dossiers (newest first).
REVIEW_WINDOW = 200
PAGE_SIZE = 20


def _has_reason(item: dict[str, Any], name: str) -> bool:
    """A review item is there (also) because of field ``name``."""
    return any(r.partition(":")[0] == name for r in item["reasons"]) or any(
        f["name"] == name and not f.get("related") for f in item["fields"]
    )


def _code_of(settings: Settings, dossier_id: str) -> str:
    """What the operator files a dossier under (its code), for the line saying it was saved;
    its id only when it has no code."""
    if not dossier_id:
        return ""
    try:
        keys.check_id(dossier_id)
        return metadata_store(settings).get_dossier(dossier_id).dossier_code or dossier_id
    except (ValueError, DossierNotFoundError):
        return dossier_id


def queue_page(
    settings: Settings, *, reason: str, procedure: str, age: int, page: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the review queue, filtered; and whether another page follows."""
    before = datetime.now(UTC) - timedelta(days=age) if age else None
    if reason:
        # Reasons are a list per dossier: filtered here, over a bounded window of the
        # queue (REVIEW_WINDOW dossiers), then paged.
        window = review_items(
            settings, limit=REVIEW_WINDOW, offset=0, procedure=procedure or None,
            received_before=before,
        )  # fmt: skip
        matching = [item for item in window if _has_reason(item, reason)]
        start = (page - 1) * PAGE_SIZE
        return matching[start : start + PAGE_SIZE], len(matching) > start + PAGE_SIZE
    found = review_items(
        settings, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
        procedure=procedure or None, received_before=before,
    )  # fmt: skip
    return found[:PAGE_SIZE], len(found) > PAGE_SIZE


def refused_first(items: list[dict[str, Any]], refused: dict[str, Any]) -> list[dict[str, Any]]:
    """The refused item first, its typed values back in its form (issue 29: it landed on
    a bare error page with no way back but the browser's)."""
    items = [i for i in items if i["dossier_id"] == refused["dossier_id"]] + [
        i for i in items if i["dossier_id"] != refused["dossier_id"]
    ]
    for item in items[:1]:
        if item["dossier_id"] == refused["dossier_id"]:
            item["refused"] = refused["message"]
            for field in item.get("fields", []):
                if field["name"] in refused["values"]:
                    field["value"] = refused["values"][field["name"]]
                    field["typed"] = True
    return items


def review_response(
    request: Request,
    service: ServiceState,
    principal: Principal,
    *,
    done: str = "",
    reason: str = "",
    procedure: str = "",
    age: int = 0,
    page: int = 1,
    refused: dict[str, Any] | None = None,
    dismissed: int = 0,
) -> Response:
    settings, messages = service.settings, service.messages
    items, has_more = queue_page(settings, reason=reason, procedure=procedure, age=age, page=page)
    shown = None
    if refused is not None:
        items = refused_first(items, refused)
        shown = {"id": _code_of(settings, refused["dossier_id"]), "message": refused["message"]}
    response = service.render(
        request, "review.html", principal, items=items, done=_code_of(settings, done),
        refused=shown, dismissed=dismissed,
        form={"reason": reason, "procedure": procedure, "age": age}, page=page,
        has_more=has_more,
        reasons=sorted(messages.sections["field"].items()),
        procedures=sorted(messages.procedures.items(), key=lambda p: p[1]),
        dismiss_reasons=list(messages.sections.get("dismiss", {}).items()),
    )  # fmt: skip
    if refused is not None:
        response.status_code = 422
    return response


@router.get("/ops/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    service: Service,
    principal: OperatorPage,
    done: Annotated[str, Query(max_length=64)] = "",
    reason: Annotated[str, Query(max_length=64, pattern=r"^[a-z_]*$")] = "",
    procedure: Annotated[str, Query(max_length=64)] = "",
    age: Annotated[int, Query(ge=0, le=3650)] = 0,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET // PAGE_SIZE + 1)] = 1,
    dismissed: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> Response:
    return review_response(
        request, service, principal, done=done, reason=reason, procedure=procedure, age=age,
        page=page, dismissed=dismissed,
    )  # fmt: skip


@router.post("/ops/review/{dossier_id}")
async def review_save(
    request: Request, dossier_id: str, service: Service, principal: OperatorPage
) -> Response:
    """Every field of one review item at once (a CCCD number, sex and date of birth that
    disagree are corrected together). A flagged field sent unchanged is confirmed."""
    settings = service.settings
    dossier = visible_dossier(settings, principal, dossier_id)
    async with request.form(max_files=0, max_fields=40, max_part_size=4096) as data:
        values = {
            key.removeprefix("value."): str(value).strip()
            for key, value in data.items()
            if key.startswith("value.")
        }
        # "Not on the papers", ticked under a field: recorded so nobody asks for it again.
        absent = {
            key.removeprefix("not_on_papers.") for key in data if key.startswith("not_on_papers.")
        }
        note = str(data.get("note", "")).strip()[:2000]
    flagged = {f.name for f in dossier.field_details if f.needs_review} | {
        r.partition(":")[0] for r in dossier.review_reasons
    }
    editable = set(flagged)
    for group in RELATED_FIELDS:
        if not editable.isdisjoint(group):
            editable.update(group)
    current = {f.name: f.value for f in dossier.field_details}
    changes: list[tuple[str, str, bool]] = []  # name, value, not on the papers
    for name in sorted(set(values) | absent):
        value = values.get(name, "")
        if name not in editable or not re.fullmatch(r"[a-z_]{1,64}", name):
            raise HTTPException(422, "not a field under review")
        if len(value) > 2000:
            raise HTTPException(422, "value too long")
        if name in absent:
            changes.append((name, "", True))
        elif value and (name in flagged or value != current.get(name)):
            # Checked by type, an ID against the birth date and sex sent with it. All
            # are checked before any is saved: one wrong value saves nothing.
            try:
                checked = checked_correction(
                    dossier, name, value, values, messages=service.messages
                )
            except CorrectionRefused as refusal:
                refused = {"dossier_id": dossier_id, "message": str(refusal.detail)}
                return review_response(
                    request, service, principal, refused={**refused, "values": values}
                )
            # A related field sent as shown (a date as dd/mm/yyyy) is no correction.
            if name in flagged or checked != current.get(name):
                changes.append((name, checked, False))
    meta = metadata_store(settings)
    for name, value, not_on_papers in changes:
        meta.correct_field(
            dossier_id,
            name,
            value,
            corrected_by=principal.name,
            note=note or None,
            not_on_papers=not_on_papers,
        )
    return RedirectResponse(f"/ops/review?done={dossier_id}", status_code=303)


@router.post("/ops/dismiss/{dossier_id}")
def review_dismiss(
    dossier_id: str,
    service: Service,
    principal: OperatorPage,
    reason: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    visible_dossier(service.settings, principal, dossier_id)
    # Why an operator closes a review without a correction, in the catalogue's words
    # (the history shows them as they were when written).
    reasons = service.messages.sections.get("dismiss", {})
    if reason not in reasons:
        raise HTTPException(422, "not a dismissal reason")
    words = reasons[reason] + (f" ({note.strip()})" if note.strip() else "")
    metadata_store(service.settings).dismiss_review(
        dossier_id, reason=words, dismissed_by=principal.name
    )
    return RedirectResponse(f"/ops/review?done={dossier_id}", status_code=303)


@router.post("/ops/review/{dossier_id}/{name}")
def review_correct(
    request: Request,
    dossier_id: str,
    name: str,
    service: Service,
    principal: OperatorPage,
    value: Annotated[str, Form(max_length=2000)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    not_on_papers: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    try:
        apply_correction(
            service.settings,
            dossier,
            name,
            value,
            corrected_by=principal.name,
            note=note or None,
            not_on_papers=bool(not_on_papers),
        )
    except CorrectionRefused as refusal:
        refused = {"dossier_id": dossier_id, "message": str(refusal.detail)}
        return review_response(
            request, service, principal, refused={**refused, "values": {name: value}}
        )
    return RedirectResponse(f"/ops/review?done={dossier_id}", status_code=303)


@router.post("/ops/route/{dossier_id}")
def review_route(
    dossier_id: str,
    service: Service,
    principal: OperatorPage,
    agency: Annotated[str, Form(max_length=32)],
) -> Response:
    """The agency that receives a dossier whose code names another unit: the one chosen
    at upload, or the code's own unit; nothing else can be sent."""
    dossier = visible_dossier(service.settings, principal, dossier_id)
    choices = {dossier.agency_code, receiving_unit(dossier.dossier_code or "")} - {None}
    if agency not in choices:
        raise HTTPException(422, "not one of the dossier's two agencies")
    metadata_store(service.settings).route_dossier(
        dossier_id, agency_code=agency, routed_by=principal.name
    )
    return RedirectResponse(f"/ops/review?done={dossier_id}", status_code=303)


@router.post("/ops/retry/{dossier_id}")
def ops_retry(dossier_id: str, service: Service, principal: OperatorPage) -> Response:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    retry_dossier(service.settings, service.runner, dossier, principal)
    return RedirectResponse(f"/ops?retried={dossier_id}", status_code=303)
