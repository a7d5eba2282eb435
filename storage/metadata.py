"""Metadata store on SQLAlchemy: batches, dossiers, pages and an append-only event log.

SQLite inside the data dir by default; any SQLAlchemy URL (PostgreSQL in production)
through ``SOHOA_DATABASE_URL``. Callers get frozen ``models`` records, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
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

from models import BatchInfo, DossierInfo, DossierStatus, FieldInfo, PageInfo
from pipeline.errors import DossierNotFoundError, StorageError


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


class DossierRow(Base):
    __tablename__ = "dossiers"

    dossier_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the batch
    source_name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), index=True)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    dossier_code: Mapped[str | None] = mapped_column(String(64), index=True)
    original_key: Mapped[str | None] = mapped_column(String(256))
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    original_size: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when the dossier is archived: what agencies search by and operators review.
    procedure: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number: Mapped[str | None] = mapped_column(String(16), index=True)
    full_name: Mapped[str | None] = mapped_column(String(256))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    review_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A stack split into several dossiers: the dossier whose original holds these pages,
    # and which pages of it (0-based) this dossier is made of.
    source_dossier_id: Mapped[str | None] = mapped_column(String(96))
    source_pages: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)

    pages: Mapped[list[PageRow]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="PageRow.index"
    )
    field_rows: Mapped[list[FieldRow]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="FieldRow.name"
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

    dossier: Mapped[DossierRow] = relationship(back_populates="field_rows")


class EventRow(Base):
    """Append-only: every state change of a dossier, for operators and audits."""

    __tablename__ = "events"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dossier_id: Mapped[str] = mapped_column(String(96), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (progress bar, `sohoa list`) run while page tasks write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
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
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            Base.metadata.create_all(self.engine)
        except OperationalError as exc:
            raise StorageError(f"cannot open database {_redact(url)} ({exc.orig})") from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
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
                session.add(
                    BatchRow(
                        batch_id=batch.batch_id,
                        created_at=batch.created_at,
                        lang=batch.lang,
                        source_count=batch.source_count,
                        uploaded_by=batch.uploaded_by,
                        counter_id=batch.counter_id,
                    )
                )

    def add_dossier(self, dossier_id: str, batch_id: str, position: int, source_name: str) -> None:
        """Idempotent: re-adding an existing dossier leaves it as it is."""
        with self._session() as session:
            if session.get(DossierRow, dossier_id) is not None:
                return
            session.add(
                DossierRow(
                    dossier_id=dossier_id,
                    batch_id=batch_id,
                    position=position,
                    source_name=source_name,
                    status=DossierStatus.RECEIVED,
                    fields={},
                )
            )
            session.add(EventRow(dossier_id=dossier_id, status=DossierStatus.RECEIVED))

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
            row.original_key, row.original_sha256, row.original_size = key, sha256, size
            row.media_type, row.page_count = media_type, page_count
            row.updated_at = _now()

    def set_status(
        self, dossier_id: str, status: DossierStatus, message: str | None = None
    ) -> None:
        with self._session() as session:
            row = self._row(session, dossier_id)
            row.status = status
            row.error = message if status is DossierStatus.FAILED else None
            row.updated_at = _now()
            session.add(EventRow(dossier_id=dossier_id, status=status, message=message))

    def record_page(self, dossier_id: str, page: PageInfo) -> None:
        with self._session() as session:
            row = session.get(PageRow, (dossier_id, page.index))
            if row is None:
                row = PageRow(dossier_id=dossier_id, index=page.index)
                session.add(row)
            _fill_page(row, page)

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
    ) -> None:
        """The last write of a dossier: only now may it be served.

        Pages and fields are replaced as a whole, so a re-run leaves no stale rows.
        """
        values = {f.name: f.value for f in fields}
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
                    )
                )
            row.fields = values
            row.dossier_code = values.get("dossier_code")
            row.procedure = values.get("procedure")
            row.id_number = values.get("id_number")
            row.full_name = values.get("full_name")
            reasons = list(review_reasons or [])
            row.review_reasons = reasons
            row.needs_review = bool(reasons) or any(f.needs_review for f in fields)
            row.status = DossierStatus.ARCHIVED
            row.error = None
            row.updated_at = _now()
            message = "needs review: " + "; ".join(reasons[:5]) if row.needs_review else None
            session.add(
                EventRow(dossier_id=dossier_id, status=DossierStatus.ARCHIVED, message=message)
            )

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

    def events(self, dossier_id: str) -> list[tuple[datetime, str, str | None]]:
        with self._session() as session:
            rows = session.scalars(
                select(EventRow)
                .where(EventRow.dossier_id == dossier_id)
                .order_by(EventRow.event_id)
            ).all()
            return [(r.at, r.status, r.message) for r in rows]


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
        field_details=tuple(
            FieldInfo(f.name, f.value, f.source, f.confidence, f.needs_review, f.note)
            for f in (row.field_rows if with_pages else ())
        ),
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
