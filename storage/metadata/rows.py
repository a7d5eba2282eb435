"""The ORM rows: how the Alembic-owned schema (``storage/migrations``) looks to queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Autoincrement ids: 64-bit on PostgreSQL (events grow forever), rowid on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class BatchRow(Base):
    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    lang: Mapped[str] = mapped_column(String(64))
    source_count: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str | None] = mapped_column(String(128))
    counter_id: Mapped[str | None] = mapped_column(String(64))
    post_office_id: Mapped[str | None] = mapped_column(String(64))
    agency_code: Mapped[str | None] = mapped_column(String(32))
    procedure: Mapped[str | None] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(16))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    uploaded_by_account: Mapped[str | None] = mapped_column(String(64))  # a person's user name

    __table_args__ = (
        Index("ix_batches_token_created", "token_id", "created_at"),
        Index("ix_batches_created", "created_at"),
    )


class TokenRow(Base):
    """An access token: only the SHA-256 of its secret is kept."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    agency_code: Mapped[str | None] = mapped_column(String(32))
    counter_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    """A signed-in browser: the cookie holds a random id, only its SHA-256 is kept here."""

    __tablename__ = "sessions"

    session_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.token_id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_sessions_token", "token_id"),
        Index("ix_sessions_expires", "expires_at"),
    )


class AccountRow(Base):
    """A person's account (migration 0005). Its role and scope are those of its own token
    (``token_id``, whose secret nobody holds), so sessions, batches and every access check
    work for a person exactly as for a token."""

    __tablename__ = "accounts"

    user_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128))
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.token_id"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DossierRow(Base):
    __tablename__ = "dossiers"

    dossier_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the batch
    source_name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), index=True)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    dossier_code: Mapped[str | None] = mapped_column(String(64))
    original_key: Mapped[str | None] = mapped_column(String(256))
    original_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    original_size: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when the dossier is archived: what agencies search by and operators review.
    procedure: Mapped[str | None] = mapped_column(String(64), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(16), index=True)
    full_name: Mapped[str | None] = mapped_column(String(256))
    full_name_folded: Mapped[str | None] = mapped_column(String(256))  # "nguyen van a"
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    review_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A stack split into several dossiers: the dossier whose original holds these pages,
    # and which pages of it (0-based) this dossier is made of.
    source_dossier_id: Mapped[str | None] = mapped_column(String(96))
    source_pages: Mapped[list[int]] = mapped_column(JSON, default=list)
    duplicate_of: Mapped[str | None] = mapped_column(String(96))
    # The first copy of these bytes for this agency (migration 0009): unique together, so
    # two copies received at once cannot both be first. Set at receipt (the first file's
    # SHA-256, kept through rescans), released when the dossier fails.
    claim_sha256: Mapped[str | None] = mapped_column(String(64))
    claim_agency: Mapped[str | None] = mapped_column(String(32))
    # The day the one-stop desk received it, from its code's YYMMDD (migration 0010):
    # searched apart from created_at, which is when it was uploaded here.
    received_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Search: newest first, whole or scoped to one agency; the code and the folded name
    # also by their beginning (text_pattern_ops makes LIKE 'prefix%' use the index
    # whatever the collation). Names match from their start: a trigram index for "any
    # part of the name" measured p95 78 ms at a million dossiers, because a third of
    # Vietnamese share the trigrams of "nguyen"; a prefix range scan stays under 10 ms.
    __table_args__ = (
        Index("ix_dossiers_created", "created_at", "dossier_id"),
        Index("ix_dossiers_agency_created", "agency_code", "created_at"),
        Index("uq_dossiers_claim", "claim_sha256", "claim_agency", unique=True),
        Index("ix_dossiers_agency_received_on", "agency_code", "received_on"),
        Index(
            "ix_dossiers_code",
            "dossier_code",
            postgresql_ops={"dossier_code": "text_pattern_ops"},
        ),
        Index(
            "ix_dossiers_name",
            "full_name_folded",
            postgresql_ops={"full_name_folded": "text_pattern_ops"},
        ),
    )

    pages: Mapped[list[PageRow]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="PageRow.index"
    )
    field_rows: Mapped[list[FieldRow]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="FieldRow.name"
    )
    text_row: Mapped[DossierTextRow | None] = relationship(
        back_populates="dossier", cascade="all, delete-orphan"
    )


