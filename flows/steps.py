"""What each Prefect task does, as plain functions (testable without Prefect).

Each takes the frozen settings plus keys and small frozen records, reads what it needs
from the stores, runs pure ``pipeline`` stages, and writes results back under
deterministic keys, so any worker can run any step and re-running one duplicates nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from flows.runtime import metadata_store, object_store
from models import DossierStatus, PageInfo
from pipeline.assemble import DocumentInfo, PageLayer, assemble_searchable_pdf
from pipeline.context import PageContext
from pipeline.errors import SohoaError
from pipeline.extract import extract_fields
from pipeline.load import MediaType, SourceDocument, inspect_source
from pipeline.page import process_page
from storage import keys

log = logging.getLogger("sohoa.flows")


@dataclass(frozen=True)
class SourceRef:
    path: str  # where the upload sits on this machine
    name: str  # what the user called it (metadata and messages only)


@dataclass(frozen=True)
class ReceivedDossier:
    dossier_id: str
    source_name: str
    original_key: str
    sha256: str
    size: int
    media_type: str | None
    page_count: int
    error: str | None = None


@dataclass(frozen=True)
class PageDone:
    dossier_id: str
    layer: PageLayer  # with ``ocr_json`` pointing into this machine's work dir
    ocr_key: str  # the page's words and text, for assembly on any machine


def describe_error(exc: BaseException, source_name: str) -> str:
    """One readable line naming the file and the problem."""
    if isinstance(exc, SohoaError):
        message = exc.message
        return message if source_name in message else f"{source_name}: {message}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{source_name}: {type(exc).__name__}: {text}"


def dossier_work_dir(settings: Settings, dossier_id: str) -> Path:
    return settings.work_dir / keys.check_id(dossier_id)


def _inspect(settings: Settings, path: Path, name: str) -> tuple[SourceDocument | None, str | None]:
    try:
        document = inspect_source(
            path,
            name=name,
            max_pages=settings.max_pages_per_file,
            max_bytes=settings.max_file_bytes,
        )
    except SohoaError as exc:
        return None, exc.message
    return document, None


def receive_source(
    settings: Settings, batch_id: str, dossier_id: str, position: int, source: SourceRef
) -> ReceivedDossier:
    """Keep the original byte for byte first, then find out what it is.

    Idempotent: once an original is stored for a dossier, that stored copy is the truth;
    a re-run inspects it again and never replaces it, whatever is at ``source.path`` now.
    """
    meta = metadata_store(settings)
    objects = object_store(settings)
    meta.add_dossier(dossier_id, batch_id, position, source.name)
    existing_key = meta.original_key(dossier_id)
    if existing_key and objects.exists(existing_key):
        local = dossier_work_dir(settings, dossier_id) / f"received{Path(existing_key).suffix}"
        stored = objects.get_file(existing_key, local)
        document, error = _inspect(settings, local, source.name)
        key = existing_key
    else:
        path = Path(source.path)
        document, error = _inspect(settings, path, source.name)
        key = keys.original_key(dossier_id, str(document.media_type) if document else None)
        if not path.is_file():
            meta.set_status(dossier_id, DossierStatus.FAILED, error)
            return ReceivedDossier(dossier_id, source.name, key, "", 0, None, 0, error)
        stored = objects.put_file(
            key, path, str(document.media_type) if document else "application/octet-stream"
        )
    media_type = str(document.media_type) if document else None
    page_count = document.page_count if document else 0
    meta.record_original(
        dossier_id,
        key=key,
        sha256=stored.sha256,
        size=stored.size,
        media_type=media_type,
        page_count=page_count,
    )
    if error is not None:
        meta.set_status(dossier_id, DossierStatus.FAILED, error)
    return ReceivedDossier(
        dossier_id, source.name, key, stored.sha256, stored.size, media_type, page_count, error
    )


def _local_source(settings: Settings, received: ReceivedDossier) -> SourceDocument:
    """The original on this machine's disk, fetched from the object store if needed."""
    work = dossier_work_dir(settings, received.dossier_id)
    local = work / f"original{Path(received.original_key).suffix}"
    if not local.is_file() or local.stat().st_size != received.size:
        object_store(settings).get_file(received.original_key, local)
    assert received.media_type is not None
    return SourceDocument(
        path=local,
        name=received.source_name,
        media_type=MediaType(received.media_type),
        page_count=received.page_count,
        size=received.size,
        sha256=received.sha256,
    )


