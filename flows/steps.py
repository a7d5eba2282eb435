"""What each Prefect task does, as plain functions (testable without Prefect).

Each takes the frozen settings plus keys and small frozen records, reads what it needs
from the stores, runs pure ``pipeline`` stages, and writes results back under
deterministic keys, so any worker can run any step and re-running one duplicates nothing.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from config import Settings
from config.catalogue import load_catalogue
from config.signers import Signer, signers_from_settings
from flows.runtime import metadata_store, object_store
from models import (
    BatchInfo,
    DossierInfo,
    DossierStatus,
    PageInfo,
    faults,
)
from models.digest import copy_hashed
from models.errors import SohoaError
from models.names import display_name
from pipeline.classify import PageKind
from pipeline.context import PageContext
from pipeline.dossier import choose_signer
from pipeline.load import ColourMode, MediaType, SourceDocument, inspect_source
from pipeline.page import process_page
from pipeline.split import plan_dossiers
from storage import keys
from storage.metadata import MetadataStore
from storage.objects import StoredObject

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
    duplicate_of: str | None = None  # the same bytes were received before as that dossier
    archived: bool = False  # a re-run found every dossier of this file archived already
    procedure_hint: str | None = None  # the batch's procedure, if the upload named one


@dataclass(frozen=True)
class PageDone:
    dossier_id: str  # the dossier the scanned file was received as
    ocr_key: str  # the page's record (models.pagerecord), for any machine
    info: PageInfo
    colour_mode: str = ColourMode.COLOUR  # of the scan: the archive re-applies the colour rule
    # The page's record, image and crops as stored (size, SHA-256): the manifest lists them
    # as their put returned them, not read back.
    stored: tuple[StoredObject, ...] = ()


def describe_error(exc: BaseException, source_name: str) -> str:
    """One readable line naming the file and the problem."""
    if isinstance(exc, SohoaError):
        message = exc.message
        return message if source_name in message else f"{source_name}: {message}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{source_name}: {type(exc).__name__}: {text}"


def dossier_work_dir(settings: Settings, dossier_id: str) -> Path:
    return settings.work_dir / keys.check_id(dossier_id)


def inspect_file(
    settings: Settings, path: Path, name: str, *, sha256: str | None = None
) -> tuple[SourceDocument | None, str | None]:
    """The file judged by its content; ``sha256`` when it was hashed already (as it was
    copied in), else the inspection hashes it."""
    try:
        document = inspect_source(
            path,
            name=name,
            max_pages=settings.max_pages_per_file,
            max_bytes=settings.max_file_bytes,
            sha256=sha256,
        )
    except SohoaError as exc:
        return None, exc.message
    return document, None


def receive_source(
    settings: Settings, batch_id: str, dossier_id: str, position: int, source: SourceRef
) -> ReceivedDossier:
    """Keep the original byte for byte first, then find out what it is.

    The file is read once: copied into the dossier's work directory and hashed as it is
    copied; the copy is inspected, looked up for an earlier copy of the same bytes, and
    stored with that digest (the store does not hash it again); page tasks read the copy.

    Idempotent: once an original is stored for a dossier, that stored copy is the truth;
    a re-run inspects it again and never replaces it, whatever is at ``source.path`` now.
    """
    # What the user called the file is shown and recorded, never used as a path.
    source = SourceRef(source.path, display_name(source.name, f"file {position + 1}"))
    meta = metadata_store(settings)
    meta.add_dossier(dossier_id, batch_id, position, source.name)
    current = meta.get_dossier(dossier_id)
    known = _received_before(settings, meta, current, source.name)
    if known is not None:
        return known
    arrived = _copy_in(settings, meta, current, source)
    if isinstance(arrived, ReceivedDossier):
        return arrived
    return _keep_original(settings, meta, current, arrived)


def _received_before(
    settings: Settings, meta: MetadataStore, current: DossierInfo, name: str
) -> ReceivedDossier | None:
    """What an earlier receipt of this dossier (the CLI's or the service's intake, or a
    run a crash cut short) settled, read from the record; None: not received yet."""
    dossier_id = current.dossier_id
    if current.status is DossierStatus.DUPLICATE:
        # Already found to be a second copy (the CLI and the service receive every file
        # before the flow does): nothing to store, and no second "duplicate" event.
        return ReceivedDossier(
            dossier_id, name, "", current.original_sha256 or "",
            current.original_size or 0, None, 0, duplicate_of=current.duplicate_of,
        )  # fmt: skip
    existing_key = meta.original_key(dossier_id)
    if existing_key and meta.source_archived(dossier_id):
        stored = object_store(settings).stat(existing_key)
        return ReceivedDossier(
            dossier_id, name, existing_key, stored.sha256, stored.size,
            current.media_type, current.page_count, archived=True,
        )  # fmt: skip
    if existing_key and current.media_type and current.page_count and current.original_sha256:
        # The record says what the file is, so it is not inspected, hashed or copied again.
        return _recorded(settings, meta, current, existing_key, name, current.procedure)
    return None


@dataclass(frozen=True)
class ArrivedFile:
    """A file copied into the work directory and inspected, not yet kept."""

    name: str
    key: str  # where the original is (or will be) stored
    local: Path  # the work copy: what was hashed, inspected and will be stored
    size: int
    sha256: str
    document: SourceDocument | None  # None: refused, for ``error``
    error: str | None
    stored: bool  # the store holds it already (a run cut short between put and record)


def _copy_in(
    settings: Settings, meta: MetadataStore, current: DossierInfo, source: SourceRef
) -> ArrivedFile | ReceivedDossier:
    """The file copied into the work directory (hashed on the way), and inspected there:
    from the store when a run cut short had stored it, else from ``source.path``."""
    dossier_id, objects = current.dossier_id, object_store(settings)
    incoming = dossier_work_dir(settings, dossier_id) / "incoming"
    existing_key = meta.original_key(dossier_id)
    if existing_key and objects.exists(existing_key):
        fetched = objects.get_file(existing_key, incoming)  # hashed as it is copied
        size, sha = fetched.size, fetched.sha256
    else:
        path = Path(source.path)
        try:
            size, sha = copy_hashed(path, incoming) if path.is_file() else (0, "")
        except OSError:
            size, sha = 0, ""
        if not sha:  # missing or unreadable: nothing to keep, the inspection says why
            _document, error = inspect_file(settings, path, source.name)
            error = error or f"{source.name}: cannot read file"
            meta.set_status(dossier_id, DossierStatus.FAILED, error)
            shutil.rmtree(incoming.parent, ignore_errors=True)
            key = keys.original_key(dossier_id, None)
            return ReceivedDossier(dossier_id, source.name, key, "", 0, None, 0, error)
    document, error = inspect_file(settings, incoming, source.name, sha256=sha)
    media_type = str(document.media_type) if document else None
    key = existing_key or keys.original_key(dossier_id, media_type)
    # The name page tasks look for (``local_source``): the copy is theirs to read.
    local = incoming.replace(incoming.with_name(f"original{Path(key).suffix}"))
    if document is not None:
        document = replace(document, path=local)
    stored = bool(existing_key) and objects.exists(key)
    return ArrivedFile(source.name, key, local, size, sha, document, error, stored)


def _keep_original(
    settings: Settings, meta: MetadataStore, current: DossierInfo, arrived: ArrivedFile
) -> ReceivedDossier:
    """Store the inspected copy (unless the agency has these bytes already) and record it."""
    dossier_id, name = current.dossier_id, arrived.name
    document, error = arrived.document, arrived.error
    sha, size = arrived.sha256, arrived.size
    if not arrived.stored:
        agency = meta.get_batch(current.batch_id).agency_code
        earlier = earlier_holder(meta, sha, agency_code=agency, dossier_id=dossier_id)
        if earlier is not None:
            # Handed in twice (a double click, a re-sent batch): one archived copy is enough,
            # and the earlier dossier already keeps these exact bytes.
            meta.mark_duplicate(dossier_id, of=earlier, sha256=sha, size=size)
            shutil.rmtree(arrived.local.parent, ignore_errors=True)
            return ReceivedDossier(dossier_id, name, "", sha, size, None, 0, duplicate_of=earlier)
        content_type = str(document.media_type) if document else "application/octet-stream"
        object_store(settings).put_file(
            arrived.key, arrived.local, content_type, write_once=True, sha256=sha
        )
    media_type = str(document.media_type) if document else None
    page_count = document.page_count if document else 0
    winner = meta.record_original(
        dossier_id,
        key=arrived.key,
        sha256=sha,
        size=size,
        media_type=media_type,
        page_count=page_count,
        claim=error is None,  # a file that will be read claims its bytes for the agency
    )
    if winner is not None:
        # The same bytes were recorded for the agency between the look-up above and now
        # (two receipts at once): the claim decided, this one is the duplicate.
        shutil.rmtree(arrived.local.parent, ignore_errors=True)
        return ReceivedDossier(dossier_id, name, "", sha, size, None, 0, duplicate_of=winner)
    if error is None and settings.signing_required:
        # Kept (above) but not worked on: without a signer it could never be archived, so
        # it fails now, before any OCR, rather than after it (archive checks again).
        _signer, refusal = batch_signer(settings, meta.get_batch(current.batch_id))
        if refusal is not None:
            error = f"{name}: {refusal}"
    if error is not None:
        meta.set_status(dossier_id, DossierStatus.FAILED, error)
        shutil.rmtree(arrived.local.parent, ignore_errors=True)  # never read: kept in store
    return ReceivedDossier(
        dossier_id, name, arrived.key, sha, size, media_type, page_count, error,
        procedure_hint=current.procedure,
    )  # fmt: skip


def earlier_holder(
    meta: MetadataStore,
    sha256: str,
    *,
    agency_code: str | None,
    dossier_id: str,
    seen: Mapping[str, str] | None = None,
) -> str | None:
    """The dossier that already keeps these bytes for the agency, if any: one received
    earlier in the same upload (``seen``: SHA-256 -> dossier id), else one recorded.

    The one duplicate look-up of both intakes (this module's and ``flows.intake``); the
    claim taken when the original is recorded settles two receipts at the same moment.
    Another agency's dossiers are never looked at: the same bytes sent to it are its own.
    """
    if seen is not None and sha256 in seen:
        return seen[sha256]
    return meta.find_original(sha256, agency_code=agency_code, other_than=dossier_id)


def receive_batch(
    settings: Settings, batch: BatchInfo, sources: list[SourceRef]
) -> list[ReceivedDossier]:
    """The intake of a batch handed in as files on this machine (the CLI, the benches):
    the batch recorded, then every original kept and inspected, in order, before any
    processing. Idempotent like :func:`receive_source`, so a re-run under the same batch id
    stores and records nothing twice. An upload to the service goes through
    ``flows.intake`` instead: the same inspection, but a bad file refuses the whole upload,
    and it is recorded in one transaction."""
    meta = metadata_store(settings)
    meta.create_batch(batch)
    return [
        receive_source(settings, batch.batch_id, keys.dossier_id(batch.batch_id, i), i, source)
        for i, source in enumerate(sources)
    ]


def _recorded(
    settings: Settings,
    meta: MetadataStore,
    current: DossierInfo,
    key: str,
    name: str,
    hint: str | None,
) -> ReceivedDossier:
    error: str | None = None
    if settings.signing_required:
        _signer, refusal = batch_signer(settings, meta.get_batch(current.batch_id))
        if refusal is not None:
            error = f"{name}: {refusal}"
            meta.set_status(current.dossier_id, DossierStatus.FAILED, error)
    return ReceivedDossier(
        current.dossier_id, name, key, current.original_sha256 or "",
        current.original_size or 0, current.media_type, current.page_count, error,
        procedure_hint=hint,
    )  # fmt: skip


def local_source(settings: Settings, received: ReceivedDossier) -> SourceDocument:
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


def page_context(
    settings: Settings, source_name: str, index: int, lang: str, procedure: str | None = None
) -> PageContext:
    """What a page stage needs from the settings.

    Colour: at ingest a dossier's procedure is known only when the batch named one, so
    that procedure's rule applies, else the global SOHOA_COLOUR_REQUIRED. The archive
    stage re-decides once the papers have said which procedure it is.
    """
    catalogue = load_catalogue(settings.catalogue_path)
    return PageContext(
        source_name=source_name,
        page_index=index,
        lang=lang,
        ocr_engine=settings.ocr_engine,
        ocr_dpi=settings.ocr_dpi,
        ocr_timeout_s=settings.page_timeout_s,
        max_page_pixels=settings.max_page_pixels,
        default_dpi=settings.default_dpi,
        refuse_low_dpi=settings.low_dpi_action == "refuse",
        colour_required=catalogue.colour_required(procedure, settings.colour_required),
        refuse_non_colour=settings.colour_action == "refuse",
        second_reader=settings.second_reader,
        models_dir=settings.models_dir,
        catalogue=catalogue,
    )


def process_one_page(
    settings: Settings, received: ReceivedDossier, index: int, lang: str
) -> PageDone:
    source = local_source(settings, received)
    work = dossier_work_dir(settings, received.dossier_id)
    outcome = process_page(
        source,
        page_context(settings, received.source_name, index, lang, received.procedure_hint),
        work,
        preview_quality=settings.page_image_quality,
    )
    faults.point("page.after-ocr")
    objects = object_store(settings)
    # Page artefacts belong to the scanned file (kept under its first dossier), whatever
    # dossier the page ends up in after the stack is split.
    ocr_key = keys.page_ocr_key(received.dossier_id, index)
    stored = [
        objects.put_file(ocr_key, outcome.record_path, "application/json"),
        objects.put_file(
            keys.page_image_key(received.dossier_id, index), outcome.preview_path, "image/jpeg"
        ),
    ]
    for field_name, crop_path in outcome.handwritten:
        # Next to the page's other derived files: the review queue shows it to a person.
        crop_key = keys.field_crop_key(received.dossier_id, index, field_name)
        stored.append(objects.put_file(crop_key, crop_path, "image/png"))
    layer, record = outcome.layer, outcome.record
    info = PageInfo(
        index=index,
        width_px=layer.width_px,
        height_px=layer.height_px,
        dpi=layer.dpi,
        rotation=layer.rotation,
        skew_deg=record.skew_deg or 0.0,
        blank=outcome.blank,
        ocr_confidence=record.mean_confidence,
        text_source=record.text_source,
        warnings=record.warning_texts,
        kind=record.kind or str(PageKind.OTHER),
        kind_confidence=record.kind_confidence or 0.0,
        source_index=index,
    )
    metadata_store(settings).record_page(received.dossier_id, info)  # progress, until split
    return PageDone(received.dossier_id, ocr_key, info, outcome.colour_mode, tuple(stored))


@dataclass(frozen=True)
class DossierPart:
    dossier_id: str
    pages: tuple[int, ...]  # indices into the scanned file


def split_stack(
    settings: Settings, received: ReceivedDossier, pages: list[PageDone]
) -> list[DossierPart]:
    """Decide which pages make which dossier; register the dossiers beyond the first."""
    ordered = sorted(pages, key=lambda p: p.info.index)
    kinds = [PageKind(p.info.kind) for p in ordered]
    groups = plan_dossiers(kinds)
    meta = metadata_store(settings)
    parts: list[DossierPart] = []
    for number, group in enumerate(groups, start=1):
        dossier_id = keys.split_dossier_id(received.dossier_id, number)
        if number == 1:
            meta.set_source_pages(dossier_id, group)
        else:
            meta.add_split_dossier(dossier_id, from_dossier_id=received.dossier_id, pages=group)
        parts.append(DossierPart(dossier_id, tuple(group)))
    dropped = len(ordered) - sum(len(g) for g in groups)
    if len(groups) > 1 or dropped:
        log.info(
            "%s: %d dossier(s), %d separator page(s) dropped",
            received.source_name,
            len(groups),
            dropped,
        )
    return parts


def batch_signer(settings: Settings, batch: BatchInfo) -> tuple[Signer | None, str | None]:
    """The signer for the batch's counter, and why the dossier must fail if there is none
    (the choice is ``pipeline.dossier.choose_signer``'s)."""
    choice = choose_signer(
        signers_from_settings(settings), batch.counter_id, required=settings.signing_required
    )
    return choice.signer, choice.refusal


def finish_source(settings: Settings, received: ReceivedDossier) -> None:
    """Every dossier of the file is archived: the local work copy can go."""
    shutil.rmtree(dossier_work_dir(settings, received.dossier_id), ignore_errors=True)
