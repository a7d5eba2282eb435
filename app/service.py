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

import logging
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import cv2
import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from app.i18n import Messages, load_messages
from app.originals import served_original
from app.runner import BatchRunner
from app.security import (
    MULTIPART_ALLOWANCE,
    SecurityHeaders,
    UploadGate,
    internal_error,
    new_error_id,
    same_origin,
)
from config import Settings
from flows import steps
from flows.runtime import metadata_store, object_store
from models import (
    BatchInfo,
    DossierInfo,
    DossierStatus,
    FieldCorrection,
    Principal,
    Role,
    SearchQuery,
    StoredOriginal,
)
from models.errors import DossierNotFoundError, ObjectNotFoundError, SohoaError, StorageError
from models.names import display_name
from models.search import MAX_OFFSET, check_text_query
from pipeline.load import SourceDocument, inspect_source
from pipeline.locate import ValueLocation, locate_value
from pipeline.reasons import parse_reason
from pipeline.validate import check_correction
from storage import keys
from storage.archive import checked_chunks, read_manifest, verified_stream

log = logging.getLogger("sohoa.service")

HERE = Path(__file__).resolve().parent
COOKIE = "sohoa_session"  # a page session's id (never the API token)
CHUNK = 1 << 20
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_PRINCIPAL = "sohoa.principal"  # where a request's authentication is kept once done


# --- auth ---------------------------------------------------------------------------------


class NotSignedIn(Exception):
    """Raised by page routes: the browser is sent to the sign-in page."""


def _authenticate(request: Request) -> Principal | None:
    """Who is calling: an API bearer token, else a page session cookie. Done once per
    request (the upload gate does it before the body; the route reuses the answer)."""
    if _PRINCIPAL in request.scope:
        cached: Principal | None = request.scope[_PRINCIPAL]
        return cached
    principal = _lookup(request)
    request.scope[_PRINCIPAL] = principal
    return principal


def _lookup(request: Request) -> Principal | None:
    meta = metadata_store(request.app.state.settings)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        # A bearer token is never sent by a browser on its own: no cross-site question.
        return meta.authenticate(header[7:].strip())
    session = request.cookies.get(COOKIE)
    if not session:
        return None
    principal = meta.session_principal(session)
    if principal is not None and request.method not in SAFE_METHODS and not same_origin(request):
        # The cookie is SameSite=Strict; the request must also prove it comes from our own
        # pages (Origin, else Referer): corrections, retries, uploads, sign-out.
        raise HTTPException(403, "cross-site request refused")
    return principal


def _role_check(
    roles: tuple[Role, ...], signed_out: Callable[[], Exception]
) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = _authenticate(request)
        if principal is None:
            raise signed_out()
        if principal.role not in roles:
            raise HTTPException(403, f"not allowed for the {principal.role} role")
        return principal

    return dependency


def require(*roles: Role) -> Callable[[Request], Principal]:
    """For the API: no valid token is a 401."""
    return _role_check(
        roles,
        lambda: HTTPException(401, "a valid token is needed", {"WWW-Authenticate": "Bearer"}),
    )


def page_user(*roles: Role) -> Callable[[Request], Principal]:
    """For the pages: no valid token sends the browser to the sign-in page."""
    return _role_check(roles, NotSignedIn)


