"""A counter's API: its uploads, a dossier rescanned while the citizen waits, the receipt
handed over, and its own batches (operators see every batch too).

Uploads are answered 202 once every original is stored in the object store (and recorded
in the database); processing then runs in the background as a Prefect flow run. An
upload's token and declared size are checked before its body is read (``UPLOAD_PATH``,
``RESCAN_PATH``: ``app.security.UploadGate``); a counter uploads, and signs, only as its own
counter.

``POST /api/dossiers/{id}/rescan``: the counter that took a dossier in (or an operator)
replaces or adds its pages (issue 26, ``flows.rescan``); the file is checked as any upload
is (whole or refused, 422 naming it); the answer is 202 with the submission's number.
Another counter's dossier is a 404, as a missing one is.
"""

from __future__ import annotations

import logging
import re
import shutil
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from app.auth import Anyone, Counter, CounterOrOperator, signed_in, visible_batch, visible_dossier
from app.receipts import ReceiptError, build_receipt, receipt_dossier
from app.routes.state import Service
from app.security import internal_error, new_error_id
from app.uploads import check_uploads, stage_uploads
from app.views import batch_json, download_name
from flows import intake, steps
from flows.rescan import RescanRefused, rescan_dossier
from flows.runtime import metadata_store
from models import BatchInfo, DossierStatus, Role
from models.errors import StorageError
from models.search import MAX_OFFSET
from pipeline.handover import build_receipt_pdf
from storage import keys

log = logging.getLogger("sohoa.service")

UPLOAD_PATH = re.compile("/api/batches")
RESCAN_PATH = re.compile(r"/api/dossiers/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}/rescan")
PAGE_LIST = re.compile(r"\s*\d{1,4}\s*(?:,\s*\d{1,4}\s*){0,63}")

router = APIRouter(tags=["counter"], dependencies=[Depends(signed_in)])


