"""Batch, dossier and page as plain frozen records.

These are the shapes the rest of the system talks in; the ORM rows in
``storage.metadata`` are converted to them at the store's boundary so that no caller
holds a live database session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class DossierStatus(StrEnum):
    RECEIVED = "received"  # original stored, nothing processed yet
    PROCESSING = "processing"
    ARCHIVED = "archived"  # searchable PDF and metadata stored; the dossier may be served
    FAILED = "failed"  # see ``error``; the original is kept and the dossier can be retried
    DUPLICATE = "duplicate"  # the same file was already received: see ``duplicate_of``


@dataclass(frozen=True)
class BatchInfo:
    batch_id: str
    created_at: datetime
    lang: str
    source_count: int
    uploaded_by: str | None = None  # the clerk (or token name) who handed the files in
    counter_id: str | None = None  # the counter / one-stop desk
    post_office_id: str | None = None
    agency_code: str | None = None  # receiving agency for every dossier of the batch, if known
    procedure: str | None = None  # procedure hint given at upload
    token_id: str | None = None  # the counter token that uploaded it (its owner)
    flow_run_id: str | None = None  # the Prefect flow run that processes it
    # The person's account that uploaded it (their user name); None for a machine's token,
    # whose label ``uploaded_by`` already is.
    uploaded_by_account: str | None = None


@dataclass(frozen=True)
class Submission:
    """A file a dossier was handed in as (1: the first upload; 2, 3 ...: rescans), and the
    file its pages were read from after it (the dossier's pages with the new ones in)."""

    dossier_id: str
    number: int
    object_key: str
    sha256: str
    size: int
    media_type: str | None
    page_count: int
    source_name: str
    replaces: tuple[int, ...]  # dossier pages (1-based) this file's first pages replace
    submitted_at: datetime
    submitted_by: str | None
    source_key: str
    source_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "key": self.object_key,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "pages": self.page_count,
            "source_name": self.source_name,
            "replaces": list(self.replaces),
            "submitted_at": self.submitted_at.isoformat(),
            "submitted_by": self.submitted_by,
            "source_key": self.source_key,
            "source_sha256": self.source_sha256,
        }


@dataclass(frozen=True)
class StoredOriginal:
    """One file of an upload whose original is already in the object store (or that is a
    duplicate and needs none): what the service records, all at once, after storing them."""

    dossier_id: str
    position: int
    source_name: str
    sha256: str
    size: int
    original_key: str | None  # None for a duplicate: the earlier dossier holds the bytes
    media_type: str | None
    page_count: int
    duplicate_of: str | None = None


@dataclass(frozen=True)
class PageInfo:
    index: int  # 0-based position in the dossier, the paper order
    width_px: int
    height_px: int
    dpi: float
    rotation: int = 0  # clockwise degrees applied to make the page upright
    skew_deg: float = 0.0
    blank: bool = False
    ocr_confidence: float | None = None  # mean word confidence, 0-100
    text_source: str = "ocr"  # "ocr", or "pdf" when the page already carried text
    warnings: tuple[str, ...] = ()
    kind: str = "other"  # receipt, application_form, id_copy, blank, other
    kind_confidence: float = 0.0
    source_index: int | None = None  # the page's place in the scanned file


@dataclass(frozen=True)
class FieldCandidate:
    """One reading of a field and where it came from (kept for review and audit)."""

    value: str
    source: str  # "qr", "ocr", "pdf"
    confidence: float
    where: str  # "citizen-ID QR, page 3", "application form page 2"
    paper: str = "other"  # citizen_id_qr, receipt_qr, receipt, application_form, id_copy, other
    page: int | None = None  # 0-based page of the dossier

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "confidence": round(self.confidence, 3),
            "where": self.where,
            "paper": self.paper,
            "page": self.page,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldCandidate:
        page = data.get("page")
        return cls(
            value=str(data.get("value", "")),
            source=str(data.get("source", "")),
            confidence=float(data.get("confidence", 0.0)),
            where=str(data.get("where", "")),
            paper=str(data.get("paper", "other")),
            page=int(page) if page is not None else None,
        )