Counter = Annotated[Principal, Depends(require(Role.COUNTER))]
CounterOrOperator = Annotated[Principal, Depends(require(Role.COUNTER, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require(Role.AGENCY, Role.OPERATOR))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]


# --- visibility ---------------------------------------------------------------------------


def visible_dossier(settings: Settings, principal: Principal, dossier_id: str) -> DossierInfo:
    """The dossier if this principal may see it; 404 otherwise (never 403: no probing)."""
    try:
        keys.check_id(dossier_id)
        dossier = metadata_store(settings).get_dossier(dossier_id)
    except (ValueError, DossierNotFoundError):
        raise HTTPException(404, "no such dossier") from None
    if principal.role is Role.OPERATOR:
        return dossier
    if (
        principal.role is Role.AGENCY
        and dossier.status is DossierStatus.ARCHIVED
        and dossier.agency_code is not None
        and dossier.agency_code == principal.agency_code
    ):
        return dossier
    raise HTTPException(404, "no such dossier")


def visible_batch(settings: Settings, principal: Principal, batch_id: str) -> BatchInfo:
    try:
        keys.check_id(batch_id)
        batch = metadata_store(settings).get_batch(batch_id)
    except (ValueError, DossierNotFoundError):
        raise HTTPException(404, "no such batch") from None
    if principal.role is Role.OPERATOR or (
        principal.role is Role.COUNTER and batch.token_id == principal.token_id
    ):
        return batch
    raise HTTPException(404, "no such batch")


def text_query(text: str | None) -> str | None:
    """A full-text query within its bounds (words, characters), else a plain 422."""
    if text is not None:
        try:
            check_text_query(text)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
    return text


def scoped_query(principal: Principal, query: SearchQuery) -> SearchQuery:
    """An agency searches only its own archived dossiers, whatever it asks for."""
    if principal.role is Role.AGENCY:
        return replace(query, agency_code=principal.agency_code, status=DossierStatus.ARCHIVED)
    return query


# --- JSON shapes --------------------------------------------------------------------------


class CorrectionRefused(HTTPException):
    """A correction that is not a value of its field: the reason is written in Vietnamese
    for the operator (pipeline.validate.check_correction) and shown on the page as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(422, reason)


class UploadRefused(HTTPException):
    """An upload refused for the files named in ``files`` (position, name, the problem and
    its words for the counter): the page takes out exactly those and keeps the rest."""

    def __init__(self, status: int, detail: str, files: list[dict[str, Any]]) -> None:
        super().__init__(status, detail)
        self.files = files


def messages_for(settings: Settings) -> Messages:
    return load_messages(settings.locale, settings.catalogue_path)


def other_unit(dossier_code: str | None, agency_code: str | None) -> str | None:
    """The receiving unit a dossier code names (its part before the date) when it is not
    the agency the batch was sent to: the counter likely picked the wrong agency."""
    if not dossier_code or not agency_code:
        return None
    unit = dossier_code.split("-", 1)[0]
    return unit if "-" in dossier_code and unit != agency_code else None


def batch_json(settings: Settings, batch: BatchInfo) -> dict[str, Any]:
    meta = metadata_store(settings)
    words = messages_for(settings)
    dossiers = meta.batch_dossiers(batch.batch_id)
    per_dossier = meta.pages_done(batch.batch_id)
    # The same sums as MetadataStore.batch_progress, from what is already read here: the
    # upload page polls this every second.
    done, total = sum(per_dossier.values()), sum(d.page_count for d in dossiers)
    finished = all(
        d.status in (DossierStatus.ARCHIVED, DossierStatus.FAILED, DossierStatus.DUPLICATE)
        for d in dossiers
    )
    return {
        "batch_id": batch.batch_id,
        "created_at": batch.created_at.isoformat(),
        "uploaded_by": batch.uploaded_by,
        "counter_id": batch.counter_id,
        "post_office_id": batch.post_office_id,
        "agency": batch.agency_code,
        "procedure": batch.procedure,
        "files": batch.source_count,
        "progress": {"pages_done": min(done, total), "pages_total": total},
        "finished": finished and bool(dossiers),
        "flow_run_id": batch.flow_run_id,
        "dossiers": [
            {
                "dossier_id": d.dossier_id,
                "source": d.source_name,
                "status": str(d.status),
                "pages": d.page_count,
                "pages_done": d.page_count
                if d.status is DossierStatus.ARCHIVED
                else min(per_dossier.get(d.dossier_id, 0), d.page_count),
                "dossier_code": d.dossier_code,
                "needs_review": d.needs_review,
                "error": d.error,
                "duplicate_of": d.duplicate_of,
                # For the counter's page: the catalogue's words, never raw library text.
                "status_text": words.status(d.status),
                "error_text": words.error(d.error, file=d.source_name) if d.error else None,
                "other_unit": other_unit(d.dossier_code, batch.agency_code),
            }
            for d in dossiers
        ],
    }


def dossier_json(settings: Settings, principal: Principal, dossier: DossierInfo) -> dict[str, Any]:
    data = dossier.summary()
    data["fields"] = {f.name: f.to_json() for f in dossier.field_details}
    data["pages"] = [
        {
            "number": p.index + 1,
            "kind": p.kind,
            "blank": p.blank,
            "dpi": p.dpi,
            "ocr_confidence": None if p.ocr_confidence is None else round(p.ocr_confidence, 1),
            "warnings": list(p.warnings),
            "image": f"/api/dossiers/{dossier.dossier_id}/pages/{p.index + 1}.jpg",
        }
        for p in dossier.pages
    ]
    data["downloads"] = {
        name: f"/api/dossiers/{dossier.dossier_id}/{name}" for name in ("pdf", "fields", "original")
    }
    data["signature"] = signature_of(settings, dossier)
    if principal.role is Role.OPERATOR:
        meta = metadata_store(settings)
        data["events"] = [
            {"at": at.isoformat(), "status": status, "message": message}
            for at, status, message in meta.events(dossier.dossier_id)
        ]
        data["corrections"] = [
            {
                "field": c.name,
                "old_value": c.old_value,
                "new_value": c.new_value,
                "by": c.corrected_by,
                "at": c.corrected_at.isoformat(),
                "note": c.note,
            }
            for c in meta.corrections(dossier.dossier_id)
        ]
    return data


def download_name(dossier: DossierInfo, suffix: str) -> str:
    """A download's file name: the dossier code people file it under (else the id), cut
    to characters every file system and the Content-Disposition header take as they are
    (a code read from a QR is a client's text: no quote, slash or newline gets through)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", dossier.dossier_code or "").strip("._")[:80]
    return f"{stem or dossier.dossier_id}{suffix}"


def signature_of(settings: Settings, dossier: DossierInfo) -> dict[str, Any] | None:
    """Who signed the archived PDF and when, as the manifest records it."""
    if dossier.status is not DossierStatus.ARCHIVED:
        return None
    try:
        signature = read_manifest(object_store(settings), dossier.dossier_id).get("signature")
    except (StorageError, ValueError):
        return None
    return dict(signature) if isinstance(signature, dict) else None


# --- the app ------------------------------------------------------------------------------


class Correction(BaseModel):
    value: str = Field(default="", max_length=2000)
    note: str | None = Field(default=None, max_length=2000)
    # The value is on none of the papers: recorded as such, so nobody asks for it again.
    not_on_papers: bool = False


def checked_correction(
    dossier: DossierInfo, name: str, value: str, alongside: dict[str, str] | None = None
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
        raise CorrectionRefused(problem or "Giá trị không hợp lệ.")
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
        value = checked_correction(dossier, name, value)
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


def create_app(settings: Settings, *, runner: BatchRunner | None = None) -> FastAPI:
    from app.metrics import Metrics

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
        path="/api/batches",
        max_body=lambda: settings.max_upload_bytes + MULTIPART_ALLOWANCE,
        authenticate=_authenticate,
    )

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        began = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        metrics.observe_request(
            request.method,
            getattr(route, "path", "unmatched"),
            response.status_code,
            time.perf_counter() - began,
        )
        return response

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(NotSignedIn)
    async def to_login(request: Request, _exc: NotSignedIn) -> Response:
        # Back to the same page after signing in, its query included (a filtered queue).
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    # --- counters ---------------------------------------------------------------------

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
        )
        try:
            names, paths, total_bytes = _stage(settings, files, staging)
            documents = _check_uploads(settings, names, paths)
            try:
                stored = _store_originals(settings, batch, documents)
                # Last, in one transaction: a failure before here records nothing at all.
                metadata_store(settings).receive_upload(batch, stored)
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
        return batch_json(settings, metadata_store(settings).get_batch(batch_id))

    @app.get("/api/batches", tags=["counter"])
    def list_batches(
        principal: CounterOrOperator,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        token = principal.token_id if principal.role is Role.COUNTER else None
        batches = metadata_store(settings).list_batches(token_id=token, limit=limit, offset=offset)
        return {"batches": [batch_json(settings, b) for b in batches]}

    @app.get("/api/batches/{batch_id}", tags=["counter"])
    def get_batch(batch_id: str, principal: CounterOrOperator) -> dict[str, Any]:
        return batch_json(settings, visible_batch(settings, principal, batch_id))

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
                limit=limit,
                offset=offset,
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
    def get_pdf(dossier_id: str, principal: Reader, redirect: bool = False) -> Response:
        """The searchable PDF; ``redirect=true`` answers with a short-lived presigned URL
        on S3 (after the same access check)."""
        if redirect:
            visible_dossier(settings, principal, dossier_id)
            presign = getattr(object_store(settings), "presigned_url", None)
            if presign is not None:
                return RedirectResponse(presign(keys.pdf_key(dossier_id), expires_s=120), 307)
        dossier, size, chunks = _artefact(principal, dossier_id, keys.pdf_key)
        return _stream(size, chunks, "application/pdf", download_name(dossier, ".pdf"))

    @app.get("/api/dossiers/{dossier_id}/original", tags=["agency"])
    def get_original(dossier_id: str, principal: Reader, stack: bool = False) -> Response:
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

    @app.get("/api/dossiers/{dossier_id}/text", tags=["agency"])
    def get_text(dossier_id: str, principal: Reader) -> Response:
        _dossier, size, chunks = _artefact(principal, dossier_id, keys.text_key)
        return StreamingResponse(
            chunks, media_type="text/plain; charset=utf-8", headers={"Content-Length": str(size)}
        )

    @app.get("/api/dossiers/{dossier_id}/pages/{number}.jpg", tags=["agency"])
    def get_page_image(dossier_id: str, number: int, principal: Reader) -> Response:
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
        metadata_store(settings).status_counts()  # the database answers
        return {"status": "ok"}

    from app.pages import add_pages

    add_pages(app, settings, templates)

    return app


def _stage(
    settings: Settings, files: list[UploadFile], staging: Path
) -> tuple[list[str], list[Path], int]:
    """Copy uploads to numbered files: the client's file names never touch the disk."""
    staging.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    paths: list[Path] = []
    total = 0
    for position, upload in enumerate(files):
        name = display_name(upload.filename, f"file {position + 1}")
        path = staging / f"{position + 1:04d}.upload"
        size = 0
        with path.open("wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                total += len(chunk)
                if size > settings.max_file_bytes:
                    raise HTTPException(413, f"{name}: larger than {settings.max_file_bytes} bytes")
                if total > settings.max_upload_bytes:
                    raise HTTPException(
                        413, f"upload larger than {settings.max_upload_bytes} bytes"
                    )
                out.write(chunk)
        names.append(name)
        paths.append(path)
    return names, paths, total


def _check_uploads(settings: Settings, names: list[str], paths: list[Path]) -> list[SourceDocument]:
    """Every file must be a scan we can read, judged by its content: else 4xx, nothing kept."""
    problems: list[tuple[int, str]] = []
    refused: list[dict[str, Any]] = []
    documents: list[SourceDocument] = []
    for position, (name, path) in enumerate(zip(names, paths, strict=True)):
        try:
            documents.append(
                inspect_source(
                    path,
                    name=name,
                    max_pages=settings.max_pages_per_file,
                    max_bytes=settings.max_file_bytes,
                )
            )
        except SohoaError as exc:
            message = exc.message if name in exc.message else f"{name}: {exc.message}"
            # Judged by content: a file that is no scan at all is an unsupported media type.
            unsupported = "not a PDF, TIFF, JPEG or PNG" in message
            problems.append((415 if unsupported else 422, message))
            refused.append(
                {
                    "position": position,
                    "file": name,
                    "error": message,
                    "shown": messages_for(settings).error(message, file=name),
                }
            )
    if problems:
        status = 415 if all(code == 415 for code, _ in problems) else 422
        raise UploadRefused(status, "; ".join(message for _, message in problems), refused)
    return documents


def _store_originals(
    settings: Settings, batch: BatchInfo, documents: list[SourceDocument]
) -> list[StoredOriginal]:
    """Every original into the object store (write-once), before anything is recorded.

    A file whose bytes the same agency already received is not stored again: it becomes
    a duplicate of that dossier (also within this upload). Another agency's dossiers are
    never looked at: the same bytes sent to it are its own dossier.
    """
    meta, objects = metadata_store(settings), object_store(settings)
    seen: dict[str, str] = {}  # sha256 -> dossier id, within this upload
    stored: list[StoredOriginal] = []
    for position, document in enumerate(documents):
        dossier_id = keys.dossier_id(batch.batch_id, position)
        earlier = seen.get(document.sha256) or meta.find_original(
            document.sha256, agency_code=batch.agency_code, other_than=dossier_id
        )
        key = None
        if earlier is None:
            media_type = str(document.media_type)
            key = keys.original_key(dossier_id, media_type)
            kept = objects.put_file(key, document.path, media_type, write_once=True)
            if (kept.sha256, kept.size) != (document.sha256, document.size):
                raise StorageError(f"{key}: stored bytes differ from the upload")
            seen[document.sha256] = dossier_id
        stored.append(
            StoredOriginal(
                dossier_id=dossier_id,
                position=position,
                source_name=document.name,
                sha256=document.sha256,
                size=document.size,
                original_key=key,
                media_type=str(document.media_type),
                page_count=document.page_count,
                duplicate_of=earlier,
            )
        )
    return stored


def _page_owner_index(dossier: DossierInfo, number: int) -> tuple[str, int, int]:
    if not 1 <= number <= len(dossier.pages):
        raise HTTPException(404, "no such page")
    page = dossier.pages[number - 1]
    source_index = page.source_index if page.source_index is not None else page.index
    return dossier.file_owner, source_index, page.rotation


def _upright_page(settings: Settings, dossier: DossierInfo, number: int) -> np.ndarray:
    owner, source_index, rotation = _page_owner_index(dossier, number)
    try:
        data = object_store(settings).get_bytes(keys.page_image_key(owner, source_index))
    except ObjectNotFoundError:
        raise HTTPException(404, "no page image") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(500, "unreadable page image")
    turns = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(image, turns[rotation]) if rotation in turns else image


def field_locations(
    settings: Settings, dossier: DossierInfo, names: Iterable[str]
) -> dict[str, ValueLocation]:
    """Where each named field's value is on the dossier's upright pages (the OCR line that
    holds it); a value not found is left out. The pages' OCR records are read once for all
    the names: ask for the few fields a page shows, not for every field."""
    import json

    values = {f.name: f.value for f in dossier.field_details}
    wanted = [name for name in names if values.get(name)]
    if not wanted or not dossier.pages:
        return {}
    objects = object_store(settings)
    records = []
    for page in dossier.pages:
        source_index = page.source_index if page.source_index is not None else page.index
        try:
            raw = objects.get_bytes(keys.page_ocr_key(dossier.file_owner, source_index))
            records.append(json.loads(raw))
        except (ObjectNotFoundError, ValueError):
            records.append({})
    found = {name: locate_value(records, values[name]) for name in wanted}
    return {name: where for name, where in found.items() if where is not None}


def _field_crop(settings: Settings, dossier: DossierInfo, name: str) -> np.ndarray | None:
    found = field_locations(settings, dossier, [name]).get(name)
    if found is None:
        return None
    image = _upright_page(settings, dossier, found.page_position + 1)
    height, width = image.shape[:2]
    margin_x, margin_y = 0.04 * width, 0.02 * height
    left = max(0, int(found.left * width - margin_x))
    right = min(width, int(found.right * width + margin_x))
    top = max(0, int(found.top * height - margin_y))
    bottom = min(height, int(found.bottom * height + margin_y))
    if right <= left or bottom <= top:
        return None
    return image[top:bottom, left:right]


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
            }
        )
        shown: list[dict[str, Any]] = items[-1]["fields"]
        shown += _related_fields(dossier, shown)
    return items


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
                 "note": note.strip(), "crop": None, "state": "missing", "handwriting": None,
                 "suggestion": None, "suggestion_confidence": None, "candidates": []}
            )  # fmt: skip
    return missing


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


