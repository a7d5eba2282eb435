"""Batches: one upload or one ``sohoa process`` run, and what a restart resumes."""

from __future__ import annotations

from sqlalchemy import select

from models import BatchInfo, DossierStatus
from models.errors import DossierNotFoundError
from storage.metadata.base import StoreBase
from storage.metadata.records import batch_info, batch_row
from storage.metadata.rows import BatchRow, DossierRow


class BatchStore(StoreBase):
    """Batches: created, listed, tied to their flow run, found unfinished."""

    def create_batch(self, batch: BatchInfo) -> None:
        with self._session() as session:
            if session.get(BatchRow, batch.batch_id) is None:
                session.add(batch_row(batch))

    def get_batch(self, batch_id: str) -> BatchInfo:
        with self._session() as session:
            row = session.get(BatchRow, batch_id)
            if row is None:
                raise DossierNotFoundError(f"batch {batch_id}")
            return batch_info(row)

    def list_batches(
        self, *, token_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[BatchInfo]:
        """Newest first; only one token's uploads when ``token_id`` is given."""
        with self._session() as session:
            query = select(BatchRow).order_by(BatchRow.created_at.desc(), BatchRow.batch_id)
            if token_id is not None:
                query = query.where(BatchRow.token_id == token_id)
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [batch_info(row) for row in rows]

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
