"""Archiving a dossier: its fields from the evidence of its pages, the colour and signer
verdicts, the searchable PDF/A, the signature, the manifest, and the archived record.

Called by the batch flow's archive task (``flows/batch.py``) after every page of the
dossier's scanned file is read; like ``flows.steps`` it takes settings, keys and small
frozen records, so any worker can run it and re-running it duplicates nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import Settings
from config.catalogue import Catalogue, load_catalogue
from config.signers import Signer, SignerConfigError
from flows.runtime import metadata_store, object_store
from models import (
    DossierStatus,
    FieldCandidate,
    FieldInfo,
    PageInfo,
    faults,
)
from models.codes import receiving_unit
from models.errors import StorageError
from pipeline.assemble import DocumentInfo, PageLayer, assemble_searchable_pdf
from pipeline.barcodes import Barcode
from pipeline.classify import PageKind
from pipeline.extract import Field
from pipeline.fields import PageEvidence, extract_dossier_fields
from pipeline.handwriting import HandwrittenArea
from pipeline.load import ColourMode
from pipeline.page import colour_warning
from pipeline.page_range import copy_pages
from pipeline.pdfa import ArchiveMetadata, make_pdfa
from storage import keys
from storage.archive import write_manifest
from storage.metadata import MetadataStore
from storage.objects import ObjectStore, StoredObject

if TYPE_CHECKING:
    from pipeline.sign import SignatureInfo

from flows.steps import (
    DossierPart,
    PageDone,
    ReceivedDossier,
    batch_signer,
    dossier_work_dir,
    local_source,
)

log = logging.getLogger("sohoa.flows")


def _colour_rule(
    settings: Settings,
    catalogue: Catalogue,
    procedure_id: str | None,
    pages: list[PageDone],
    infos: list[PageInfo],
) -> tuple[list[PageInfo], str | None]:
    """Re-decide the colour warnings now that the papers have named the procedure.

    At ingest only the batch's procedure (or the global rule) was known; the dossier's own
    procedure wins here: its pages get the warning when it requires colour and lose it when
    it does not. Returns the page records, and a refusal when SOHOA_COLOUR_ACTION=refuse.
    """
    required = catalogue.colour_required(procedure_id, settings.colour_required)
    colour_warnings = {colour_warning(mode) for mode in ColourMode}
    updated: list[PageInfo] = []
    first_bad: tuple[int, str] | None = None
    for page, info in zip(pages, infos, strict=True):
        warning = colour_warning(page.colour_mode)
        warnings = tuple(w for w in info.warnings if w not in colour_warnings)
        if required and page.colour_mode != ColourMode.COLOUR:
            warnings += (warning,)
            first_bad = first_bad or (page.info.index, warning)
        updated.append(replace(info, warnings=warnings))
    refusal = None
    if first_bad is not None and settings.colour_action == "refuse":
        index, warning = first_bad
        which = f" (procedure {procedure_id})" if procedure_id else ""
        refusal = f"page {index + 1} {warning}{which}: scan it again in colour"
    return updated, refusal


def _refuse(meta: MetadataStore, dossier_id: str, source_name: str, reason: str) -> None:
    """A dossier that must not be archived as it is: FAILED with one line; original kept.

    Recorded here rather than raised, like a refused file at receive: no retry can help,
    and the batch report reads the reason from the dossier record.
    """
    message = reason if reason.startswith(f"{source_name}:") else f"{source_name}: {reason}"
    log.info("dossier %s not archived: %s", dossier_id, message)
    meta.set_status(dossier_id, DossierStatus.FAILED, message)


def _sign(pdfa_path: Path, output: Path, signer: Signer) -> tuple[SignatureInfo | None, str | None]:
    """Sign as the digitiser; (info, None), or (None, why not) for a credential problem."""
    # Imported here: pyHanko's import costs ~0.8 s, needless for unsigned archives.
    from models.errors import SigningError
    from pipeline.sign import VIETNAM_TIME, sign_pdf

    try:
        info = sign_pdf(
            pdfa_path,
            output,
            pkcs12_path=signer.pkcs12,
            pkcs12_password=signer.password(),
            signer_name=signer.name,
            signed_at=datetime.now(VIETNAM_TIME),
            location=signer.location,
        )
    except (SigningError, SignerConfigError) as exc:
        return None, f"not signed as {signer.name} ({signer.origin}): {exc.message}"
    return info, None


def archive_dossier(
    settings: Settings,
    received: ReceivedDossier,
    part: DossierPart,
    pages: list[PageDone],
    *,
    keep_work: bool = False,
) -> None:
    """Assemble one dossier, store every artefact, and only then mark it archived.

    The PDF goes assemble -> PDF/A-2b -> the digitiser's signature (when the batch's
    counter has a signer) and is stored byte for byte as signed. A dossier that may not
    be archived (signing required without a signer, a signature that cannot be made,
    pages not in colour under SOHOA_COLOUR_ACTION=refuse) ends FAILED with the reason.
    """
    meta = metadata_store(settings)
    objects = object_store(settings)
    dossier = meta.get_dossier(part.dossier_id)
    if dossier.status is DossierStatus.ARCHIVED and objects.exists(
        keys.manifest_key(part.dossier_id)
    ):
        return  # a re-run after a crash in a later dossier of the same stack
    batch = meta.get_batch(dossier.batch_id)
    signer, refusal = batch_signer(settings, batch)
    if refusal is not None:
        _refuse(meta, part.dossier_id, received.source_name, refusal)
        return
    catalogue = load_catalogue(settings.catalogue_path)
    source = local_source(settings, received)
    work = dossier_work_dir(settings, received.dossier_id)
    by_index = {p.info.index: p for p in pages}
    layers: list[PageLayer] = []
    texts: list[str] = []
    evidence: list[PageEvidence] = []
    page_infos: list[PageInfo] = []
    for position, source_index in enumerate(part.pages):
        page = by_index[source_index]
        local_ocr = work / f"page-{source_index + 1:04d}.ocr.json"
        if not local_ocr.is_file():  # this step may run on another machine than the page
            objects.get_file(page.ocr_key, local_ocr)
        record = json.loads(local_ocr.read_text(encoding="utf-8"))
        text = str(record.get("text", ""))
        texts.append(text)
        layers.append(
            PageLayer(
                **{**page.layer.__dict__, "ocr_json": local_ocr if record.get("words") else None}
            )
        )
        evidence.append(
            PageEvidence(
                index=position,
                kind=PageKind(page.info.kind),
                text=text,
                barcodes=tuple(Barcode.from_json(b) for b in record.get("barcodes", [])),
                procedure_id=record.get("procedure_id"),
                ocr_confidence=page.info.ocr_confidence,
                handwritten=_handwritten_areas(record, received.dossier_id, source_index),
                reread=tuple(
                    (str(r["field"]), str(r["text"]), float(r["confidence"]))
                    for r in record.get("reread", [])
                ),
            )
        )
        page_infos.append(PageInfo(**{**page.info.__dict__, "index": position}))
    text = "\f".join(texts)
    extracted = extract_dossier_fields(evidence, catalogue, agency_code=batch.agency_code)
    code = extracted.dossier_code
    procedure_field = extracted.fields.get("procedure")
    procedure_id = procedure_field.value if procedure_field else dossier.procedure
    page_infos, refusal = _colour_rule(
        settings, catalogue, procedure_id, [by_index[i] for i in part.pages], page_infos
    )
    if refusal is not None:
        _refuse(meta, part.dossier_id, received.source_name, refusal)
        return
    assembled = work / f"{part.dossier_id}.pdf"
    assemble_searchable_pdf(
        source,
        layers,
        assembled,
        DocumentInfo(
            title=f"Hồ sơ {code or part.dossier_id}",
            subject=received.source_name,
            keywords=code or "",
        ),
    )
    faults.point("archive.after-assemble")
    archival = make_pdfa(
        assembled,
        work / f"{part.dossier_id}.pdfa.pdf",
        source_name=received.source_name,
        metadata=ArchiveMetadata(
            title=f"Hồ sơ {code or part.dossier_id}",
            dossier_code=code or "",
            procedure=procedure_id or "",
            agency_code=dossier.agency_code or receiving_unit(code) or "",
            # The person who digitised: the signer; unsigned, whoever handed the files in.
            digitiser=signer.name if signer else settings.digitiser_name or batch.uploaded_by or "",
            subject=received.source_name,
            keywords=(code,) if code else (),
            created_at=datetime.now(UTC),
            extra=(("DossierId", part.dossier_id), ("CounterId", batch.counter_id or "")),
        ),
    )
    signature: SignatureInfo | None = None
    final = archival
    if signer is not None:
        signature, refusal = _sign(archival, work / f"{part.dossier_id}.signed.pdf", signer)
        if signature is None:
            assert refusal is not None
            _refuse(meta, part.dossier_id, received.source_name, refusal)
            return
        final = signature.path
    stored_pdf = objects.put_file(keys.pdf_key(part.dossier_id), final, "application/pdf")
    if signature is not None and stored_pdf.sha256 != signature.sha256:
        # TT 01/2023 Art. 8: integrity kept in transfer. The signed bytes are stored as
        # they are; anything else is a store fault, and a retry writes them again.
        raise StorageError(
            f"{stored_pdf.key}: stored bytes differ from the signed file "
            f"(SHA-256 {stored_pdf.sha256}, signed {signature.sha256})"
        )
    stored = [
        ("pdf", stored_pdf),
        (
            "text",
            objects.put_bytes(
                keys.text_key(part.dossier_id), text.encode("utf-8"), "text/plain; charset=utf-8"
            ),
        ),
        (
            "fields",
            objects.put_bytes(
                keys.fields_key(part.dossier_id),
                json.dumps(extracted.to_json(), ensure_ascii=False, indent=2).encode("utf-8"),
                "application/json",
            ),
        ),
        ("original", objects.stat(received.original_key)),
    ]
    own_pages, stack = _own_pages(objects, received, part, source.path, work)
    stored += own_pages
    for crop_key in sorted({f.crop_key for f in extracted.fields.values() if f.crop_key}):
        stored.append(("field-crop", objects.stat(crop_key)))
    for source_index in part.pages:
        stored.append(
            ("page-image", objects.stat(keys.page_image_key(received.dossier_id, source_index)))
        )
        stored.append(
            ("page-ocr", objects.stat(keys.page_ocr_key(received.dossier_id, source_index)))
        )
    write_manifest(
        objects,
        part.dossier_id,
        stored,
        part.pages,
        signature=signature_record(signature),
        stack=stack,
    )
    faults.point("archive.after-manifest")
    meta.mark_archived(
        part.dossier_id,
        fields=[field_info(name, f) for name, f in extracted.fields.items()],
        pages=page_infos,
        review_reasons=list(extracted.review_reasons),
        text=text,
    )
    for path in {assembled, archival, final}:
        path.unlink(missing_ok=True)


def _own_pages(
    objects: ObjectStore,
    received: ReceivedDossier,
    part: DossierPart,
    source_path: Path,
    work: Path,
) -> tuple[list[tuple[str, StoredObject]], dict[str, Any] | None]:
    """A dossier split from a stack: its page range of the stack as its own original
    (manifest role ``part-original``), and which stack and pages it holds. The stack stays
    the batch's untouched original; a file that is one dossier whole needs neither."""
    if part.pages == tuple(range(received.page_count)):
        return [], None
    media_type = received.media_type or ""
    path = copy_pages(
        source_path,
        work / f"{part.dossier_id}.part{Path(received.original_key).suffix}",
        media_type=media_type,
        pages=part.pages,
        name=received.source_name,
    )
    stored = objects.put_file(keys.part_original_key(part.dossier_id, media_type), path, media_type)
    path.unlink(missing_ok=True)
    stack = {
        "dossier_id": received.dossier_id,
        "key": received.original_key,
        "sha256": received.sha256,
        "page_count": received.page_count,
        "pages": [index + 1 for index in part.pages],
    }
    return [("part-original", stored)], stack


