"""Archiving a dossier: the page records fetched, the dossier stage's verdict
(``pipeline.dossier``: fields, colour, signer, what the copy says about itself) carried
out: the searchable PDF/A, the signature, the manifest, and the archived record.

Called by the batch flow's archive task (``flows/batch.py``) after every page of the
dossier's scanned file is read; like ``flows.steps`` it takes settings, keys and small
frozen records, so any worker can run it and re-running it duplicates nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import Settings
from config.catalogue import load_catalogue
from config.signers import Signer, SignerConfigError
from flows.runtime import metadata_store, object_store
from models import DossierStatus, faults
from models.errors import StorageError
from models.pagerecord import decode_page_record
from pipeline.assemble import assemble_searchable_pdf
from pipeline.dossier import DossierContext, DossierEvidence, DossierPage, decide_dossier
from pipeline.page_range import copy_pages
from pipeline.pdfa import make_pdfa
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
    source = local_source(settings, received)
    work = dossier_work_dir(settings, received.dossier_id)
    by_index = {p.info.index: p for p in pages}
    evidence = DossierEvidence(
        dossier_id=part.dossier_id,
        source_name=received.source_name,
        pages=tuple(_dossier_page(objects, received.dossier_id, by_index[i]) for i in part.pages),
        procedure_hint=dossier.procedure,
        batch_agency=batch.agency_code,
        dossier_agency=dossier.agency_code,
        counter_id=batch.counter_id,
        uploaded_by=batch.uploaded_by,
    )
    verdict = decide_dossier(
        evidence,
        DossierContext(
            catalogue=load_catalogue(settings.catalogue_path),
            colour_required=settings.colour_required,
            refuse_non_colour=settings.colour_action == "refuse",
            signer=signer,
            digitiser_name=settings.digitiser_name,
            made_at=datetime.now(UTC),
        ),
    )
    if verdict.refusal is not None:
        _refuse(meta, part.dossier_id, received.source_name, verdict.refusal)
        return
    assembled = work / f"{part.dossier_id}.pdf"
    assemble_searchable_pdf(source, list(verdict.layers), assembled, verdict.document)
    faults.point("archive.after-assemble")
    archival = make_pdfa(
        assembled,
        work / f"{part.dossier_id}.pdfa.pdf",
        source_name=received.source_name,
        metadata=verdict.metadata,
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
    extracted = verdict.fields
    stored = [
        ("pdf", stored_pdf),
        (
            "text",
            objects.put_bytes(
                keys.text_key(part.dossier_id),
                verdict.text.encode("utf-8"),
                "text/plain; charset=utf-8",
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
    # Rescanned: every file the dossier was handed in as, the first original among them,
    # and each file its pages were read from before (issue 26).
    submissions = meta.submissions(part.dossier_id)
    for submission in submissions:
        stored.append(("submission", objects.stat(submission.object_key)))
        if submission.source_key not in (received.original_key, submission.object_key):
            stored.append(("earlier-source", objects.stat(submission.source_key)))
    own_pages, stack = _own_pages(objects, received, part, source.path, work)
    stored += own_pages
    for crop_key in verdict.crop_keys:
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
        submissions=[submission.to_json() for submission in submissions] or None,
    )
    faults.point("archive.after-manifest")
    meta.mark_archived(
        part.dossier_id,
        fields=list(extracted.fields.values()),
        pages=list(verdict.pages),
        review_reasons=list(extracted.review_reasons),
        text=verdict.text,
    )
    for path in {assembled, archival, final}:
        path.unlink(missing_ok=True)


def _dossier_page(objects: ObjectStore, owner: str, page: PageDone) -> DossierPage:
    """A page of the dossier for the dossier stage: its record fetched from the store
    (whatever machine read the page), with the keys its handwriting crops are stored at."""
    index = page.info.index
    record = decode_page_record(objects.get_bytes(page.ocr_key))
    crop_keys: list[tuple[str, str]] = []
    for note in record.handwritten:
        try:
            crop_keys.append((note.field, keys.field_crop_key(owner, index, note.field)))
        except ValueError:
            continue  # not a field name: no crop was stored for it
    return DossierPage(record, page.info, page.colour_mode, tuple(crop_keys))


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
