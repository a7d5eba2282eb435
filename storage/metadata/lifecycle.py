"""A dossier's life: received (or a duplicate), its original and pages recorded, split, archived."""

from __future__ import annotations

from sqlalchemy import select

from models import BatchInfo, DossierStatus, FieldInfo, PageInfo, StoredOriginal
from models.errors import StorageError
from storage.metadata.base import StoreBase
from storage.metadata.claims import claim_holder, first_sha256, try_claim
from storage.metadata.outbox import enqueue_push
from storage.metadata.records import apply_field_values, batch_row, fill_page_row, fold_text
from storage.metadata.rows import (
    BatchRow,
    DossierRow,
    DossierTextRow,
    EventRow,
    FieldRow,
    PageRow,
    utc_now,
)


def _ranges(pages: list[int]) -> str:
    return ", ".join(str(p + 1) for p in pages)


class DossierLifecycle(StoreBase):
    """Every write a dossier goes through on its way from received to archived."""

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
        """The dossier that already holds a file with these bytes, if any: the holder of
        their claim (``storage.metadata.claims``; not a failed one, nor a duplicate).

        Scoped to the agency the upload names: the same bytes sent to another agency are
        that agency's own dossier, and its counter never learns another agency's dossier
        id. The service always names one; ``None`` (a ``sohoa process`` run without
        ``--agency``, by someone who reads the whole database anyway) looks everywhere.
        A look-up only: the claim itself, taken when the dossier is recorded, is what makes
        two copies received at once end as one dossier and one duplicate.
        """
        with self._session() as session:
            holder = claim_holder(session, sha256, agency_code)
            return None if holder == other_than else holder

    def receive_upload(self, batch: BatchInfo, files: list[StoredOriginal]) -> list[str]:
        """Record an upload whose originals are all stored: the batch and every dossier in
        one transaction, so a failure half-way (disk full, a crash) leaves no batch and no
        dossier without its original.

        Each first copy claims its bytes for the batch's agency; a file whose claim another
        upload took in the meantime (a race between two counters) is recorded as a
        duplicate of that dossier instead. Returns the ids of those race losers, whose
        stored copy is then referenced by nothing (the store is write-once)."""
        losers: list[str] = []
        with self._session() as session:
            if session.get(BatchRow, batch.batch_id) is not None:
                raise StorageError(f"batch {batch.batch_id} exists already")
            session.add(batch_row(batch))
            session.flush()  # the dossiers reference it
            now = utc_now()
            for item in files:
                duplicate_of = item.duplicate_of

                def row(of: str | None, item: StoredOriginal = item) -> DossierRow:
                    return DossierRow(
                        dossier_id=item.dossier_id,
                        batch_id=batch.batch_id,
                        position=item.position,
                        source_name=item.source_name,
                        status=DossierStatus.DUPLICATE if of else DossierStatus.RECEIVED,
                        page_count=0 if of else item.page_count,
                        original_key=None if of else item.original_key,
                        original_sha256=item.sha256,
                        original_size=item.size,
                        media_type=None if of else item.media_type,
                        duplicate_of=of,
                        fields={},
                        agency_code=batch.agency_code,
                        procedure=batch.procedure,
                        created_at=now,
                        updated_at=now,
                    )

                if duplicate_of is None and not try_claim(
                    session, row(None), item.sha256, batch.agency_code
                ):
                    duplicate_of = claim_holder(session, item.sha256, batch.agency_code)
                    if duplicate_of is None:  # the holder failed in between: claim again
                        raise StorageError(f"{item.source_name}: its claim changed hands")
                    losers.append(item.dossier_id)
                if duplicate_of is not None:
                    session.add(row(duplicate_of))
                session.add(EventRow(dossier_id=item.dossier_id, status=DossierStatus.RECEIVED))
                if duplicate_of is not None:
                    session.add(
                        EventRow(
                            dossier_id=item.dossier_id,
                            status=DossierStatus.DUPLICATE,
                            message=f"same file as dossier {duplicate_of}",
                        )
                    )
        return losers

    def mark_duplicate(self, dossier_id: str, *, of: str, sha256: str, size: int) -> None:
        """The same bytes were handed in before: point at that dossier, store nothing twice."""
        with self._session() as session:
            row = self._row(session, dossier_id)
            row.status = DossierStatus.DUPLICATE
            row.duplicate_of = of
            row.original_sha256, row.original_size = sha256, size
            row.claim_sha256 = None
            row.error = None
            row.updated_at = utc_now()
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
        claim: bool = True,
    ) -> str | None:
        """Record the stored original and, unless ``claim`` is off (a file refused, which is
        never read), claim its bytes for the batch's agency. When another dossier holds
        that claim (recorded between this one's look-up and now), this dossier becomes its
        duplicate instead: its id is returned."""
        with self._session() as session:
            row = self._row(session, dossier_id)
            if row.original_sha256 and row.original_sha256 != sha256:
                # Write-once: the first stored original is the citizen's paper, for good.
                raise StorageError(
                    f"dossier {dossier_id} already holds an original with another SHA-256"
                )
            row.original_key, row.original_sha256, row.original_size = key, sha256, size
            row.media_type, row.page_count = media_type, page_count
            row.updated_at = utc_now()
            if not claim or row.claim_sha256 == sha256 or row.source_dossier_id is not None:
                return None
            agency = session.scalar(
                select(BatchRow.agency_code).where(BatchRow.batch_id == row.batch_id)
            )
            if try_claim(session, row, sha256, agency):
                return None
            winner = claim_holder(session, sha256, agency)
            row.status, row.duplicate_of = DossierStatus.DUPLICATE, winner
            row.original_key, row.media_type, row.page_count = None, None, 0
            row.claim_sha256, row.error, row.updated_at = None, None, utc_now()
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=DossierStatus.DUPLICATE,
                    message=f"same file as dossier {winner}",
                )
            )
            return winner

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
            was = row.status
            row.status = status
            row.error = message if status is DossierStatus.FAILED else None
            row.updated_at = utc_now()
            if status is DossierStatus.FAILED:
                # A failed dossier is no earlier copy: the same bytes handed in again are read.
                row.claim_sha256 = None
            elif was == DossierStatus.FAILED and row.source_dossier_id is None:
                # Retried: first again, unless another copy was received meanwhile (then
                # both are read, as before claims existed).
                sha = first_sha256(session, row)
                if sha:
                    agency = session.scalar(
                        select(BatchRow.agency_code).where(BatchRow.batch_id == row.batch_id)
                    )
                    try_claim(session, row, sha, agency)
            session.add(
                EventRow(dossier_id=dossier_id, status=status, message=message, actor=actor)
            )

    def record_page(self, dossier_id: str, page: PageInfo) -> None:
        with self._session() as session:
            row = session.get(PageRow, (dossier_id, page.index))
            if row is None:
                row = PageRow(dossier_id=dossier_id, index=page.index)
                session.add(row)
            fill_page_row(row, page)
            # Progress, not only status changes, keeps a dossier from looking stuck.
            self._row(session, dossier_id).updated_at = utc_now()

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
        """The last write of a dossier: only now may it be served; the push its agency is
        owed (when it has an endpoint) is written in the same transaction.

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
                    fill_page_row(page_row, page)
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
                folded = f" {fold_text(text)} "
                if row.text_row is None:
                    row.text_row = DossierTextRow(dossier_id=dossier_id, text_folded=folded)
                else:
                    row.text_row.text_folded = folded
            apply_field_values(row, values)
            reasons = list(review_reasons or [])
            row.review_reasons = reasons
            row.needs_review = bool(reasons) or any(f.needs_review for f in fields)
            row.status = DossierStatus.ARCHIVED
            row.error = None
            row.updated_at = row.archived_at = utc_now()
            message = "needs review: " + "; ".join(reasons[:5]) if row.needs_review else None
            session.add(
                EventRow(dossier_id=dossier_id, status=DossierStatus.ARCHIVED, message=message)
            )
            # The push the agency is owed, in this same transaction (issue 27's outbox).
            enqueue_push(session, dossier_id, row.agency_code)