@router.post("/api/batches", status_code=202)
def upload_batch(
    request: Request,
    service: Service,
    principal: Counter,
    files: Annotated[list[UploadFile], File(description="PDF, TIFF, JPEG or PNG scans")],
    agency: Annotated[str, Form(min_length=1, max_length=32)],
    procedure: Annotated[str | None, Form(max_length=64)] = None,
    counter_id: Annotated[
        str | None,
        Form(max_length=64, description="Optional; must be the token's own counter."),
    ] = None,
    post_office_id: Annotated[str | None, Form(max_length=64)] = None,
) -> dict[str, Any]:
    """Store the originals, then answer 202 with the batch id; processing follows.

    The batch's counter (and so the certificate its dossiers are signed with) is the
    token's: naming another counter is refused (403), never believed.
    """
    settings = service.settings
    if counter_id and counter_id != principal.counter_id:
        own = principal.counter_id or "no counter"
        raise HTTPException(
            403, f"this token uploads for {own}; it cannot upload as counter {counter_id}"
        )
    if not files:
        raise HTTPException(400, "no files in the upload")
    if len(files) > settings.max_files_per_batch:
        raise HTTPException(
            413, f"{len(files)} files: at most {settings.max_files_per_batch} per batch"
        )
    batch_id = keys.new_batch_id()
    staging = settings.data_dir / "incoming" / batch_id
    batch = BatchInfo(
        batch_id=batch_id,
        created_at=datetime.now(UTC),
        lang=settings.lang,
        source_count=len(files),
        uploaded_by=principal.name,
        counter_id=principal.counter_id,
        post_office_id=post_office_id,
        agency_code=agency.strip(),
        procedure=procedure or None,
        token_id=principal.token_id,
        uploaded_by_account=principal.user_name,  # the person, when one signed in
    )
    try:
        names, paths, total_bytes = stage_uploads(settings, files, staging)
        documents = check_uploads(settings, names, paths)
        try:
            # Recorded last, in one transaction: a failure before records nothing at all.
            intake.receive_upload(settings, batch, documents)
        except (StorageError, OSError) as exc:
            error_id = new_error_id()
            log.error("error %s: upload %s not stored: %s", error_id, batch_id, exc)
            raise HTTPException(
                503, f"the upload could not be stored; nothing was kept (id {error_id})"
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    service.metrics.uploaded(files=len(paths), size=total_bytes)
    service.runner.submit(batch_id, [steps.SourceRef(path="", name=name) for name in names])
    return batch_json(settings, metadata_store(settings).get_batch(batch_id), principal)


@router.get("/api/batches")
def list_batches(
    service: Service,
    principal: CounterOrOperator,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    settings = service.settings
    token = principal.token_id if principal.role is Role.COUNTER else None
    batches = metadata_store(settings).list_batches(token_id=token, limit=limit, offset=offset)
    return {"batches": [batch_json(settings, b, principal) for b in batches]}


@router.get("/api/batches/{batch_id}")
def get_batch(batch_id: str, service: Service, principal: CounterOrOperator) -> dict[str, Any]:
    settings = service.settings
    return batch_json(settings, visible_batch(settings, principal, batch_id), principal)


@router.post("/api/dossiers/{dossier_id}/rescan", status_code=202)
def rescan(
    dossier_id: str,
    service: Service,
    principal: CounterOrOperator,
    file: Annotated[UploadFile, File(description="the rescanned page(s)")],
    replace: Annotated[
        str,
        Form(max_length=320, description="dossier pages (1-based, comma-separated) it replaces"),
    ] = "",
) -> dict[str, Any]:
    settings = service.settings
    # 404 unless its own counter's (or an operator), decided before it is loaded.
    dossier = visible_dossier(settings, principal, dossier_id)
    if dossier.status is DossierStatus.DUPLICATE:
        raise HTTPException(409, "a duplicate holds no pages of its own: rescan the first")
    if replace.strip() and not PAGE_LIST.fullmatch(replace):
        raise HTTPException(422, "replace: page numbers separated by commas, e.g. 2 or 2,3")
    pages = [int(part) for part in replace.split(",") if part.strip()]
    staging = settings.data_dir / "incoming" / f"rescan-{dossier_id}-{keys.new_batch_id()}"
    try:
        names, paths, _size = stage_uploads(settings, [file], staging)
        (document,) = check_uploads(settings, names, paths)  # 422/415 naming the file
        try:
            result = rescan_dossier(
                settings, dossier_id, document.path, document.name, replace=pages,
                by=principal.name,
            )  # fmt: skip
        except RescanRefused as exc:
            raise HTTPException(409, exc.message) from None
        except StorageError as exc:
            raise HTTPException(409, f"not now: {exc.message}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # Read again even when the batch's other files are still being read right now.
    service.runner.submit_again(result.batch_id)
    return {
        "dossier_id": result.dossier_id,
        "batch_id": result.batch_id,
        "submission": result.number,
        "pages": result.pages,
        "replaces": list(result.replaces),
        "status": "received",
    }


@router.get("/api/dossiers/{dossier_id}/receipt.pdf")
def get_receipt(request: Request, dossier_id: str, service: Service, principal: Anyone) -> Response:
    """The hand-over receipt (biên nhận số hóa): for the counter that uploaded the
    dossier, operators, and its agency once archived (app/receipts.py)."""
    settings = service.settings
    dossier = receipt_dossier(settings, principal, dossier_id)
    base = settings.public_base_url or str(request.base_url)
    try:
        pdf = build_receipt_pdf(build_receipt(settings, dossier, base_url=base))
    except ReceiptError as exc:
        error_id = new_error_id()
        log.error("error %s: no receipt for %s: %s", error_id, dossier_id, exc.message)
        raise HTTPException(500, internal_error(error_id)) from None
    name = download_name(dossier, "-bien-nhan.pdf")
    return Response(
        pdf, media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )  # fmt: skip