def ops_data(settings: Settings, *, request_runner: BatchRunner) -> dict[str, Any]:
    meta = metadata_store(settings)
    now = datetime.now(UTC)
    hour_dossiers, hour_pages = meta.archived_since(now - timedelta(hours=1))
    day_dossiers, day_pages = meta.archived_since(now - timedelta(days=1))
    failures = meta.search(SearchQuery(status=DossierStatus.FAILED, limit=50)).items
    stuck = meta.stuck_dossiers(now - timedelta(minutes=30))
    review = meta.search(
        SearchQuery(needs_review=True, status=DossierStatus.ARCHIVED, limit=200)
    ).items
    batches = meta.list_batches(limit=20)
    return {
        "counts": meta.status_counts(),
        "throughput": {
            "last_hour": {"dossiers": hour_dossiers, "pages": hour_pages},
            "last_day": {"dossiers": day_dossiers, "pages": day_pages},
        },
        "batches_running": request_runner.busy(),
        "failures": [
            {
                "dossier_id": d.dossier_id,
                "source": d.source_name,
                "error": d.error,
                "at": d.updated_at.isoformat(),
            }
            for d in failures
        ],
        "stuck": [
            {"dossier_id": d.dossier_id, "status": str(d.status), "since": d.updated_at.isoformat()}
            for d in stuck
        ],
        "review_waiting": len(review),
        "recent_batches": [
            {
                "batch_id": b.batch_id,
                "created_at": b.created_at.isoformat(),
                "uploaded_by": b.uploaded_by,
                "files": b.source_count,
                "flow_run_id": b.flow_run_id,
                "flow_run_url": flow_run_url(settings, b.flow_run_id),
            }
            for b in batches
        ],
    }


def flow_run_url(settings: Settings, flow_run_id: str | None) -> str | None:
    if not flow_run_id:
        return None
    base = settings.prefect_ui_url.rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}" if base else None
