"""The HTTP service: counters upload, agencies retrieve, operators monitor.

One FastAPI app serves the JSON API (``/api/...``, schema at ``/openapi.json``), the web
pages (server-rendered, in ``app/templates``) and Prometheus metrics. Every route names
the roles it admits; an agency only ever sees dossiers routed to it, and anything else is
answered 404, exactly as a dossier that does not exist, so ids cannot be probed.

Uploads are answered 202 once every original is stored in the object store (and recorded
in the database); processing then runs in the background as a Prefect flow run.

Against a hostile caller: an upload's token and declared size are checked before its body
is read (``app.security.UploadGate``); a counter uploads, and signs, only as its own
counter; downloads stream from the store; a page session is its own short-lived id, and a
state-changing request made with it must come from the service's own pages.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import cv2
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.auth import (
    Anyone,
    Counter,
    CounterOrOperator,
    NotSignedIn,
    Operator,
    Reader,
    _authenticate,
    require,
    scoped_query,
    text_query,
    visible_batch,
    visible_dossier,
)
from app.handoff_api import handoff_router
from app.originals import served_original
from app.page_images import _field_crop, _upright_page
from app.rescan_api import RESCAN_PATH, rescan_router
from app.review import Correction, apply_correction, retry_dossier, review_items
from app.runner import BatchRunner
from app.security import (
    MAX_OTHER_BODY,
    MULTIPART_ALLOWANCE,
    BodyLimit,
    SecurityHeaders,
    UploadGate,
    internal_error,
    new_error_id,
)
from app.uploads import _check_uploads, _stage
from app.views import batch_json, dossier_json, download_name, ops_data
from config import Settings
from flows import intake, steps
from flows.runtime import metadata_store, object_store
from models import (
    BatchInfo,
    DossierInfo,
    DossierStatus,
    Principal,
    Role,
    SearchQuery,
)
from models.errors import ObjectNotFoundError, StorageError
from models.search import MAX_OFFSET
from storage import keys
from storage.archive import checked_chunks, verified_stream

log = logging.getLogger("sohoa.service")

HERE = Path(__file__).resolve().parent
UPLOAD_PATH = re.compile("/api/batches")


def create_app(settings: Settings, *, runner: BatchRunner | None = None) -> FastAPI:
    from app.metrics import UNMATCHED, Metrics

    app = FastAPI(
        title="sohoa",
        version="0.1.0",
        description="Digitised dossiers: counters upload, agencies retrieve, operators monitor.",
    )
    app.state.settings = settings
    app.state.runner = runner or BatchRunner(settings)
    metrics = Metrics(settings)
    app.state.metrics = metrics
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # Innermost first: the gate sees an upload before its body is read, the metrics see
    # every answer (the gate's refusals too), the headers go on everything.
    app.add_middleware(
        UploadGate,
        paths=[
            (UPLOAD_PATH, frozenset({Role.COUNTER})),
            (RESCAN_PATH, frozenset({Role.COUNTER, Role.OPERATOR})),
        ],
        max_body=lambda: settings.max_upload_bytes + MULTIPART_ALLOWANCE,
        authenticate=_authenticate,
    )
    # Every other body (forms, JSON) is small: bounded before FastAPI reads it whole.
    app.add_middleware(
        BodyLimit,
        max_body=MAX_OTHER_BODY,
        upload_paths=re.compile(f"{UPLOAD_PATH.pattern}|{RESCAN_PATH.pattern}"),
    )

    @functools.cache
    def known_routes() -> frozenset[str]:  # every route is added before the first request
        return frozenset(str(getattr(route, "path", "")) for route in app.routes)

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        began = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        metrics.observe_request(
            request.method,
            getattr(route, "path", UNMATCHED),
            response.status_code,
            time.perf_counter() - began,
            routes=known_routes(),
        )
        return response

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(NotSignedIn)
    async def to_login(request: Request, _exc: NotSignedIn) -> Response:
        # Back to the same page after signing in, its query included (a filtered queue).
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    # --- counters ---------------------------------------------------------------------

    app.include_router(rescan_router(settings))
    app.include_router(handoff_router(settings))  # issue 27: handoff, papers, status, resend

    @app.post("/api/batches", status_code=202, tags=["counter"])
    def upload_batch(
        request: Request,
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
            names, paths, total_bytes = _stage(settings, files, staging)
            documents = _check_uploads(settings, names, paths)
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
        metrics.uploaded(files=len(paths), size=total_bytes)
        sources = [steps.SourceRef(path="", name=name) for name in names]
        request.app.state.runner.submit(batch_id, sources)
        return batch_json(settings, metadata_store(settings).get_batch(batch_id), principal)

    @app.get("/api/batches", tags=["counter"])
    def list_batches(
        principal: CounterOrOperator,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        token = principal.token_id if principal.role is Role.COUNTER else None
        batches = metadata_store(settings).list_batches(token_id=token, limit=limit, offset=offset)
        return {"batches": [batch_json(settings, b, principal) for b in batches]}

    @app.get("/api/batches/{batch_id}", tags=["counter"])
    def get_batch(batch_id: str, principal: CounterOrOperator) -> dict[str, Any]:
        return batch_json(settings, visible_batch(settings, principal, batch_id), principal)

    # --- agencies ---------------------------------------------------------------------

    @app.get("/api/dossiers", tags=["agency"])
    def search_dossiers(
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
        text_query(text)
        query = scoped_query(
            principal,
            SearchQuery(
                dossier_code=code,
                id_number=id_number,
                name=name,
                procedure=procedure,
                agency_code=agency,
                received_from=received_from,
                received_to=received_to,
                text=text,
                status=status,
                needs_review=needs_review,
                paper_from=received_on_from,
                paper_to=received_on_to,
                limit=limit,
                offset=offset,
                sort=sort,
            ),
        )
        page = metadata_store(settings).search(query)
        return {
            "limit": page.limit,
            "offset": page.offset,
            "has_more": page.has_more,
            "dossiers": [d.summary() for d in page.items],
        }

    @app.get("/api/dossiers/{dossier_id}", tags=["agency"])
    def get_dossier(dossier_id: str, principal: Reader) -> dict[str, Any]:
        dossier = visible_dossier(settings, principal, dossier_id)
        return dossier_json(settings, principal, dossier)

    def _artefact(
        principal: Principal, dossier_id: str, key_of: Callable[[str], str]
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

    def _stream(size: int, chunks: Iterator[bytes], media_type: str, filename: str) -> Response:
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

    @app.get("/api/dossiers/{dossier_id}/pdf", tags=["agency"])
    def get_pdf(dossier_id: str, principal: Anyone, redirect: bool = False) -> Response:
        """The searchable PDF; ``redirect=true`` answers with a short-lived presigned URL
        on S3 (after the same access check). Also for the counter that uploaded the
        dossier (to check its scan, issue 26), like its page images and original."""
        if redirect:
            visible_dossier(settings, principal, dossier_id)
            presign = getattr(object_store(settings), "presigned_url", None)
            if presign is not None:
                return RedirectResponse(presign(keys.pdf_key(dossier_id), expires_s=120), 307)
        dossier, size, chunks = _artefact(principal, dossier_id, keys.pdf_key)
        return _stream(size, chunks, "application/pdf", download_name(dossier, ".pdf"))

    @app.get("/api/dossiers/{dossier_id}/original", tags=["agency"])
    def get_original(dossier_id: str, principal: Anyone, stack: bool = False) -> Response:
        """A split dossier's own pages of its stack; ``stack=true``: the whole scanned
        file (operators only). See app/originals.py."""
        dossier = visible_dossier(settings, principal, dossier_id)
        key, vouched = served_original(settings, principal, dossier, whole_stack=stack)
        if vouched:
            dossier, size, chunks = _artefact(principal, dossier_id, lambda _id: key)
            media = dossier.media_type or "application/octet-stream"
            return _stream(size, chunks, media, download_name(dossier, f"-goc{Path(key).suffix}"))
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
        media_type = dossier.media_type or "application/octet-stream"
        name = download_name(dossier, f"-goc{Path(key).suffix}")
        return _stream(stored.size, chunks, media_type, name)

    @app.get("/api/dossiers/{dossier_id}/fields", tags=["agency"])
    def get_fields(dossier_id: str, principal: Reader) -> dict[str, Any]:
        """The fields as they stand now (operators' corrections included)."""
        dossier = visible_dossier(settings, principal, dossier_id)
        data = dossier_json(settings, principal, dossier)
        return {
            "dossier_id": dossier_id,
            "fields": data["fields"],
            "needs_review": dossier.needs_review,
        }

    @app.get("/api/dossiers/{dossier_id}/receipt.pdf", tags=["counter"])
    def get_receipt(
        request: Request,
        dossier_id: str,
        principal: Anyone,
    ) -> Response:
        """The hand-over receipt (biên nhận số hóa): for the counter that uploaded the
        dossier, operators, and its agency once archived (app/receipts.py)."""
        from app.receipts import ReceiptError, build_receipt, receipt_dossier
        from pipeline.handover import build_receipt_pdf

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

    @app.get("/api/dossiers/{dossier_id}/text", tags=["agency"])
    def get_text(dossier_id: str, principal: Reader) -> Response:
        _dossier, size, chunks = _artefact(principal, dossier_id, keys.text_key)
        return StreamingResponse(
            chunks, media_type="text/plain; charset=utf-8", headers={"Content-Length": str(size)}
        )

    @app.get("/api/dossiers/{dossier_id}/pages/{number}.jpg", tags=["agency"])
    def get_page_image(dossier_id: str, number: int, principal: Anyone) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        image = _upright_page(settings, dossier, number)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise HTTPException(500, "cannot encode the page image")
        return Response(encoded.tobytes(), media_type="image/jpeg")

    # --- operators --------------------------------------------------------------------

    @app.get("/api/ops/summary", tags=["operator"])
    def ops_summary(principal: Operator) -> dict[str, Any]:
        return ops_data(settings, request_runner=app.state.runner)

    @app.get("/api/review", tags=["operator"])
    def review_queue(
        principal: Operator,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        return {"dossiers": review_items(settings, limit=limit, offset=offset)}

    @app.patch("/api/dossiers/{dossier_id}/fields/{name}", tags=["operator"])
    def correct_field(
        dossier_id: str, name: str, correction: Correction, principal: Operator
    ) -> dict[str, Any]:
        dossier = visible_dossier(settings, principal, dossier_id)
        done = apply_correction(
            settings,
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

    @app.post("/api/dossiers/{dossier_id}/retry", status_code=202, tags=["operator"])
    def retry(dossier_id: str, request: Request, principal: Operator) -> dict[str, Any]:
        dossier = visible_dossier(settings, principal, dossier_id)
        return retry_dossier(settings, request.app.state.runner, dossier, principal)

    @app.get("/api/dossiers/{dossier_id}/fields/{name}/crop.jpg", tags=["operator"])
    def field_crop(dossier_id: str, name: str, principal: Operator) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        crop = _field_crop(settings, dossier, name)
        if crop is None:
            raise HTTPException(404, "the value was not found on the page images")
        ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return Response(encoded.tobytes() if ok else b"", media_type="image/jpeg")

    @app.get("/api/dossiers/{dossier_id}/fields/{name}/handwriting.png", tags=["agency"])
    def field_handwriting(dossier_id: str, name: str, principal: Reader) -> Response:
        """The stored crop of a handwritten value, for whoever may see the dossier's pages.

        Only the key recorded on the dossier's own field is ever read (never one from the
        request), and it is checked against the dossier's manifest as it streams.
        """
        dossier = visible_dossier(settings, principal, dossier_id)
        field = next((f for f in dossier.field_details if f.name == name), None)
        if field is None or not field.crop_key:
            raise HTTPException(404, "no handwritten area for this field")
        crop_key = field.crop_key
        _dossier, size, chunks = _artefact(principal, dossier_id, lambda _id: crop_key)
        return StreamingResponse(
            chunks, media_type="image/png", headers={"Content-Length": str(size)}
        )

    @app.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        if not settings.metrics_public:
            require(Role.OPERATOR)(request)
        body, content_type = metrics.render(busy_batches=app.state.runner.busy())
        return Response(body, media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        # The database answers; no count of every dossier for whoever asks, unsigned.
        metadata_store(settings).ping()
        return {"status": "ok"}

    from app.pages import add_pages

    add_pages(app, settings, templates)

    return app
