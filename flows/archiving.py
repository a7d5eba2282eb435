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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from config import Settings
from config.catalogue import load_catalogue
from config.signers import Signer, SignerConfigError
from flows.runtime import metadata_store, object_store
from models import BatchInfo, DossierInfo, DossierStatus, faults
from models.errors import StorageError
from models.pagerecord import decode_page_record
from pipeline.assemble import assemble_searchable_pdf
from pipeline.dossier import (
    DossierContext,
    DossierEvidence,
    DossierPage,
    DossierVerdict,
    decide_dossier,
)
from pipeline.load import SourceDocument
from pipeline.page_range import copy_pages
from pipeline.pdfa import make_pdfa
from storage import keys
from storage.archive import write_manifest
from storage.metadata import MetadataStore
from storage.objects import ObjectStore, StoredObject

if TYPE_CHECKING:
    from models import Submission
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


@dataclass
class ArchiveJob:
    """One dossier on its way to the archive: what each step reads, and what it leaves
    for the steps after it. ``stopped`` (refused, or archived before): nothing more runs."""

    settings: Settings
    received: ReceivedDossier
    part: DossierPart
    pages: list[PageDone]
    meta: MetadataStore
    objects: ObjectStore
    dossier: DossierInfo
    batch: BatchInfo
    work: Path
    stopped: bool = False
    signer: Signer | None = None
    source: SourceDocument | None = None
    verdict: DossierVerdict | None = None
    assembled: Path | None = None
    archival: Path | None = None
    signature: SignatureInfo | None = None
    final: Path | None = None
    stored: list[tuple[str, StoredObject]] = field(default_factory=list)
    stack: dict[str, Any] | None = None
    submissions: list[Submission] = field(default_factory=list)

    def refuse(self, reason: str) -> None:
        """The dossier must not be archived as it is: FAILED with one line; original kept.

        Recorded rather than raised, like a refused file at receive: no retry can help,
        and the batch report reads the reason from the dossier record.
        """
        name = self.received.source_name
        message = reason if reason.startswith(f"{name}:") else f"{name}: {reason}"
        log.info("dossier %s not archived: %s", self.part.dossier_id, message)
        self.meta.set_status(self.part.dossier_id, DossierStatus.FAILED, message)
        self.stopped = True

    def path(self, suffix: str) -> Path:
        return self.work / f"{self.part.dossier_id}{suffix}"


class ArchiveStep(Protocol):
    name: str

    def able_to_run(self, job: ArchiveJob) -> bool: ...

    def run(self, job: ArchiveJob) -> None: ...


class SignerStep:
    """Who signs the copy; a counter that must sign and has no signer fails here."""

    name = "signer"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped

    def run(self, job: ArchiveJob) -> None:
        job.signer, refusal = batch_signer(job.settings, job.batch)
        if refusal is not None:
            job.refuse(refusal)


class DecideStep:
    """The dossier stage's verdict on the pages' records (``pipeline.dossier``)."""

    name = "decide"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped

    def run(self, job: ArchiveJob) -> None:
        received, part, batch, dossier = job.received, job.part, job.batch, job.dossier
        by_index = {p.info.index: p for p in job.pages}
        owner = received.dossier_id
        evidence = DossierEvidence(
            dossier_id=part.dossier_id,
            source_name=received.source_name,
            pages=tuple(_dossier_page(job.objects, owner, by_index[i]) for i in part.pages),
            procedure_hint=dossier.procedure,
            batch_agency=batch.agency_code,
            dossier_agency=dossier.agency_code,
            counter_id=batch.counter_id,
            uploaded_by=batch.uploaded_by,
        )
        settings = job.settings
        job.verdict = decide_dossier(
            evidence,
            DossierContext(
                catalogue=load_catalogue(settings.catalogue_path),
                colour_required=settings.colour_required,
                refuse_non_colour=settings.colour_action == "refuse",
                signer=job.signer,
                digitiser_name=settings.digitiser_name,
                made_at=datetime.now(UTC),
            ),
        )
        if job.verdict.refusal is not None:
            job.refuse(job.verdict.refusal)


class AssembleStep:
    """The untouched scans with the invisible text layer, then PDF/A-2b."""

    name = "assemble"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped and job.verdict is not None

    def run(self, job: ArchiveJob) -> None:
        assert job.verdict is not None
        job.source = local_source(job.settings, job.received)
        job.assembled = job.path(".pdf")
        assemble_searchable_pdf(
            job.source, list(job.verdict.layers), job.assembled, job.verdict.document
        )
        faults.point("archive.after-assemble")
        job.archival = make_pdfa(
            job.assembled,
            job.path(".pdfa.pdf"),
            source_name=job.received.source_name,
            metadata=job.verdict.metadata,
        )
        job.final = job.archival


class SignStep:
    """The digitiser's signature, when the batch's counter has a signer."""

    name = "sign"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped and job.signer is not None and job.archival is not None

    def run(self, job: ArchiveJob) -> None:
        assert job.signer is not None and job.archival is not None
        signature, refusal = sign_archive(job.archival, job.path(".signed.pdf"), job.signer)
        if signature is None:
            job.refuse(refusal or "not signed")
            return
        job.signature, job.final = signature, signature.path


