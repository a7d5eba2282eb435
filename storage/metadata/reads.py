"""Reading dossiers and batches back, and the counts operators watch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal, select

from models import DossierInfo, DossierStatus, Principal, Role
from storage.metadata.base import StoreBase
from storage.metadata.records import dossier_info
from storage.metadata.rows import BatchRow, DossierRow, EventRow, PageRow


class DossierReads(StoreBase):
    """Dossiers, batches' progress and events read back; operators' counts."""

    # --- operators' view --------------------------------------------------------------------

    def ping(self) -> None:
        """The database answers (a health check: one round trip, no table read)."""
        with self._session() as session:
            session.execute(select(literal(1))).scalar_one()

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
            return [dossier_info(row, with_pages=False) for row in rows]

    # --- reads ----------------------------------------------------------------------------

    def dossier_visible(self, dossier_id: str, principal: Principal) -> bool:
        """Whether this principal may see the dossier: one query on the primary key (and,
        for a counter, its batch's), filtered by the principal's scope, that reads nothing
        of the dossier itself. A foreign id and a missing one cost the same single lookup,
        and nothing more is loaded for either (issue 31).

        Operators see every dossier; an agency its own archived ones; a counter those of
        the batches uploaded with its own token (the rule of ``visible_batch``)."""
        query = select(DossierRow.dossier_id).where(DossierRow.dossier_id == dossier_id)
        if principal.role is Role.AGENCY:
            if principal.agency_code is None:
                return False
            query = query.where(
                DossierRow.agency_code == principal.agency_code,
                DossierRow.status == DossierStatus.ARCHIVED,
            )
        elif principal.role is Role.COUNTER:
            query = query.join(BatchRow, BatchRow.batch_id == DossierRow.batch_id).where(
                BatchRow.token_id == principal.token_id
            )
        elif principal.role is not Role.OPERATOR:
            return False
        with self._session() as session:
            return session.scalar(query) is not None

    def dossier_code(self, dossier_id: str) -> str | None:
        """The dossier's code (None until read, or for no such dossier)."""
        with self._session() as session:
            return session.scalar(
                select(DossierRow.dossier_code).where(DossierRow.dossier_id == dossier_id)
            )

    def get_dossier(self, dossier_id: str) -> DossierInfo:
        with self._session() as session:
            return dossier_info(self._row(session, dossier_id), with_pages=True)

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
            return [dossier_info(row, with_pages=False) for row in rows]

    def batch_dossiers(self, batch_id: str) -> list[DossierInfo]:
        with self._session() as session:
            rows = session.scalars(
                select(DossierRow)
                .where(DossierRow.batch_id == batch_id)
                .order_by(DossierRow.position, DossierRow.dossier_id)
            ).all()
            return [dossier_info(row, with_pages=False) for row in rows]

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

    def retries(self, dossier_ids: list[str]) -> dict[str, tuple[int, str | None]]:
        """How often each dossier was sent back to processing, and by whom the last time."""
        if not dossier_ids:
            return {}
        with self._session() as session:
            rows = session.execute(
                select(EventRow.dossier_id, EventRow.actor)
                .where(
                    EventRow.dossier_id.in_(dossier_ids),
                    EventRow.message == "retry requested",
                )
                .order_by(EventRow.event_id)
            ).all()
        found: dict[str, tuple[int, str | None]] = {}
        for dossier_id, actor in rows:
            count, _last = found.get(dossier_id, (0, None))
            found[dossier_id] = (count + 1, actor)
        return found

    def events(self, dossier_id: str) -> list[tuple[datetime, str, str | None]]:
        with self._session() as session:
            rows = session.scalars(
                select(EventRow)
                .where(EventRow.dossier_id == dossier_id)
                .order_by(EventRow.event_id)
            ).all()
            return [(r.at, r.status, r.message) for r in rows]
