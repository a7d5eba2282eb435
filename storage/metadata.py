"""Metadata store on SQLAlchemy: batches, dossiers, pages, fields, corrections, events.

SQLite inside the data dir by default; PostgreSQL (``postgresql+psycopg://``) in
production, through ``SOHOA_DATABASE_URL``. The schema is owned by the Alembic migrations
in ``storage/migrations`` (applied on first start and by ``sohoa db upgrade``); the ORM
classes here describe it for queries. Callers get frozen ``models`` records, never rows.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

from models import (
    BatchInfo,
    DossierInfo,
    DossierStatus,
    FieldCandidate,
    FieldCorrection,
    FieldInfo,
    FieldState,
    PageInfo,
    Principal,
    Role,
    SearchPage,
    SearchQuery,
    StoredOriginal,
    TokenInfo,
    faults,
)
from models.codes import DOSSIER_CODE, receiving_unit
from models.errors import DossierNotFoundError, StorageError, TokenNotFoundError
from models.search import COUNT_CAP
from models.textfold import fold

log = logging.getLogger("sohoa.storage")

# Autoincrement ids: 64-bit on PostgreSQL (events grow forever), rowid on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")

# A token's last use is bookkeeping: recorded at most this often, so that reads do not
# write (and cannot fail when the disk is full).
LAST_USED_EVERY = timedelta(minutes=5)


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC already)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class BatchRow(Base):
    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    lang: Mapped[str] = mapped_column(String(64))
    source_count: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str | None] = mapped_column(String(128))
    counter_id: Mapped[str | None] = mapped_column(String(64))
    post_office_id: Mapped[str | None] = mapped_column(String(64))
    agency_code: Mapped[str | None] = mapped_column(String(32))
    procedure: Mapped[str | None] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(16))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))

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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    """A signed-in browser: the cookie holds a random id, only its SHA-256 is kept here."""

    __tablename__ = "sessions"

    session_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.token_id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_sessions_token", "token_id"),
        Index("ix_sessions_expires", "expires_at"),
    )


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Search: newest first, whole or scoped to one agency; the code and the folded name
    # also by their beginning (text_pattern_ops makes LIKE 'prefix%' use the index
    # whatever the collation). Names match from their start: a trigram index for "any
    # part of the name" measured p95 78 ms at a million dossiers, because a third of
    # Vietnamese share the trigrams of "nguyen"; a prefix range scan stays under 10 ms.
    __table_args__ = (
        Index("ix_dossiers_created", "created_at", "dossier_id"),
        Index("ix_dossiers_agency_created", "agency_code", "created_at"),
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
    corrected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
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


class EventRow(Base):
    """Append-only: every state change of a dossier, for operators and audits."""

    __tablename__ = "events"

    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dossier_id: Mapped[str] = mapped_column(String(96), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(128))  # a person, when one acted


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (progress bar, `sohoa list`) run while page tasks write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads, then writes, cannot wait for another writer: SQLite
    # answers "database is locked" at once instead of using the busy timeout. Taking the
    # write lock at BEGIN makes every writer queue (up to the 30 s busy timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None


def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "connect", _sqlite_autocommit_driver)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise StorageError(f"cannot use database {_redact(url)} ({exc})") from None
    return engine


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


class MetadataStore:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        """Open the database; bring its schema up to date first unless ``migrate`` is off."""
        from storage.migrate import upgrade_schema

        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            try:
                upgrade_schema(self.engine)
            except OperationalError as exc:
                self.engine.dispose()
                raise StorageError(f"cannot open database {_redact(url)} ({exc.orig})") from None

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.flush()
            faults.point("metadata.before-commit")
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"database error ({type(exc).__name__}: {exc})") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # --- writes ---------------------------------------------------------------------------

    def create_batch(self, batch: BatchInfo) -> None:
        with self._session() as session:
            if session.get(BatchRow, batch.batch_id) is None:
                session.add(_batch_row(batch))

    def get_batch(self, batch_id: str) -> BatchInfo:
        with self._session() as session:
            row = session.get(BatchRow, batch_id)
            if row is None:
                raise DossierNotFoundError(f"batch {batch_id}")
            return _batch_info(row)

    def list_batches(
        self, *, token_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[BatchInfo]:
        """Newest first; only one token's uploads when ``token_id`` is given."""
        with self._session() as session:
            query = select(BatchRow).order_by(BatchRow.created_at.desc(), BatchRow.batch_id)
            if token_id is not None:
                query = query.where(BatchRow.token_id == token_id)
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [_batch_info(row) for row in rows]

    def set_batch_flow_run(self, batch_id: str, flow_run_id: str) -> None:
        with self._session() as session:
            row = session.get(BatchRow, batch_id)
            if row is not None:
                row.flow_run_id = flow_run_id

    def unfinished_batches(self) -> list[str]:
        """Batches with a dossier still received or processing: what a restart resumes."""
        with self._session() as session:
            return list(
                session.scalars(
                    select(DossierRow.batch_id)
                    .where(
                        DossierRow.status.in_([DossierStatus.RECEIVED, DossierStatus.PROCESSING])
                    )
                    .distinct()
                ).all()
            )

    # --- tokens ---------------------------------------------------------------------------

    def create_token(
        self,
        *,
        name: str,
        role: Role,
        agency_code: str | None = None,
        counter_id: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token; returns it with its one-time plaintext (``sohoa_<id>_<secret>``)."""
        if not name.strip():
            raise ValueError("a token needs a name (who or what holds it)")
        if role is Role.AGENCY and not agency_code:
            raise ValueError("an agency token needs --agency CODE")
        if role is not Role.AGENCY and agency_code:
            raise ValueError("only agency tokens belong to an agency")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._session() as session:
            row = TokenRow(
                token_id=token_id,
                secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                name=name.strip(),
                role=str(role),
                agency_code=agency_code,
                counter_id=counter_id,
                created_at=_now(),
            )
            session.add(row)
            info = _token_info(row)
        return info, f"sohoa_{token_id}_{secret}"

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None for anything else."""
        parts = token.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != "sohoa" or len(parts[1]) != 12:
            return None
        token_id, secret = parts[1], parts[2]
        digest = hashlib.sha256(secret.encode()).hexdigest()
        with self._session() as session:
            row = session.get(TokenRow, token_id)
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.secret_sha256, digest):
                return None
            principal = _token_info(row).principal
            last_used = _aware(row.last_used_at) if row.last_used_at else None
        now = _now()
        if last_used is None or now - last_used > LAST_USED_EVERY:
            self._record_use(token_id, now)
        return principal

    def _record_use(self, token_id: str, now: datetime) -> None:
        """Best effort, in its own transaction: a full disk or a locked database must never
        turn a read into an error, so a failure here is logged and forgotten."""
        try:
            with self._session() as session:
                session.execute(
                    update(TokenRow).where(TokenRow.token_id == token_id).values(last_used_at=now)
                )
        except Exception as exc:
            log.warning("last use of token %s not recorded: %s", token_id, type(exc).__name__)

    # --- page sessions --------------------------------------------------------------------

    def create_session(self, token_id: str, *, lifetime: timedelta) -> str:
        """A new page session for a (valid) token; returns its id, shown only this once.

        Expired sessions are swept here: sign-ins are rare, and the sweep is indexed.
        """
        session_id = secrets.token_urlsafe(32)
        now = _now()
        with self._session() as session:
            session.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
            session.add(
                SessionRow(
                    session_sha256=_digest(session_id),
                    token_id=token_id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return session_id

    def session_principal(self, session_id: str) -> Principal | None:
        """Who a session belongs to, if it is current and its token is not revoked."""
        if not session_id or len(session_id) > 128:
            return None
        with self._session() as session:
            row = session.execute(
                select(TokenRow)
                .join(SessionRow, SessionRow.token_id == TokenRow.token_id)
                .where(
                    SessionRow.session_sha256 == _digest(session_id),
                    SessionRow.expires_at > _now(),
                    TokenRow.revoked_at.is_(None),
                )
            ).scalar_one_or_none()
            return _token_info(row).principal if row is not None else None

    def end_session(self, session_id: str) -> None:
        """Sign-out: the session id is worth nothing from now on, wherever it was copied."""
        with self._session() as session:
            session.execute(
                delete(SessionRow).where(SessionRow.session_sha256 == _digest(session_id))
            )

    def revoke_token(self, token_id: str) -> TokenInfo:
        with self._session() as session:
            row = session.get(TokenRow, token_id)
            if row is None:
                raise TokenNotFoundError(token_id)
            if row.revoked_at is None:
                row.revoked_at = _now()
            return _token_info(row)

    def list_tokens(self) -> list[TokenInfo]:
        with self._session() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created_at)).all()
            return [_token_info(row) for row in rows]

    # --- operators' view --------------------------------------------------------------------

    def status_counts(self, *, agency_code: str | None = None) -> dict[str, int]:
        with self._session() as session:
            query = select(DossierRow.status, func.count()).group_by(DossierRow.status)
            if agency_code is not None:
                query = query.where(DossierRow.agency_code == agency_code)
            counts = {str(status): int(n) for status, n in session.execute(query).all()}
        return {str(s): counts.get(str(s), 0) for s in DossierStatus}

    def archived_since(self, since: datetime) -> tuple[int, int]:
        """(dossiers, pages) archived since ``since``: the throughput operators watch."""
        with self._session() as session:
            row = session.execute(
                select(func.count(), func.coalesce(func.sum(DossierRow.page_count), 0)).where(
                    DossierRow.archived_at >= since,
                    DossierRow.status == DossierStatus.ARCHIVED,
                )
            ).one()
            return int(row[0]), int(row[1])

    def stuck_dossiers(self, older_than: datetime, limit: int = 50) -> list[DossierInfo]:
        """Received or processing, untouched since ``older_than``."""
        with self._session() as session:
            rows = session.scalars(
                select(DossierRow)
                .where(
                    DossierRow.status.in_([DossierStatus.RECEIVED, DossierStatus.PROCESSING]),
                    DossierRow.updated_at < older_than,
                )
                .order_by(DossierRow.updated_at)
                .limit(limit)
            ).all()
            return [_to_info(row, with_pages=False) for row in rows]

    def add_dossier(self, dossier_id: str, batch_id: str, position: int, source_name: str) -> None:
        """Idempotent: re-adding an existing dossier leaves it as it is."""
        with self._session() as session:
            if session.get(DossierRow, dossier_id) is not None:
                return
            batch = session.get(BatchRow, batch_id)
            session.add(
                DossierRow(
                    dossier_id=dossier_id,
                    batch_id=batch_id,
                    position=position,
                    source_name=source_name,
                    status=DossierStatus.RECEIVED,
                    fields={},
                    agency_code=batch.agency_code if batch else None,
                    procedure=batch.procedure if batch else None,
                )
            )
            session.add(EventRow(dossier_id=dossier_id, status=DossierStatus.RECEIVED))

    def find_original(self, sha256: str, *, agency_code: str | None, other_than: str) -> str | None:
        """The dossier that already holds a file with these bytes, if any (not a failed one).

        Scoped to the agency the upload names: the same bytes sent to another agency are
        that agency's own dossier, and its counter never learns another agency's dossier
        id. The service always names one; ``None`` (a ``sohoa process`` run without
        ``--agency``, by someone who reads the whole database anyway) looks everywhere.
        """
        query = (
            select(DossierRow.dossier_id)
            .where(
                DossierRow.original_sha256 == sha256,
                DossierRow.dossier_id != other_than,
                DossierRow.source_dossier_id.is_(None),
                DossierRow.status.not_in([DossierStatus.FAILED, DossierStatus.DUPLICATE]),
            )
            .order_by(DossierRow.created_at)
            .limit(1)
        )
        if agency_code is not None:
            query = query.join(BatchRow, BatchRow.batch_id == DossierRow.batch_id).where(
                BatchRow.agency_code == agency_code
            )
        with self._session() as session:
            return session.scalar(query)

    def receive_upload(self, batch: BatchInfo, files: list[StoredOriginal]) -> None:
        """Record an upload whose originals are all stored: the batch and every dossier in
        one transaction, so a failure half-way (disk full, a crash) leaves no batch and no
        dossier without its original."""
        with self._session() as session:
            if session.get(BatchRow, batch.batch_id) is not None:
                raise StorageError(f"batch {batch.batch_id} exists already")
            session.add(_batch_row(batch))
            session.flush()  # the dossiers reference it
            now = _now()
            for item in files:
                duplicate = item.duplicate_of is not None
                status = DossierStatus.DUPLICATE if duplicate else DossierStatus.RECEIVED
                session.add(
                    DossierRow(
                        dossier_id=item.dossier_id,
                        batch_id=batch.batch_id,
                        position=item.position,
                        source_name=item.source_name,
                        status=status,
                        page_count=0 if duplicate else item.page_count,
                        original_key=item.original_key,
                        original_sha256=item.sha256,
                        original_size=item.size,
                        media_type=None if duplicate else item.media_type,
                        duplicate_of=item.duplicate_of,
                        fields={},
                        agency_code=batch.agency_code,
                        procedure=batch.procedure,
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.add(EventRow(dossier_id=item.dossier_id, status=DossierStatus.RECEIVED))
                if duplicate:
                    session.add(
                        EventRow(
                            dossier_id=item.dossier_id,
                            status=DossierStatus.DUPLICATE,
                            message=f"same file as dossier {item.duplicate_of}",
                        )
                    )

    def mark_duplicate(self, dossier_id: str, *, of: str, sha256: str, size: int) -> None:
        """The same bytes were handed in before: point at that dossier, store nothing twice."""
        with self._session() as session:
            row = self._row(session, dossier_id)
            row.status = DossierStatus.DUPLICATE
            row.duplicate_of = of
            row.original_sha256, row.original_size = sha256, size
            row.error = None
            row.updated_at = _now()
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=DossierStatus.DUPLICATE,
                    message=f"same file as dossier {of}",
                )
            )

    def record_original(
        self,
        dossier_id: str,
        *,
        key: str,
        sha256: str,
        size: int,
        media_type: str | None,
        page_count: int,
    ) -> None:
        with self._session() as session:
            row = self._row(session, dossier_id)
            if row.original_sha256 and row.original_sha256 != sha256:
                # Write-once: the first stored original is the citizen's paper, for good.
                raise StorageError(
                    f"dossier {dossier_id} already holds an original with another SHA-256"
                )
            row.original_key, row.original_sha256, row.original_size = key, sha256, size
            row.media_type, row.page_count = media_type, page_count
            row.updated_at = _now()

    def set_status(
        self,
        dossier_id: str,
        status: DossierStatus,
        message: str | None = None,
        *,
        actor: str | None = None,
    ) -> None:
        with self._session() as session:
            row = self._row(session, dossier_id)
            row.status = status
            row.error = message if status is DossierStatus.FAILED else None
            row.updated_at = _now()
            session.add(
                EventRow(dossier_id=dossier_id, status=status, message=message, actor=actor)
            )

    def record_page(self, dossier_id: str, page: PageInfo) -> None:
        with self._session() as session:
            row = session.get(PageRow, (dossier_id, page.index))
            if row is None:
                row = PageRow(dossier_id=dossier_id, index=page.index)
                session.add(row)
            _fill_page(row, page)
            # Progress, not only status changes, keeps a dossier from looking stuck.
            self._row(session, dossier_id).updated_at = _now()

    def add_split_dossier(self, dossier_id: str, *, from_dossier_id: str, pages: list[int]) -> None:
        """A further dossier found in the same scanned stack (idempotent)."""
        with self._session() as session:
            if session.get(DossierRow, dossier_id) is not None:
                return
            first = self._row(session, from_dossier_id)
            session.add(
                DossierRow(
                    dossier_id=dossier_id,
                    batch_id=first.batch_id,
                    position=first.position,
                    source_name=first.source_name,
                    status=DossierStatus.PROCESSING,
                    page_count=len(pages),
                    original_key=first.original_key,
                    original_sha256=first.original_sha256,
                    original_size=first.original_size,
                    media_type=first.media_type,
                    fields={},
                    agency_code=first.agency_code,
                    procedure=first.procedure,
                    source_dossier_id=from_dossier_id,
                    source_pages=list(pages),
                )
            )
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=DossierStatus.PROCESSING,
                    message=f"split from {from_dossier_id}, pages {_ranges(pages)}",
                )
            )

    def set_source_pages(self, dossier_id: str, pages: list[int]) -> None:
        with self._session() as session:
            row = self._row(session, dossier_id)
            row.source_pages = list(pages)
            row.page_count = len(pages)

    def mark_archived(
        self,
        dossier_id: str,
        *,
        fields: list[FieldInfo],
        pages: list[PageInfo] | None = None,
        review_reasons: list[str] | None = None,
        text: str | None = None,
    ) -> None:
        """The last write of a dossier: only now may it be served.

        Pages, fields and text are replaced as a whole, so a re-run leaves no stale rows.
        """
        # A handwritten field waiting for a person has no value to search by yet.
        values = {f.name: f.value for f in fields if f.value}
        with self._session() as session:
            row = self._row(session, dossier_id)
            if pages is not None:
                row.pages.clear()
                session.flush()
                for page in pages:
                    page_row = PageRow(dossier_id=dossier_id, index=page.index)
                    _fill_page(page_row, page)
                    row.pages.append(page_row)
                row.page_count = len(pages)
            row.field_rows.clear()
            session.flush()
            for item in fields:
                row.field_rows.append(
                    FieldRow(
                        dossier_id=dossier_id,
                        name=item.name,
                        value=item.value,
                        source=item.source,
                        confidence=item.confidence,
                        needs_review=item.needs_review,
                        note=item.note,
                        candidates=[c.to_json() for c in item.candidates],
                        state=str(item.state),
                        crop_key=item.crop_key,
                        suggestion=item.suggestion,
                        suggestion_confidence=item.suggestion_confidence,
                    )
                )
            if text is not None:
                folded = f" {_fold_text(text)} "
                if row.text_row is None:
                    row.text_row = DossierTextRow(dossier_id=dossier_id, text_folded=folded)
                else:
                    row.text_row.text_folded = folded
            _apply_field_values(row, values)
            reasons = list(review_reasons or [])
            row.review_reasons = reasons
            row.needs_review = bool(reasons) or any(f.needs_review for f in fields)
            row.status = DossierStatus.ARCHIVED
            row.error = None
            row.updated_at = row.archived_at = _now()
            message = "needs review: " + "; ".join(reasons[:5]) if row.needs_review else None
            session.add(
                EventRow(dossier_id=dossier_id, status=DossierStatus.ARCHIVED, message=message)
            )

    def correct_field(
        self,
        dossier_id: str,
        name: str,
        value: str,
        *,
        corrected_by: str,
        note: str | None = None,
        not_on_papers: bool = False,
    ) -> FieldCorrection:
        """An operator sets a field's value: the old one is kept in the audit trail.

        ``not_on_papers``: the operator found the value is on none of the papers; the field
        is kept, empty, in that state (so nobody asks again). The field no longer needs
        review; the dossier does while any other field or review reason (``"name: ..."``)
        remains. Values are checked by type before they get here (``pipeline.validate``).
        """
        if not corrected_by:
            raise ValueError("a correction needs the name of who made it")
        if not_on_papers:
            value = ""
        with self._session() as session:
            row = self._row(session, dossier_id)
            field = next((f for f in row.field_rows if f.name == name), None)
            old_value = field.value if field is not None else None
            if field is None:
                field = FieldRow(dossier_id=dossier_id, name=name, value=value, confidence=1.0)
                row.field_rows.append(field)
            field.value, field.source, field.confidence = value, "operator", 1.0
            field.needs_review = False
            field.note = note
            field.state = FieldState.NOT_ON_PAPERS if not_on_papers else FieldState.READ
            values = dict(row.fields or {})
            if not_on_papers:
                values.pop(name, None)
            else:
                values[name] = value
            _apply_field_values(row, values)
            row.review_reasons = [
                r for r in (row.review_reasons or []) if not r.startswith(f"{name}:")
            ]
            row.needs_review = bool(row.review_reasons) or any(
                f.needs_review for f in row.field_rows
            )
            row.updated_at = now = _now()
            correction = FieldCorrectionRow(
                dossier_id=dossier_id,
                name=name,
                old_value=old_value,
                new_value=value,
                corrected_by=corrected_by,
                corrected_at=now,
                note=note,
            )
            session.add(correction)
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=row.status,
                    message=(
                        f"field {name}: not on the papers (was {old_value!r})"
                        if not_on_papers
                        else f"field {name} corrected: {old_value!r} -> {value!r}"
                    ),
                    actor=corrected_by,
                )
            )
            return FieldCorrection(
                dossier_id, name, old_value, value, corrected_by, _aware(now), note
            )

    def dismiss_review(self, dossier_id: str, *, reason: str, dismissed_by: str) -> None:
        """An operator closes a dossier's review without changing a value (a page that can
        never be read, a value the paper itself has wrong): every flag is cleared and the
        reason kept in the history, with who gave it."""
        if not dismissed_by or not reason.strip():
            raise ValueError("a dismissal needs its reason and who made it")
        with self._session() as session:
            row = self._row(session, dossier_id)
            for field in row.field_rows:
                field.needs_review = False
            row.review_reasons = []
            row.needs_review = False
            row.updated_at = _now()
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=row.status,
                    message=f"review dismissed: {' '.join(reason.split())}",
                    actor=dismissed_by,
                )
            )

    def corrections(self, dossier_id: str) -> list[FieldCorrection]:
        with self._session() as session:
            rows = session.scalars(
                select(FieldCorrectionRow)
                .where(FieldCorrectionRow.dossier_id == dossier_id)
                .order_by(FieldCorrectionRow.correction_id)
            ).all()
            return [
                FieldCorrection(
                    r.dossier_id,
                    r.name,
                    r.old_value,
                    r.new_value,
                    r.corrected_by,
                    _aware(r.corrected_at),
                    r.note,
                )
                for r in rows
            ]

    # --- search ---------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Dossiers matching every criterion given, newest first, one page at a time."""
        conditions = self._search_conditions(query)
        order: tuple[Any, ...] = {
            "newest": (DossierRow.created_at.desc(), DossierRow.dossier_id.desc()),
            "oldest": (DossierRow.created_at.asc(), DossierRow.dossier_id.asc()),
            "code": (DossierRow.dossier_code.asc(), DossierRow.dossier_id.asc()),
            "name": (DossierRow.full_name_folded.asc(), DossierRow.dossier_id.asc()),
        }[query.sort]
        statement = (
            select(DossierRow)
            .where(and_(true(), *conditions))
            .order_by(*order)
            .limit(query.limit + 1)
            .offset(query.offset)
        )
        with self._session() as session:
            rows = session.scalars(statement).all()
            items = tuple(_to_info(row, with_pages=False) for row in rows[: query.limit])
        return SearchPage(items, query.limit, query.offset, has_more=len(rows) > query.limit)

    def count(self, query: SearchQuery, *, cap: int = COUNT_CAP) -> int:
        """How many dossiers match, counted up to ``cap`` (cap + 1 means "more"): a broad
        match over millions of rows is not counted to the end for one page of results."""
        matching = (
            select(DossierRow.dossier_id)
            .where(and_(true(), *self._search_conditions(query)))
            .limit(cap + 1)
            .subquery()
        )
        with self._session() as session:
            return int(session.scalar(select(func.count()).select_from(matching)) or 0)

    def search_texts(self, dossier_ids: Sequence[str]) -> dict[str, str]:
        """The folded OCR text of these dossiers (for snippets of one page of results)."""
        if not dossier_ids:
            return {}
        with self._session() as session:
            rows = session.execute(
                select(DossierTextRow.dossier_id, DossierTextRow.text_folded).where(
                    DossierTextRow.dossier_id.in_(list(dossier_ids))
                )
            ).all()
            return {dossier_id: text for dossier_id, text in rows}

    def _search_conditions(self, query: SearchQuery) -> list[Any]:
        conditions: list[Any] = []
        if query.dossier_code:
            code = query.dossier_code.strip().upper()
            if DOSSIER_CODE.match(code):
                conditions.append(DossierRow.dossier_code == code)
            else:
                # Any part: the unit, the date, the sequence number at its end.
                conditions.append(DossierRow.dossier_code.like(_like_part(code), escape="\\"))
        if query.id_number:
            number = "".join(query.id_number.split())
            if len(number) in (9, 12):
                conditions.append(DossierRow.id_number == number)
            else:
                conditions.append(DossierRow.id_number.like(_like_part(number), escape="\\"))
        if query.name:
            # Any part of the name: a given name alone ("lan") finds "Đặng Ngọc Hồng Lan".
            name = " ".join(fold(query.name).split())
            conditions.append(DossierRow.full_name_folded.like(_like_part(name), escape="\\"))
        if query.procedure:
            conditions.append(DossierRow.procedure == query.procedure)
        if query.agency_code is not None:
            conditions.append(DossierRow.agency_code == query.agency_code)
        # Bounds in UTC, as times are stored: SQLite compares the stored text and would
        # read a Vietnam-time bound (UTC+7) as UTC, losing the day's first seven hours.
        if query.received_from is not None:
            conditions.append(DossierRow.created_at >= _utc(query.received_from))
        if query.received_to is not None:
            conditions.append(DossierRow.created_at < _utc(query.received_to))
        if query.status is not None:
            conditions.append(DossierRow.status == query.status)
        if query.batch_id is not None:
            conditions.append(DossierRow.batch_id == query.batch_id)
        if query.needs_review is not None:
            conditions.append(DossierRow.needs_review.is_(query.needs_review))
        if query.text:
            conditions.append(self._text_condition(query.text))
        return conditions

    def _text_condition(self, text: str) -> Any:
        words = [w for w in _fold_text(text).split() if w]
        if not words:
            return true()
        texts = select(DossierTextRow.dossier_id)
        if self.is_postgresql:
            # Matches the expression index the migration creates (GIN over the tsvector).
            vector = func.to_tsvector(literal_column("'simple'"), DossierTextRow.text_folded)
            query = func.plainto_tsquery(literal_column("'simple'"), " ".join(words))
            texts = texts.where(vector.op("@@")(query))
        else:
            # Stored text is padded with a space at each end, so '% word %' is a whole word.
            texts = texts.where(
                *[
                    DossierTextRow.text_folded.like(f"% {_like_escape(w)} %", escape="\\")
                    for w in words
                ]
            )
        return DossierRow.dossier_id.in_(texts)

    # --- reads ----------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, dossier_id: str) -> DossierRow:
        row = session.get(DossierRow, dossier_id)
        if row is None:
            raise DossierNotFoundError(dossier_id)
        return row

    def get_dossier(self, dossier_id: str) -> DossierInfo:
        with self._session() as session:
            return _to_info(self._row(session, dossier_id), with_pages=True)

    def source_archived(self, dossier_id: str) -> bool:
        """Every dossier made from this scanned file is archived (a re-run has nothing to do)."""
        with self._session() as session:
            statuses = session.scalars(
                select(DossierRow.status).where(
                    (DossierRow.dossier_id == dossier_id)
                    | (DossierRow.source_dossier_id == dossier_id)
                )
            ).all()
            return bool(statuses) and all(s == DossierStatus.ARCHIVED for s in statuses)

    def original_key(self, dossier_id: str) -> str | None:
        with self._session() as session:
            return self._row(session, dossier_id).original_key

    def list_dossiers(
        self, *, status: DossierStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[DossierInfo]:
        with self._session() as session:
            query = select(DossierRow).order_by(DossierRow.created_at.desc(), DossierRow.position)
            if status is not None:
                query = query.where(DossierRow.status == status)
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [_to_info(row, with_pages=False) for row in rows]

    def batch_dossiers(self, batch_id: str) -> list[DossierInfo]:
        with self._session() as session:
            rows = session.scalars(
                select(DossierRow)
                .where(DossierRow.batch_id == batch_id)
                .order_by(DossierRow.position, DossierRow.dossier_id)
            ).all()
            return [_to_info(row, with_pages=False) for row in rows]

    def batch_progress(self, batch_id: str) -> tuple[int, int]:
        """(pages done, pages known) for a batch: what a progress bar needs."""
        with self._session() as session:
            done = session.scalar(
                select(func.count())
                .select_from(PageRow)
                .join(DossierRow, PageRow.dossier_id == DossierRow.dossier_id)
                .where(DossierRow.batch_id == batch_id)
            )
            total = session.scalar(
                select(func.coalesce(func.sum(DossierRow.page_count), 0)).where(
                    DossierRow.batch_id == batch_id
                )
            )
            return int(done or 0), int(total or 0)

    def pages_done(self, batch_id: str) -> dict[str, int]:
        """Pages recorded so far for each dossier of a batch (the scanned file's id)."""
        with self._session() as session:
            rows = session.execute(
                select(PageRow.dossier_id, func.count())
                .join(DossierRow, PageRow.dossier_id == DossierRow.dossier_id)
                .where(DossierRow.batch_id == batch_id)
                .group_by(PageRow.dossier_id)
            ).all()
            return {str(dossier_id): int(count) for dossier_id, count in rows}

    def events(self, dossier_id: str) -> list[tuple[datetime, str, str | None]]:
        with self._session() as session:
            rows = session.scalars(
                select(EventRow)
                .where(EventRow.dossier_id == dossier_id)
                .order_by(EventRow.event_id)
            ).all()
            return [(r.at, r.status, r.message) for r in rows]


def _batch_info(row: BatchRow) -> BatchInfo:
    return BatchInfo(
        batch_id=row.batch_id,
        created_at=_aware(row.created_at),
        lang=row.lang,
        source_count=row.source_count,
        uploaded_by=row.uploaded_by,
        counter_id=row.counter_id,
        post_office_id=row.post_office_id,
        agency_code=row.agency_code,
        procedure=row.procedure,
        token_id=row.token_id,
        flow_run_id=row.flow_run_id,
    )


def _token_info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        principal=Principal(
            token_id=row.token_id,
            name=row.name,
            role=Role(row.role),
            agency_code=row.agency_code,
            counter_id=row.counter_id,
        ),
        created_at=_aware(row.created_at),
        revoked_at=_aware(row.revoked_at) if row.revoked_at else None,
        last_used_at=_aware(row.last_used_at) if row.last_used_at else None,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _apply_field_values(row: DossierRow, values: dict[str, Any]) -> None:
    """Copy the fields people search by into their indexed columns."""
    row.fields = values
    row.dossier_code = values.get("dossier_code")
    row.procedure = values.get("procedure") or row.procedure
    row.id_number = values.get("id_number")
    row.full_name = values.get("full_name")
    row.full_name_folded = " ".join(fold(row.full_name).split()) if row.full_name else None
    # An upload that named its agency keeps it; otherwise the code says who received it.
    row.agency_code = row.agency_code or receiving_unit(row.dossier_code)


def _fold_text(text: str) -> str:
    """Folded words separated by single spaces: what full-text search matches against."""
    folded = fold(text)
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_part(text: str) -> str:
    return "%" + _like_escape(text) + "%"


def _fill_page(row: PageRow, page: PageInfo) -> None:
    row.width_px, row.height_px, row.dpi = page.width_px, page.height_px, page.dpi
    row.rotation, row.skew_deg, row.blank = page.rotation, page.skew_deg, page.blank
    row.ocr_confidence, row.text_source = page.ocr_confidence, page.text_source
    row.warnings = list(page.warnings)
    row.kind, row.kind_confidence = page.kind, page.kind_confidence
    row.source_index = page.source_index if page.source_index is not None else page.index


def _ranges(pages: list[int]) -> str:
    return ", ".join(str(p + 1) for p in pages)


def _to_info(row: DossierRow, *, with_pages: bool) -> DossierInfo:
    pages: Sequence[PageRow] = row.pages if with_pages else ()
    return DossierInfo(
        dossier_id=row.dossier_id,
        batch_id=row.batch_id,
        source_name=row.source_name,
        status=DossierStatus(row.status),
        page_count=row.page_count,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
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
        archived_at=_aware(row.archived_at) if row.archived_at else None,
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


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _batch_row(batch: BatchInfo) -> BatchRow:
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
    )