class FieldState(StrEnum):
    READ = "read"
    HANDWRITTEN = "handwritten"  # ink OCR could not read: a person keys it in from the crop
    NOT_ON_PAPERS = "not_on_papers"  # a person found the value is on none of the papers


@dataclass(frozen=True)
class FieldInfo:
    """One field of a dossier: as the extraction stage (``pipeline.fields``) chose it, as
    stored, and as an operator corrected it; one shape for all three."""

    name: str  # canonical: dossier_code, procedure, full_name, date_of_birth, sex, ...
    value: str
    source: str  # "qr", "ocr", "pdf", or "operator" after a correction
    confidence: float
    needs_review: bool = False
    note: str | None = None
    candidates: tuple[FieldCandidate, ...] = ()
    state: str = FieldState.READ
    crop_key: str | None = None  # object key of the handwritten area's image
    suggestion: str | None = None  # a line reader's guess, shown beside the crop
    suggestion_confidence: float | None = None

    def _read(self) -> dict[str, Any]:
        """What both shapes below open with, in this order (the archived file's bytes)."""
        return {
            "value": self.value,
            "source": self.source,
            "confidence": round(self.confidence, 3),
            "needs_review": self.needs_review,
            "note": self.note,
            "candidates": [c.to_json() for c in self.candidates],
            "state": str(self.state),
        }

    def _suggested(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion, "suggestion_confidence": self.suggestion_confidence}

    def to_json(self) -> dict[str, Any]:
        """The shape the CLI and the service show."""
        return {
            **self._read(),
            "handwritten": self.state == FieldState.HANDWRITTEN,
            **self._suggested(),
        }

    def to_archive_json(self) -> dict[str, Any]:
        """The shape of the field in the archived ``fields.json`` (names its crop's key)."""
        return {**self._read(), "crop_key": self.crop_key, **self._suggested()}


@dataclass(frozen=True)
class DossierInfo:
    dossier_id: str
    batch_id: str
    source_name: str
    status: DossierStatus
    page_count: int
    created_at: datetime
    updated_at: datetime
    dossier_code: str | None = None
    original_sha256: str | None = None
    original_size: int | None = None
    media_type: str | None = None
    error: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    pages: tuple[PageInfo, ...] = ()
    procedure: str | None = None
    needs_review: bool = False
    review_reasons: tuple[str, ...] = ()
    source_pages: tuple[int, ...] = ()
    field_details: tuple[FieldInfo, ...] = ()
    agency_code: str | None = None  # the agency the dossier is routed to (who may see it)
    id_number: str | None = None
    full_name: str | None = None
    archived_at: datetime | None = None
    duplicate_of: str | None = None
    source_dossier_id: str | None = None  # split from this dossier's scanned file

    @property
    def file_owner(self) -> str:
        """The dossier under whose id the scanned file's page artefacts are stored."""
        return self.source_dossier_id or self.dossier_id

    def summary(self) -> dict[str, Any]:
        """The JSON shape of ``sohoa list``/``show`` and the batch report."""
        return {
            "dossier_id": self.dossier_id,
            "batch_id": self.batch_id,
            "source": self.source_name,
            "status": str(self.status),
            "pages": self.page_count,
            "dossier_code": self.dossier_code,
            "fields": dict(self.fields),
            "procedure": self.procedure,
            "agency": self.agency_code,
            "id_number": self.id_number,
            "full_name": self.full_name,
            "needs_review": self.needs_review,
            "review_reasons": list(self.review_reasons),
            "error": self.error,
            "duplicate_of": self.duplicate_of,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
        }


@dataclass(frozen=True)
class FieldCorrection:
    """An operator's change to an extracted field, kept for audit."""

    dossier_id: str
    name: str
    old_value: str | None
    new_value: str
    corrected_by: str
    corrected_at: datetime
    note: str | None = None
