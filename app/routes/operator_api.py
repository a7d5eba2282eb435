"""The operators' JSON desk: the summary, the review queue, a field corrected, a dossier
processed again, where a value sits on its page, a person's account unlocked."""

from __future__ import annotations

from typing import Annotated, Any

import cv2
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from app.accounts import account_json, unlock_account
from app.auth import Operator, operator_only, visible_dossier
from app.page_images import field_crop
from app.review import Correction, apply_correction, retry_dossier, review_items
from app.routes.state import Service
from app.views import ops_data
from models.search import MAX_OFFSET

router = APIRouter(tags=["operator"], dependencies=[Depends(operator_only)])


@router.get("/api/ops/summary")
def ops_summary(service: Service, principal: Operator) -> dict[str, Any]:
    return ops_data(service.settings, request_runner=service.runner)


@router.get("/api/review")
def review_queue(
    service: Service,
    principal: Operator,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return {"dossiers": review_items(service.settings, limit=limit, offset=offset)}


@router.patch("/api/dossiers/{dossier_id}/fields/{name}")
def correct_field(
    dossier_id: str, name: str, correction: Correction, service: Service, principal: Operator
) -> dict[str, Any]:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    done = apply_correction(
        service.settings,
        dossier,
        name,
        correction.value,
        corrected_by=principal.name,
        note=correction.note,
        not_on_papers=correction.not_on_papers,
    )
    return {
        "dossier_id": dossier_id,
        "field": name,
        "old_value": done.old_value,
        "new_value": done.new_value,
        "by": done.corrected_by,
        "at": done.corrected_at.isoformat(),
    }


@router.post("/api/dossiers/{dossier_id}/retry", status_code=202)
def retry(dossier_id: str, service: Service, principal: Operator) -> dict[str, Any]:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    return retry_dossier(service.settings, service.runner, dossier, principal)


@router.get("/api/dossiers/{dossier_id}/fields/{name}/crop.jpg")
def field_crop_image(dossier_id: str, name: str, service: Service, principal: Operator) -> Response:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    crop = field_crop(service.settings, dossier, name)
    if crop is None:
        raise HTTPException(404, "the value was not found on the page images")
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Response(encoded.tobytes() if ok else b"", media_type="image/jpeg")


@router.post("/api/accounts/{user_name}/unlock")
def unlock_api(user_name: str, service: Service, principal: Operator) -> dict[str, Any]:
    return account_json(unlock_account(service.settings, user_name))
