"""Rows to frozen ``models`` records and back: callers never see a row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models import (
    BatchInfo,
    DossierInfo,
    DossierStatus,
    FieldCandidate,
    FieldInfo,
    FieldState,
    PageInfo,
    Principal,
    Role,
    TokenInfo,
)
from models.codes import received_on, receiving_unit
from models.textfold import fold
from storage.metadata.rows import BatchRow, DossierRow, PageRow, TokenRow, as_utc


def batch_info(row: BatchRow) -> BatchInfo:
    return BatchInfo(
        batch_id=row.batch_id,
        created_at=as_utc(row.created_at),
        lang=row.lang,
        source_count=row.source_count,
        uploaded_by=row.uploaded_by,
        counter_id=row.counter_id,
        post_office_id=row.post_office_id,
        agency_code=row.agency_code,
        procedure=row.procedure,
        token_id=row.token_id,
        flow_run_id=row.flow_run_id,
        uploaded_by_account=row.uploaded_by_account,
    )


def token_info(row: TokenRow, user_name: str | None = None) -> TokenInfo:
    """A token as a record; ``user_name``: the account it carries the scope of, if any."""
    return TokenInfo(
        principal=Principal(
            token_id=row.token_id,
            name=row.name,
            role=Role(row.role),
            agency_code=row.agency_code,
            counter_id=row.counter_id,
            user_name=user_name,
        ),
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
    )


def apply_field_values(row: DossierRow, values: dict[str, Any]) -> None:
    """Copy the fields people search by into their indexed columns."""
    row.fields = values
    row.dossier_code = values.get("dossier_code")
    row.received_on = received_on(row.dossier_code)
    row.procedure = values.get("procedure") or row.procedure
    row.id_number = values.get("id_number")
    row.full_name = values.get("full_name")
    row.full_name_folded = " ".join(fold(row.full_name).split()) if row.full_name else None
    # An upload that named its agency keeps it; otherwise the code says who received it.
    row.agency_code = row.agency_code or receiving_unit(row.dossier_code)


def fold_text(text: str) -> str:
    """Folded words separated by single spaces: what full-text search matches against."""
    folded = fold(text)
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def fill_page_row(row: PageRow, page: PageInfo) -> None:
    row.width_px, row.height_px, row.dpi = page.width_px, page.height_px, page.dpi
    row.rotation, row.skew_deg, row.blank = page.rotation, page.skew_deg, page.blank
    row.ocr_confidence, row.text_source = page.ocr_confidence, page.text_source
    row.warnings = list(page.warnings)
    row.kind, row.kind_confidence = page.kind, page.kind_confidence
    row.source_index = page.source_index if page.source_index is not None else page.index


def dossier_info(row: DossierRow, *, with_pages: bool) -> DossierInfo:
    pages: Sequence[PageRow] = row.pages if with_pages else ()
    return DossierInfo(
        dossier_id=row.dossier_id,
        batch_id=row.batch_id,
        source_name=row.source_name,
        status=DossierStatus(row.status),
        page_count=row.page_count,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        dossier_code=row.dossier_code,
        original_sha256=row.original_sha256,
        original_size=row.original_size,
        media_type=row.media_type,
        error=row.error,
        fields=dict(row.fields or {}),
        procedure=row.procedure,
        needs_review=bool(row.needs_review),
        review_reasons=tuple(row.review_reasons or ()),
        source_pages=tuple(row.source_pages or ()),
        source_dossier_id=row.source_dossier_id,
        field_details=tuple(
            FieldInfo(
                f.name,
                f.value,
                f.source,
                f.confidence,
                f.needs_review,
                f.note,
                tuple(FieldCandidate.from_json(c) for c in (f.candidates or ())),
                f.state or FieldState.READ,
                f.crop_key,
                f.suggestion,
                f.suggestion_confidence,
            )
            for f in (row.field_rows if with_pages else ())
        ),
        agency_code=row.agency_code,
        id_number=row.id_number,
        full_name=row.full_name,
        archived_at=as_utc(row.archived_at) if row.archived_at else None,
        duplicate_of=row.duplicate_of,
        pages=tuple(
            PageInfo(
                index=p.index,
                width_px=p.width_px,
                height_px=p.height_px,
                dpi=p.dpi,
                rotation=p.rotation,
                skew_deg=p.skew_deg,
                blank=p.blank,
                ocr_confidence=p.ocr_confidence,
                text_source=p.text_source,
                warnings=tuple(p.warnings or ()),
                kind=p.kind,
                kind_confidence=p.kind_confidence,
                source_index=p.source_index,
            )
            for p in pages
        ),
    )


def batch_row(batch: BatchInfo) -> BatchRow:
    return BatchRow(
        batch_id=batch.batch_id,
        created_at=batch.created_at,
        lang=batch.lang,
        source_count=batch.source_count,
        uploaded_by=batch.uploaded_by,
        counter_id=batch.counter_id,
        post_office_id=batch.post_office_id,
        agency_code=batch.agency_code,
        procedure=batch.procedure,
        token_id=batch.token_id,
        uploaded_by_account=batch.uploaded_by_account,
    )
