"""A dossier's submissions (issue 26, rescan in place): the first upload, each rescan after
it, and the switch of the dossier to the file its pages are now read from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import DossierStatus, Submission
from models.errors import StorageError
from storage.metadata.base import StoreBase
from storage.metadata.rows import DossierRow, EventRow, SubmissionRow, utc_now


def _to_submission(row: SubmissionRow) -> Submission:
    return Submission(
        dossier_id=row.dossier_id,
        number=row.number,
        object_key=row.object_key,
        sha256=row.sha256,
        size=row.size,
        media_type=row.media_type,
        page_count=row.page_count,
        source_name=row.source_name,
        replaces=tuple(row.replaces or ()),
        submitted_at=row.submitted_at,
        submitted_by=row.submitted_by,
        source_key=row.source_key,
        source_sha256=row.source_sha256,
    )


class SubmissionStore(StoreBase):
    def submissions(self, dossier_id: str) -> list[Submission]:
        """Every submission in order; empty for a dossier never rescanned (its one
        submission is its original, as the dossier row records it)."""
        with self._session() as session:
            rows = session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.dossier_id == dossier_id)
                .order_by(SubmissionRow.number)
            ).all()
            return [_to_submission(row) for row in rows]

    def record_rescan(
        self,
        dossier_id: str,
        submission: Submission,
        *,
        source_media_type: str,
        source_size: int,
        source_page_count: int,
        submitted_at: datetime,
    ) -> None:
        """Record a rescan and send the dossier back to be read, in one transaction.

        The first upload becomes submission 1 (its original stays where it is, byte for
        byte); the dossier is then read from ``submission.source_key``. The dossier must not
        be in processing: a second rescan at the same moment finds the number taken."""
        with self._session() as session:
            row = session.get(DossierRow, dossier_id)
            if row is None:
                raise StorageError(f"no dossier {dossier_id}")
            if row.status not in (DossierStatus.ARCHIVED, DossierStatus.FAILED):
                raise StorageError(f"dossier {dossier_id} is {row.status}: not now")
            numbers = session.scalars(
                select(SubmissionRow.number).where(SubmissionRow.dossier_id == dossier_id)
            ).all()
            if not numbers:
                session.add(_first_submission_row(row))
                numbers = [1]
            if submission.number != max(numbers) + 1:
                raise StorageError(f"dossier {dossier_id}: submission {submission.number} taken")
            session.add(_submission_row(dossier_id, submission, submitted_at))
            _read_again_from(
                row,
                submission,
                media_type=source_media_type,
                size=source_size,
                page_count=source_page_count,
            )
            replaced = ", ".join(map(str, submission.replaces)) or "-"
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=DossierStatus.RECEIVED,
                    message=f"rescan {submission.number}: {submission.page_count} page(s), "
                    f"replacing page(s) {replaced}",
                    actor=submission.submitted_by,
                )
            )


def _first_submission_row(row: DossierRow) -> SubmissionRow:
    """The first upload as submission 1, written when the dossier is first rescanned: its
    original stays where it is, and it is its own source."""
    if not (row.original_key and row.original_sha256):
        raise StorageError(f"dossier {row.dossier_id} has no original to add to")
    return SubmissionRow(
        dossier_id=row.dossier_id,
        number=1,
        object_key=row.original_key,
        sha256=row.original_sha256,
        size=row.original_size or 0,
        media_type=row.media_type,
        page_count=row.page_count,
        source_name=row.source_name,
        replaces=[],
        submitted_at=row.created_at,
        submitted_by=None,
        source_key=row.original_key,
        source_sha256=row.original_sha256,
    )


def _submission_row(
    dossier_id: str, submission: Submission, submitted_at: datetime
) -> SubmissionRow:
    return SubmissionRow(
        dossier_id=dossier_id,
        number=submission.number,
        object_key=submission.object_key,
        sha256=submission.sha256,
        size=submission.size,
        media_type=submission.media_type,
        page_count=submission.page_count,
        source_name=submission.source_name,
        replaces=list(submission.replaces),
        submitted_at=submitted_at,
        submitted_by=submission.submitted_by,
        source_key=submission.source_key,
        source_sha256=submission.source_sha256,
    )


def _read_again_from(
    row: DossierRow, submission: Submission, *, media_type: str, size: int, page_count: int
) -> None:
    """Point the dossier at the rescan's source and send it back to be read. What identifies
    the citizen's first file (duplicates are found by it) stays in submission 1."""
    row.original_key = submission.source_key
    row.original_sha256 = submission.source_sha256
    row.original_size = size
    row.media_type = media_type
    row.page_count = page_count
    row.status = DossierStatus.RECEIVED
    row.error = None
    row.updated_at = utc_now()
