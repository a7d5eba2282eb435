"""Operators' review: the queue, checked corrections, retries."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field

from app.i18n import Messages
from app.runner import BatchRunner
from app.views import messages_for
from config import Settings
from flows.runtime import metadata_store
from models import DossierInfo, DossierStatus, FieldCorrection, Principal, SearchQuery
from models.codes import receiving_unit
from pipeline.reasons import parse_reason
from pipeline.validate import CorrectionRefusal, check_correction


class CorrectionRefused(HTTPException):
    """A correction that is not a value of its field: the reason in the catalogue's words
    (pipeline.validate.check_correction gives its code), shown on the page as is."""

    def __init__(self, refusal: CorrectionRefusal, messages: Messages) -> None:
        super().__init__(422, messages.correction(refusal))


class Correction(BaseModel):
    value: str = Field(default="", max_length=2000)
    note: str | None = Field(default=None, max_length=2000)
    # The value is on none of the papers: recorded as such, so nobody asks for it again.
    not_on_papers: bool = False


def checked_correction(
    dossier: DossierInfo,
    name: str,
    value: str,
    alongside: dict[str, str] | None = None,
    *,
    messages: Messages,
) -> str:
    """``value`` for field ``name`` checked by its type (a 422 with the reason if wrong).

    An ID number is checked against the birth date and sex corrected with it
    (``alongside``), else those of the dossier nobody is asked to review: a doubtful birth
    date must not block the right ID.
    """
    if not re.fullmatch(r"[a-z_]{1,64}", name):
        raise HTTPException(422, "not a field name")
    settled = {f.name: f.value for f in dossier.field_details if not f.needs_review}
    settled.update({k: v for k, v in (alongside or {}).items() if v})
    try:
        birth = date.fromisoformat(settled.get("date_of_birth", ""))
    except ValueError:
        birth = None
    checked, problem = check_correction(name, value, date_of_birth=birth, sex=settled.get("sex"))
    if checked is None:
        raise CorrectionRefused(problem or CorrectionRefusal("invalid"), messages)
    return checked


def apply_correction(
    settings: Settings,
    dossier: DossierInfo,
    name: str,
    value: str,
    *,
    corrected_by: str,
    note: str | None,
    not_on_papers: bool = False,
) -> FieldCorrection:
    """An operator's correction, checked by the field's type first (422 with the reason).

    An ID number is checked against the birth date and sex the dossier holds, but only
    those nobody is asked to review: a doubtful birth date must not block the right ID.
    """
    if not not_on_papers:
        value = checked_correction(dossier, name, value, messages=messages_for(settings))
    elif not re.fullmatch(r"[a-z_]{1,64}", name):
        raise HTTPException(422, "not a field name")
    return metadata_store(settings).correct_field(
        dossier.dossier_id,
        name,
        value,
        corrected_by=corrected_by,
        note=note,
        not_on_papers=not_on_papers,
    )


def review_items(
    settings: Settings,
    *,
    limit: int,
    offset: int,
    procedure: str | None = None,
    received_before: datetime | None = None,
) -> list[dict[str, Any]]:
    meta = metadata_store(settings)
    page = meta.search(
        SearchQuery(
            needs_review=True,
            status=DossierStatus.ARCHIVED,
            procedure=procedure,
            received_to=received_before,
            limit=limit,
            offset=offset,
        )
    )
    items: list[dict[str, Any]] = []
    for summary in page.items:
        dossier = meta.get_dossier(summary.dossier_id)
        items.append(
            {
                "dossier_id": dossier.dossier_id,
                "dossier_code": dossier.dossier_code,
                "source": dossier.source_name,
                "reasons": list(dossier.review_reasons),
                "reason_details": [
                    dict(zip(("field", "code", "text"), parse_reason(r), strict=True))
                    for r in dossier.review_reasons
                ],
                "fields": [
                    {
                        "name": f.name,
                        "value": f.value,
                        "source": f.source,
                        "confidence": round(f.confidence, 3),
                        "note": f.note,
                        # The located value's surroundings; a handwritten field has no value
                        # to locate: its stored crop is the evidence instead.
                        "crop": (
                            f"/api/dossiers/{dossier.dossier_id}/fields/{f.name}/crop.jpg"
                            if f.value
                            else None
                        ),
                        "state": str(f.state),
                        "handwriting": (
                            f"/api/dossiers/{dossier.dossier_id}/fields/{f.name}/handwriting.png"
                            if f.crop_key
                            else None
                        ),
                        "suggestion": f.suggestion,
                        "suggestion_confidence": f.suggestion_confidence,
                        "candidates": [c.to_json() for c in f.candidates],
                    }
                    for f in dossier.field_details
                    if f.needs_review
                ]
                + _missing_fields(dossier),
                "procedure": dossier.procedure,
                "received": dossier.created_at.isoformat(),
                # A code of another unit than the agency chosen at upload: the two agencies
                # the operator chooses between (issue 29: it could not be resolved).
                "routing": _routing(dossier),
            }
        )
        shown: list[dict[str, Any]] = items[-1]["fields"]
        shown += _related_fields(dossier, shown)
    return items


def _routing(dossier: DossierInfo) -> dict[str, str] | None:
    if not any(": agency_mismatch: " in r for r in dossier.review_reasons):
        return None
    unit = receiving_unit(dossier.dossier_code or "")
    if not unit or not dossier.agency_code or unit == dossier.agency_code:
        return None
    return {"current": dossier.agency_code, "unit": unit}


# Fields that check each other: the CCCD number encodes sex and birth year, so a conflict
# flags one of them and is resolved by correcting any of the three.
RELATED_FIELDS = (("id_number", "sex", "date_of_birth"),)


def _related_fields(dossier: DossierInfo, shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The other members of a group one of whose fields is under review, editable beside it
    (their values as they stand, or empty)."""
    names = {f["name"] for f in shown}
    values = {f.name: f for f in dossier.field_details}
    extra = []
    for group in RELATED_FIELDS:
        if names.isdisjoint(group):
            continue
        for name in group:
            if name in names:
                continue
            names.add(name)
            field = values.get(name)
            extra.append(
                {"name": name, "value": field.value if field else "",
                 "source": field.source if field else "-",
                 "confidence": round(field.confidence, 3) if field else 0.0,
                 "note": None, "crop": None, "related": True}
            )  # fmt: skip
    return extra