def _handwritten_areas(
    record: dict[str, Any], owner: str, source_index: int
) -> tuple[HandwrittenArea, ...]:
    """The handwritten areas the page step found, by the keys their crops were stored at."""
    areas = (
        HandwrittenArea.from_record(item, keys.field_crop_key(owner, source_index, item["field"]))
        for item in record.get("handwritten", [])
        if isinstance(item, dict) and isinstance(item.get("field"), str)
    )
    return tuple(area for area in areas if area is not None)


def field_info(name: str, found: Field) -> FieldInfo:
    """The stored shape of an extracted field, with every candidate and its source."""
    return FieldInfo(
        name,
        found.value,
        found.source,
        found.confidence,
        found.needs_review,
        found.note,
        candidates=tuple(
            FieldCandidate(c.value, c.source, c.confidence, c.where, c.paper, c.page)
            for c in found.candidates
        ),
        state=found.state,
        crop_key=found.crop_key,
        suggestion=found.suggestion,
        suggestion_confidence=found.suggestion_confidence,
    )


def signature_record(signature: SignatureInfo | None) -> dict[str, Any] | None:
    """What the manifest says about the signature (None: archived unsigned)."""
    if signature is None:
        return None
    return {
        "signer_name": signature.signer_name,
        "signed_at": signature.signed_at.isoformat(),
        "certificate_subject": signature.certificate_subject,
        "certificate_serial": signature.certificate_serial,
        "certificate_sha256": signature.certificate_sha256,
        "field_name": signature.field_name,
    }
