"""The dossier stage: from the records of a dossier's pages to what is archived, and whether.

Same shape as the page stages, ``decide_dossier(evidence, context) -> DossierVerdict``: a
plain function of frozen inputs, no store, no clock, no Prefect. The archive flow fetches
the page records, calls it, and carries out the verdict (assemble, PDF/A, sign, store).

It decides
- the fields, from every page's evidence (``pipeline.fields``);
- the colour verdict: at ingest only the batch's procedure (or the global rule) was known;
  the procedure the papers name wins here, so its pages get the colour warning when it
  requires colour and lose it when it does not, and under ``refuse`` the dossier is refused;
- what the archival copy says about itself (title, code, agency, digitiser);
- who signs (:func:`choose_signer`), also asked at intake so a dossier that could never be
  archived fails before any OCR.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from config.catalogue import Catalogue
from config.signers import Signer, Signers
from models.codes import receiving_unit
from models.dossier import PageInfo
from models.pagerecord import PageRecord, WarningCode, colour_warning
from pipeline.assemble import DocumentInfo, PageLayer, page_layer
from pipeline.classify import PageKind
from pipeline.extract import ExtractedFields
from pipeline.fields import PageEvidence, extract_dossier_fields
from pipeline.handwriting import HandwrittenArea
from pipeline.load import ColourMode
from pipeline.xmp import ArchiveMetadata

__all__ = [
    "DossierContext",
    "DossierEvidence",
    "DossierPage",
    "DossierVerdict",
    "SignerChoice",
    "choose_signer",
    "decide_dossier",
]


@dataclass(frozen=True)
class SignerChoice:
    """The signer for a batch's counter, or why its dossiers must fail without one.

    ``refusal`` is None when a signer was found, or when signing is not required (the copy
    is then archived unsigned, which ``sohoa verify`` reports as such).
    """

    signer: Signer | None
    refusal: str | None = None


def choose_signer(signers: Signers, counter_id: str | None, *, required: bool) -> SignerChoice:
    signer = signers.for_counter(counter_id)
    if signer is not None or not required:
        return SignerChoice(signer)
    if not signers.configured:
        return SignerChoice(
            None,
            "signing is required (SOHOA_SIGNING_REQUIRED) but no signer is configured: "
            "set SOHOA_SIGNERS_FILE or SOHOA_SIGNING_PKCS12",
        )
    if counter_id is None:
        return SignerChoice(
            None,
            f"signing is required but the batch names no counter and {signers.source} "
            "has no [default] signer: give --counter or add [default]",
        )
    return SignerChoice(
        None,
        f"signing is required but {signers.source} has no signer for counter "
        f"{counter_id} and no [default]",
    )


@dataclass(frozen=True)
class DossierPage:
    """One page of the dossier as the page stage left it.

    ``info`` is as recorded at ingest (its ``index`` the page's place in the scanned file);
    ``crop_keys`` names, by field, where the crops of its handwritten areas are stored.
    """

    record: PageRecord
    info: PageInfo
    colour_mode: str = ColourMode.COLOUR
    crop_keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DossierEvidence:
    dossier_id: str
    source_name: str  # what the user called the scanned file
    pages: tuple[DossierPage, ...]  # in the dossier's paper order
    procedure_hint: str | None = None  # the batch's procedure, if the upload named one
    batch_agency: str | None = None  # the agency the upload named (checked against the code)
    dossier_agency: str | None = None  # the agency the dossier is routed to
    counter_id: str | None = None
    uploaded_by: str | None = None


@dataclass(frozen=True)
class DossierContext:
    catalogue: Catalogue
    colour_required: bool  # SOHOA_COLOUR_REQUIRED, for a procedure without its own rule
    refuse_non_colour: bool  # SOHOA_COLOUR_ACTION=refuse
    signer: Signer | None  # who signs the copy (choose_signer), None: unsigned
    digitiser_name: str = ""  # SOHOA_DIGITISER_NAME, for unsigned copies
    made_at: datetime | None = None  # when the archival copy is made


@dataclass(frozen=True)
class DossierVerdict:
    fields: ExtractedFields
    procedure_id: str | None
    pages: tuple[PageInfo, ...]  # numbered in dossier order, colour warnings re-decided
    layers: tuple[PageLayer, ...]  # what assembly lays over each page, in order
    text: str  # every page's text, pages separated by form feeds
    document: DocumentInfo
    metadata: ArchiveMetadata
    refusal: str | None = None  # set: the dossier must not be archived as it is

    @property
    def crop_keys(self) -> tuple[str, ...]:
        """The handwriting crops the fields point at: archived with the dossier."""
        return tuple(sorted({f.crop_key for f in self.fields.fields.values() if f.crop_key}))


def page_evidence(position: int, page: DossierPage) -> PageEvidence:
    """What one page gives the fields stage, numbered in dossier order."""
    record = page.record
    crop_keys = dict(page.crop_keys)
    areas = (
        HandwrittenArea.from_note(note, crop_keys[note.field])
        for note in record.handwritten
        if note.field in crop_keys
    )
    return PageEvidence(
        index=position,
        kind=PageKind(page.info.kind),
        text=record.text,
        barcodes=record.barcodes,
        procedure_id=record.procedure_id,
        ocr_confidence=page.info.ocr_confidence,
        handwritten=tuple(area for area in areas if area is not None),
        reread=tuple((r.field, r.text, r.confidence) for r in record.reread),
    )


def _colour_verdict(
    pages: tuple[DossierPage, ...],
    required: bool,
    refuse: bool,
    procedure_id: str | None,
) -> tuple[tuple[PageInfo, ...], str | None]:
    """Each page's info in dossier order with the colour warning as the rule now says, and
    the refusal when it must be refused."""
    infos: list[PageInfo] = []
    first_bad: tuple[int, str] | None = None
    for position, page in enumerate(pages):
        warnings = tuple(w.text for w in page.record.warnings if w.code is not WarningCode.COLOUR)
        if required and page.colour_mode != ColourMode.COLOUR:
            warning = colour_warning(page.colour_mode).text
            warnings += (warning,)
            first_bad = first_bad or (page.info.index, warning)
        infos.append(replace(page.info, index=position, warnings=warnings))
    refusal = None
    if first_bad is not None and refuse:
        index, warning = first_bad
        which = f" (procedure {procedure_id})" if procedure_id else ""
        refusal = f"page {index + 1} {warning}{which}: scan it again in colour"
    return tuple(infos), refusal


def decide_dossier(evidence: DossierEvidence, context: DossierContext) -> DossierVerdict:
    """Everything about the dossier that is a decision, from its pages' records."""
    fields = extract_dossier_fields(
        [page_evidence(position, page) for position, page in enumerate(evidence.pages)],
        context.catalogue,
        agency_code=evidence.batch_agency,
    )
    code = fields.dossier_code
    procedure_field = fields.fields.get("procedure")
    procedure_id = procedure_field.value if procedure_field else evidence.procedure_hint
    required = context.catalogue.colour_required(procedure_id, context.colour_required)
    infos, refusal = _colour_verdict(
        evidence.pages, required, context.refuse_non_colour, procedure_id
    )
    layers = tuple(
        page_layer(
            page.record, dpi=page.info.dpi, width_px=page.info.width_px,
            height_px=page.info.height_px,
        )
        for page in evidence.pages
    )  # fmt: skip
    title = f"Hồ sơ {code or evidence.dossier_id}"
    # The person who digitised: the signer; unsigned, whoever handed the files in.
    signer = context.signer
    digitiser = signer.name if signer else context.digitiser_name or evidence.uploaded_by or ""
    return DossierVerdict(
        fields=fields,
        procedure_id=procedure_id,
        pages=infos,
        layers=layers,
        text="\f".join(page.record.text for page in evidence.pages),
        document=DocumentInfo(title=title, subject=evidence.source_name, keywords=code or ""),
        metadata=ArchiveMetadata(
            title=title,
            dossier_code=code or "",
            procedure=procedure_id or "",
            agency_code=evidence.dossier_agency or receiving_unit(code) or "",
            digitiser=digitiser,
            subject=evidence.source_name,
            keywords=(code,) if code else (),
            created_at=context.made_at,
            extra=(("DossierId", evidence.dossier_id), ("CounterId", evidence.counter_id or "")),
        ),
        refusal=refusal,
    )