def _missing_fields(dossier: DossierInfo) -> list[dict[str, Any]]:
    """Reasons like "phone: not found" name a field with no value yet: offer to enter it."""
    present = {f.name for f in dossier.field_details}
    missing = []
    for reason in dossier.review_reasons:
        name, _, note = reason.partition(":")
        if re.fullmatch(r"[a-z_]{1,64}", name) and name not in present:
            missing.append(
                {"name": name, "value": "", "source": "-", "confidence": 0.0,
                 "note": note.strip(), "crop": _page_for(dossier, name), "state": "missing",
                 "handwriting": None, "suggestion": None, "suggestion_confidence": None,
                 "candidates": []}
            )  # fmt: skip
    return missing


def _page_for(dossier: DossierInfo, name: str) -> str | None:
    """The page a missing value should be on (the receipt for the code, else the form; the
    first page when neither is there): with no value to crop, the operator needs the page
    (issue 29: items without a code showed no image at all)."""
    if not dossier.pages:
        return None
    wanted = "receipt" if name == "dossier_code" else "application_form"
    page = next((p for p in dossier.pages if p.kind == wanted), dossier.pages[0])
    return f"/api/dossiers/{dossier.dossier_id}/pages/{page.index + 1}.jpg"


def retry_dossier(
    settings: Settings, runner: BatchRunner, dossier: DossierInfo, principal: Principal
) -> dict[str, Any]:
    """Send a failed (or stuck) dossier's file through processing again."""
    stale = datetime.now(UTC) - timedelta(minutes=30)
    retryable = dossier.status is DossierStatus.FAILED or (
        dossier.status in (DossierStatus.RECEIVED, DossierStatus.PROCESSING)
        and dossier.updated_at < stale
    )
    if not retryable:
        raise HTTPException(409, f"dossier {dossier.dossier_id} is {dossier.status}: no retry")
    meta = metadata_store(settings)
    owner = dossier.file_owner
    meta.set_status(owner, DossierStatus.RECEIVED, "retry requested", actor=principal.name)
    if owner != dossier.dossier_id:
        meta.set_status(
            dossier.dossier_id, DossierStatus.RECEIVED, "retry requested", actor=principal.name
        )
    runner.submit(dossier.batch_id)
    return {"dossier_id": dossier.dossier_id, "status": "received", "batch_id": dossier.batch_id}