class StoreStep:
    """The PDF stored byte for byte as signed, the text and the fields; the dossier's
    other objects listed as they were stored (page artefacts as their put returned them)."""

    name = "store"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped and job.final is not None

    def run(self, job: ArchiveJob) -> None:
        assert job.final is not None and job.verdict is not None and job.source is not None
        objects, dossier_id, signature = job.objects, job.part.dossier_id, job.signature
        stored_pdf = objects.put_file(keys.pdf_key(dossier_id), job.final, "application/pdf")
        if signature is not None and stored_pdf.sha256 != signature.sha256:
            # TT 01/2023 Art. 8: integrity kept in transfer. The signed bytes are stored as
            # they are; anything else is a store fault, and a retry writes them again.
            raise StorageError(
                f"{stored_pdf.key}: stored bytes differ from the signed file "
                f"(SHA-256 {stored_pdf.sha256}, signed {signature.sha256})"
            )
        fields = json.dumps(job.verdict.fields.to_json(), ensure_ascii=False, indent=2).encode()
        text = job.verdict.text.encode("utf-8")
        text_type, fields_type = "text/plain; charset=utf-8", "application/json"
        job.stored += [
            ("pdf", stored_pdf),
            ("text", objects.put_bytes(keys.text_key(dossier_id), text, text_type)),
            (
                "fields",
                objects.put_bytes(keys.fields_key(dossier_id), fields, fields_type),
            ),
            # Its digest as kept at put (the store does not hash the original again).
            ("original", objects.stat(job.received.original_key)),
        ]
        # Rescanned: every file the dossier was handed in as, the first original among them,
        # and each file its pages were read from before (issue 26).
        job.submissions = job.meta.submissions(dossier_id)
        for submission in job.submissions:
            job.stored.append(("submission", objects.stat(submission.object_key)))
            if submission.source_key not in (job.received.original_key, submission.object_key):
                job.stored.append(("earlier-source", objects.stat(submission.source_key)))
        own_pages, job.stack = _own_pages(
            objects, job.received, job.part, job.source.path, job.work
        )
        job.stored += own_pages
        job.stored += _page_artefacts(objects, job.pages, job.part, job.verdict.crop_keys)


class ManifestStep:
    """The manifest, written last of the objects: only now can the dossier be served."""

    name = "manifest"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped and bool(job.stored)

    def run(self, job: ArchiveJob) -> None:
        write_manifest(
            job.objects,
            job.part.dossier_id,
            job.stored,
            job.part.pages,
            signature=signature_record(job.signature),
            stack=job.stack,
            submissions=[submission.to_json() for submission in job.submissions] or None,
        )
        faults.point("archive.after-manifest")


class RecordStep:
    """The dossier marked archived, with its fields, pages, review reasons and text."""

    name = "record"

    def able_to_run(self, job: ArchiveJob) -> bool:
        return not job.stopped and bool(job.stored)

    def run(self, job: ArchiveJob) -> None:
        assert job.verdict is not None
        extracted = job.verdict.fields
        job.meta.mark_archived(
            job.part.dossier_id,
            fields=list(extracted.fields.values()),
            pages=list(job.verdict.pages),
            review_reasons=list(extracted.review_reasons),
            text=job.verdict.text,
        )
        for path in {job.assembled, job.archival, job.final}:
            if path is not None:
                path.unlink(missing_ok=True)


# In order; each runs when what it needs is there and no step before refused the dossier.
ARCHIVE_STEPS: tuple[ArchiveStep, ...] = (
    SignerStep(),
    DecideStep(),
    AssembleStep(),
    SignStep(),
    StoreStep(),
    ManifestStep(),
    RecordStep(),
)


def sign_archive(
    pdfa_path: Path, output: Path, signer: Signer
) -> tuple[SignatureInfo | None, str | None]:
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
    steps: tuple[ArchiveStep, ...] = ARCHIVE_STEPS,
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
    job = ArchiveJob(
        settings=settings,
        received=received,
        part=part,
        pages=pages,
        meta=meta,
        objects=objects,
        dossier=dossier,
        batch=meta.get_batch(dossier.batch_id),
        work=dossier_work_dir(settings, received.dossier_id),
    )
    for step in steps:
        if step.able_to_run(job):
            step.run(job)


def _page_artefacts(
    objects: ObjectStore, pages: list[PageDone], part: DossierPart, crop_keys: tuple[str, ...]
) -> list[tuple[str, StoredObject]]:
    """The handwriting crops the fields point at, then each page's image and record, as
    the page tasks stored them (a page done before they were carried: read back)."""
    carried = {item.key: item for page in pages for item in page.stored}
    owner = pages[0].dossier_id if pages else ""

    def stored(key: str) -> StoredObject:
        return carried.get(key) or objects.stat(key)

    listed = [("field-crop", stored(key)) for key in crop_keys]
    for index in part.pages:
        listed.append(("page-image", stored(keys.page_image_key(owner, index))))
        listed.append(("page-ocr", stored(keys.page_ocr_key(owner, index))))
    return listed


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