def page_context(settings: Settings, source_name: str, index: int, lang: str) -> PageContext:
    return PageContext(
        source_name=source_name,
        page_index=index,
        lang=lang,
        ocr_dpi=settings.ocr_dpi,
        ocr_timeout_s=settings.page_timeout_s,
        max_page_pixels=settings.max_page_pixels,
        default_dpi=settings.default_dpi,
        refuse_low_dpi=settings.low_dpi_action == "refuse",
    )


def process_one_page(
    settings: Settings, received: ReceivedDossier, index: int, lang: str
) -> PageDone:
    source = _local_source(settings, received)
    work = dossier_work_dir(settings, received.dossier_id)
    outcome = process_page(
        source,
        page_context(settings, received.source_name, index, lang),
        work,
        preview_quality=settings.page_image_quality,
    )
    objects = object_store(settings)
    ocr_key = keys.page_ocr_key(received.dossier_id, index)
    objects.put_file(ocr_key, outcome.ocr_json_path, "application/json")
    objects.put_file(
        keys.page_image_key(received.dossier_id, index), outcome.preview_path, "image/jpeg"
    )
    layer = outcome.layer
    metadata_store(settings).record_page(
        received.dossier_id,
        PageInfo(
            index=index,
            width_px=layer.width_px,
            height_px=layer.height_px,
            dpi=layer.dpi,
            rotation=layer.rotation,
            skew_deg=round(outcome.skew_deg, 3),
            blank=outcome.blank,
            ocr_confidence=outcome.mean_confidence,
            text_source=outcome.text_source,
            warnings=outcome.warnings,
        ),
    )
    return PageDone(received.dossier_id, layer, ocr_key)


def archive_dossier(
    settings: Settings, received: ReceivedDossier, pages: list[PageDone], *, keep_work: bool = False
) -> None:
    """Assemble, store every artefact, and only then mark the dossier archived."""
    meta = metadata_store(settings)
    objects = object_store(settings)
    source = _local_source(settings, received)
    work = dossier_work_dir(settings, received.dossier_id)
    ordered = sorted(pages, key=lambda p: p.layer.index)
    layers: list[PageLayer] = []
    texts: list[str] = []
    for page in ordered:
        local_ocr = work / f"page-{page.layer.index + 1:04d}.ocr.json"
        if not local_ocr.is_file():  # this step may run on another machine than the page
            objects.get_file(page.ocr_key, local_ocr)
        record = json.loads(local_ocr.read_text(encoding="utf-8"))
        texts.append(str(record.get("text", "")))
        has_words = bool(record.get("words"))
        layers.append(
            PageLayer(**{**page.layer.__dict__, "ocr_json": local_ocr if has_words else None})
        )
    text = "\f".join(texts)
    extracted = extract_fields(text)
    pdf_path = work / "dossier.pdf"
    assemble_searchable_pdf(
        source,
        layers,
        pdf_path,
        DocumentInfo(
            title=f"Hồ sơ {extracted.dossier_code or received.dossier_id}",
            subject=received.source_name,
            keywords=extracted.dossier_code or "",
        ),
    )
    objects.put_file(keys.pdf_key(received.dossier_id), pdf_path, "application/pdf")
    objects.put_bytes(
        keys.text_key(received.dossier_id), text.encode("utf-8"), "text/plain; charset=utf-8"
    )
    objects.put_bytes(
        keys.fields_key(received.dossier_id),
        json.dumps(extracted.to_json(), ensure_ascii=False, indent=2).encode("utf-8"),
        "application/json",
    )
    meta.mark_archived(
        received.dossier_id, dossier_code=extracted.dossier_code, fields=extracted.values
    )
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