class PageRow(Base):
    __tablename__ = "pages"

    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.dossier_id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    width_px: Mapped[int] = mapped_column(Integer)
    height_px: Mapped[int] = mapped_column(Integer)
    dpi: Mapped[float] = mapped_column(Float)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    skew_deg: Mapped[float] = mapped_column(Float, default=0.0)
    blank: Mapped[bool] = mapped_column(Boolean, default=False)
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    text_source: Mapped[str] = mapped_column(String(8), default="ocr")
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(24), default="other")
    kind_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    source_index: Mapped[int | None] = mapped_column(Integer)  # page of the original file

    dossier: Mapped[DossierRow] = relationship(back_populates="pages")


class FieldRow(Base):
    """One extracted field, with where it was read and whether a person must check it."""

    __tablename__ = "fields"

    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.dossier_id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    # Every reading of the field with its source (migration 0004), for review and audit.
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="read", server_default="read")
    crop_key: Mapped[str | None] = mapped_column(String(256))
    suggestion: Mapped[str | None] = mapped_column(Text)
    suggestion_confidence: Mapped[float | None] = mapped_column(Float)

    dossier: Mapped[DossierRow] = relationship(back_populates="field_rows")


class FieldCorrectionRow(Base):
    """Append-only: who changed which field from what to what, and when."""

    __tablename__ = "field_corrections"

    correction_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.dossier_id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    corrected_by: Mapped[str] = mapped_column(String(128))
    corrected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    note: Mapped[str | None] = mapped_column(Text)


class DossierTextRow(Base):
    """The OCR text of an archived dossier, folded, for full-text search.

    Kept apart from ``dossiers`` so list and search queries never drag kilobytes of text
    through the buffer cache. On PostgreSQL a GIN index over its tsvector answers word
    queries; the full NFC text stays in the object store (``text.txt``).
    """

    __tablename__ = "dossier_texts"

    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.dossier_id"), primary_key=True)
    text_folded: Mapped[str] = mapped_column(Text)

    dossier: Mapped[DossierRow] = relationship(back_populates="text_row")


class SubmissionRow(Base):
    """A file a dossier was handed in as: the first upload (1) and each rescan after it.

    The first original stays where it was stored, byte for byte; a rescan's file is kept
    beside it, and the file the pages are then read from (the dossier's pages with the
    rescanned ones in place) is recorded with it."""

    __tablename__ = "submissions"

    dossier_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_key: Mapped[str] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    source_name: Mapped[str] = mapped_column(String(512))
    replaces: Mapped[list[int]] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    submitted_by: Mapped[str | None] = mapped_column(String(128))
    source_key: Mapped[str] = mapped_column(String(256))
    source_sha256: Mapped[str] = mapped_column(String(64))


class EventRow(Base):
    """Append-only: every state change of a dossier, for operators and audits."""

    __tablename__ = "events"

    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dossier_id: Mapped[str] = mapped_column(String(96), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(128))  # a person, when one acted


class AgencyPushRow(Base):
    """Where an agency wants its archived dossiers pushed, and the key it checks them with."""

    __tablename__ = "agency_push"

    agency_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class OutboxRow(Base):
    """A push owed to an agency, written in the transaction that archives the dossier."""

    __tablename__ = "outbox"

    outbox_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dossier_id: Mapped[str] = mapped_column(String(96), index=True)
    agency_code: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)


class AgencyStatusRow(Base):
    """What the agency says of a dossier after it took it (received, in progress ...)."""

    __tablename__ = "agency_status"

    status_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dossier_id: Mapped[str] = mapped_column(String(96), index=True)
    agency_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SavedSearchRow(Base):
    """A search someone saved on the search page: a name and the query string it runs
    (migration 0010). Its owner: the user name of an account, else the token's id."""

    __tablename__ = "saved_searches"

    search_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    __table_args__ = (Index("ix_saved_searches_owner", "owner", "created_at"),)
