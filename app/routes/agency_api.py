"""What an agency retrieves (operators too): dossiers found, read, downloaded, handed off,
and the status it sends back. An agency only ever sees dossiers routed to it, and anything
else is answered 404, exactly as a dossier that does not exist, so ids cannot be probed.
The counter that uploaded a dossier may also open its PDF, original and page images (to
check its scan, issue 26). Downloads stream from the store, checked against the manifest.

Issue 27: ``GET /api/dossiers/{id}/handoff`` is the archived dossier as ``pipeline.portal``
maps it; ``POST /api/dossiers/{id}/status`` (the agency's token only, its own archived
dossiers) is ``{"status": "received|in_progress|result_ready|returned", "at", "note"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import cv2
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from app.auth import AgencyOnly, Anyone, Reader, scoped_query, signed_in, visible_dossier
from app.originals import served_original
from app.page_images import upright_page
from app.routes.state import Service
from app.search_query import search_query
from app.security import internal_error, new_error_id
from app.views import dossier_json, download_name
from config import Settings
from flows.handoff import HandoffError, handoff_document
from flows.runtime import metadata_store, object_store
from models import DossierInfo, DossierStatus, Principal
from models.errors import ObjectNotFoundError, StorageError
from models.push import AgencyStatus, StatusReport
from models.search import MAX_OFFSET
from storage import keys
from storage.archive import checked_chunks, verified_stream

log = logging.getLogger("sohoa.service")

router = APIRouter(tags=["agency"], dependencies=[Depends(signed_in)])


class StatusBody(BaseModel):
    status: AgencyStatus
    at: datetime | None = Field(default=None, description="When, by the agency's clock")
    note: str | None = Field(default=None, max_length=500)


def base_url(settings: Settings, request: Request) -> str:
    return settings.public_base_url or str(request.base_url)


@router.get("/api/dossiers")
def search_dossiers(
    service: Service,
    principal: Reader,
    code: Annotated[str | None, Query(max_length=64)] = None,
    id_number: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    agency: Annotated[str | None, Query(max_length=32)] = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    text: Annotated[
        str | None, Query(max_length=200, description="At most 20 words, 200 characters.")
    ] = None,
    status: DossierStatus | None = None,
    needs_review: bool | None = None,
    received_on_from: Annotated[
        date | None, Query(description="The day on the receipt (its code), from.")
    ] = None,
    received_on_to: date | None = None,
    sort: Annotated[str, Query(pattern="^(newest|oldest|code|name|relevance)$")] = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    try:
        query = search_query(
            code=code, id_number=id_number, name=name, procedure=procedure, agency=agency,
            received_from=received_from, received_to=received_to, text=text, status=status,
            needs_review=needs_review, paper_from=received_on_from, paper_to=received_on_to,
            limit=limit, offset=offset, sort=sort,
        )  # fmt: skip
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    page = metadata_store(service.settings).search(scoped_query(principal, query))
    return {
        "limit": page.limit,
        "offset": page.offset,
        "has_more": page.has_more,
        "dossiers": [d.summary() for d in page.items],
    }


@router.get("/api/dossiers/{dossier_id}")
def get_dossier(dossier_id: str, service: Service, principal: Reader) -> dict[str, Any]:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    return dossier_json(service.settings, principal, dossier)


def archived_object(
    settings: Settings, principal: Principal, dossier_id: str, key_of: Callable[[str], str]
) -> tuple[DossierInfo, int, Iterator[bytes]]:
    """(dossier, size, chunks) of an archived dossier's object, checked against its
    manifest."""
    dossier = visible_dossier(settings, principal, dossier_id)
    if dossier.status is not DossierStatus.ARCHIVED:
        raise HTTPException(409, f"dossier {dossier_id} is not archived ({dossier.status})")
    try:
        size, chunks = verified_stream(object_store(settings), dossier_id, key_of(dossier_id))
        return dossier, size, chunks
    except ObjectNotFoundError:
        raise HTTPException(404, "no such object") from None
    except StorageError as exc:
        error_id = new_error_id()
        log.error("error %s: refused to serve %s: %s", error_id, dossier_id, exc.message)
        raise HTTPException(500, internal_error(error_id)) from None


def attachment(size: int, chunks: Iterator[bytes], media_type: str, filename: str) -> Response:
    # Chunk by chunk from the store: ten slow readers of a large original hold ten
    # chunks in memory, not ten originals.
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@router.get("/api/dossiers/{dossier_id}/pdf")
def get_pdf(
    dossier_id: str, service: Service, principal: Anyone, redirect: bool = False
) -> Response:
    """The searchable PDF; ``redirect=true`` answers with a short-lived presigned URL
    on S3 (after the same access check). Also for the counter that uploaded the
    dossier (to check its scan, issue 26), like its page images and original."""
    settings = service.settings
    if redirect:
        visible_dossier(settings, principal, dossier_id)
        presign = getattr(object_store(settings), "presigned_url", None)
        if presign is not None:
            return RedirectResponse(presign(keys.pdf_key(dossier_id), expires_s=120), 307)
    dossier, size, chunks = archived_object(settings, principal, dossier_id, keys.pdf_key)
    return attachment(size, chunks, "application/pdf", download_name(dossier, ".pdf"))


@router.get("/api/dossiers/{dossier_id}/original")
def get_original(
    dossier_id: str, service: Service, principal: Anyone, stack: bool = False
) -> Response:
    """A split dossier's own pages of its stack; ``stack=true``: the whole scanned
    file (operators only). See app/originals.py."""
    settings = service.settings
    dossier = visible_dossier(settings, principal, dossier_id)
    key, vouched = served_original(settings, principal, dossier, whole_stack=stack)
    name = download_name(dossier, f"-goc{Path(key).suffix}")
    if vouched:
        dossier, size, chunks = archived_object(settings, principal, dossier_id, lambda _id: key)
        return attachment(size, chunks, dossier.media_type or "application/octet-stream", name)
    objects = object_store(settings)
    try:
        stored = objects.stat(key)
    except ObjectNotFoundError:
        raise HTTPException(404, "no stored original") from None
    expected = dossier.original_sha256 or ""
    if expected and stored.sha256 != expected:
        error_id = new_error_id()
        log.error("error %s: original %s is not the bytes received", error_id, key)
        raise HTTPException(500, internal_error(error_id))
    chunks = checked_chunks(objects.iter_chunks(key), expected, key)
    return attachment(stored.size, chunks, dossier.media_type or "application/octet-stream", name)


@router.get("/api/dossiers/{dossier_id}/fields")
def get_fields(dossier_id: str, service: Service, principal: Reader) -> dict[str, Any]:
    """The fields as they stand now (operators' corrections included)."""
    dossier = visible_dossier(service.settings, principal, dossier_id)
    data = dossier_json(service.settings, principal, dossier)
    return {
        "dossier_id": dossier_id,
        "fields": data["fields"],
        "needs_review": dossier.needs_review,
    }


@router.get("/api/dossiers/{dossier_id}/text")
def get_text(dossier_id: str, service: Service, principal: Reader) -> Response:
    _dossier, size, chunks = archived_object(service.settings, principal, dossier_id, keys.text_key)
    return StreamingResponse(
        chunks, media_type="text/plain; charset=utf-8", headers={"Content-Length": str(size)}
    )


@router.get("/api/dossiers/{dossier_id}/pages/{number}.jpg")
def get_page_image(dossier_id: str, number: int, service: Service, principal: Anyone) -> Response:
    dossier = visible_dossier(service.settings, principal, dossier_id)
    image = upright_page(service.settings, dossier, number)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise HTTPException(500, "cannot encode the page image")
    return Response(encoded.tobytes(), media_type="image/jpeg")


@router.get("/api/dossiers/{dossier_id}/fields/{name}/handwriting.png")
def field_handwriting(dossier_id: str, name: str, service: Service, principal: Reader) -> Response:
    """The stored crop of a handwritten value, for whoever may see the dossier's pages.

    Only the key recorded on the dossier's own field is ever read (never one from the
    request), and it is checked against the dossier's manifest as it streams.
    """
    dossier = visible_dossier(service.settings, principal, dossier_id)
    field = next((f for f in dossier.field_details if f.name == name), None)
    if field is None or not field.crop_key:
        raise HTTPException(404, "no handwritten area for this field")
    crop_key = field.crop_key
    _dossier, size, chunks = archived_object(
        service.settings, principal, dossier_id, lambda _id: crop_key
    )
    return StreamingResponse(chunks, media_type="image/png", headers={"Content-Length": str(size)})


@router.get("/api/dossiers/{dossier_id}/handoff")
def handoff(
    request: Request, dossier_id: str, service: Service, principal: Reader
) -> dict[str, Any]:
    """The dossier in the national portal's DongBoHoSoMC shape; codes not known are
    empty and named in ``ThieuMa``."""
    settings = service.settings
    visible_dossier(settings, principal, dossier_id)
    try:
        return handoff_document(settings, dossier_id, base_url(settings, request))
    except HandoffError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.post("/api/dossiers/{dossier_id}/status", status_code=201)
def status(
    dossier_id: str, body: StatusBody, service: Service, principal: AgencyOnly
) -> dict[str, Any]:
    """The agency's word on where the dossier is, shown to the counter that took it in."""
    dossier = visible_dossier(service.settings, principal, dossier_id)  # its own, archived
    at = body.at or datetime.now(UTC)
    if at.tzinfo is None:
        raise HTTPException(422, "at: give a time zone (e.g. +07:00)")
    assert principal.agency_code is not None
    metadata_store(service.settings).record_agency_status(
        StatusReport(dossier.dossier_id, principal.agency_code, str(body.status), at, body.note)
    )
    return {"dossier_id": dossier.dossier_id, "status": str(body.status), "at": at.isoformat()}
