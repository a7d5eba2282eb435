"""The same bytes sent to one agency at the same moment end as one dossier and one
duplicate (issue 31): "same bytes for the same agency" is a unique claim, not a look-up.

Each race is forced: both sides look for an earlier copy, find none, and only then record
(a barrier in the look-up), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from config import Settings
from flows import intake, steps
from flows.runtime import metadata_store
from models import BatchInfo, DossierStatus, Submission
from storage import keys
from tests.service_support import AGENCY_A, AGENCY_B


def _scan(tmp_path: Path, name: str = "scan.png") -> Path:
    image = np.full((300, 200, 3), 255, np.uint8)
    cv2.putText(image, "TRUNG", (20, 150), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 0), 2)
    path = tmp_path / name
    cv2.imwrite(str(path), image)
    return path


def _batch(agency: str | None = AGENCY_A) -> BatchInfo:
    return BatchInfo(keys.new_batch_id(), datetime.now(UTC), "vie", 1, agency_code=agency)


def _race(settings: Settings, sides: list[Callable[[], None]]) -> None:
    """Run the sides at once, each one's look-up for an earlier copy held until every side
    has looked (so each misses the others)."""
    meta = metadata_store(settings)
    barrier = threading.Barrier(len(sides), timeout=30)
    real = meta.find_original

    def looked(*args: Any, **kwargs: Any) -> str | None:
        found = real(*args, **kwargs)
        barrier.wait()
        return found

    setattr(meta, "find_original", looked)  # noqa: B010 - this store instance only
    errors: list[BaseException] = []

    def run(side: Callable[[], None]) -> None:
        try:
            side()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(side,)) for side in sides]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        del meta.find_original
    assert not errors, errors


def _outcome(settings: Settings, dossier_ids: list[str]) -> list[tuple[str, str | None]]:
    meta = metadata_store(settings)
    return sorted((str(d.status), d.duplicate_of) for d in map(meta.get_dossier, dossier_ids))


def test_two_uploads_of_the_same_bytes_at_once_make_one_dossier(
    db_settings: Settings, tmp_path: Path
) -> None:
    scan = _scan(tmp_path)
    batches = [_batch(), _batch()]

    def upload(batch: BatchInfo) -> Callable[[], None]:
        def side() -> None:
            document, error = steps.inspect_file(db_settings, scan, "scan.png")
            assert document is not None, error
            intake.receive_upload(db_settings, batch, [document])

        return side

    _race(db_settings, [upload(b) for b in batches])
    ids = [keys.dossier_id(b.batch_id, 0) for b in batches]
    outcome = _outcome(db_settings, ids)
    assert [status for status, _of in outcome] == ["duplicate", "received"], outcome
    winner = next(i for i in ids if metadata_store(db_settings).get_dossier(i).duplicate_of is None)
    assert outcome[0][1] == winner
    # A third copy later is a plain duplicate of the same winner; another agency's is its own.
    late, other = _batch(), _batch(AGENCY_B)
    for batch in (late, other):
        document, _error = steps.inspect_file(db_settings, scan, "scan.png")
        assert document is not None
        intake.receive_upload(db_settings, batch, [document])
    meta = metadata_store(db_settings)
    assert meta.get_dossier(keys.dossier_id(late.batch_id, 0)).duplicate_of == winner
    assert meta.get_dossier(keys.dossier_id(other.batch_id, 0)).status is DossierStatus.RECEIVED


def test_two_flow_receipts_of_the_same_bytes_at_once_make_one_dossier(
    db_settings: Settings, tmp_path: Path
) -> None:
    """The CLI's and the flow's path (steps.receive_source): the same race, the same end."""
    scan = _scan(tmp_path)
    meta = metadata_store(db_settings)
    batches = [_batch(), _batch()]
    for batch in batches:
        meta.create_batch(batch)

    def receive(batch: BatchInfo) -> Callable[[], None]:
        def side() -> None:
            steps.receive_source(
                db_settings, batch.batch_id, keys.dossier_id(batch.batch_id, 0), 0,
                steps.SourceRef(str(scan), "scan.png"),
            )  # fmt: skip

        return side

    _race(db_settings, [receive(b) for b in batches])
    outcome = _outcome(db_settings, [keys.dossier_id(b.batch_id, 0) for b in batches])
    assert [status for status, _of in outcome] == ["duplicate", "received"], outcome


def test_claims_follow_failures_retries_and_rescans(db_settings: Settings) -> None:
    """A failed dossier is no earlier copy; retried, it claims again; a rescan keeps the
    claim on the first file's bytes (the dossier row then carries the combined file's)."""
    meta = metadata_store(db_settings)
    first, combined = "ab" * 32, "cd" * 32
    batch = _batch()
    meta.create_batch(batch)
    one, two = keys.dossier_id(batch.batch_id, 0), keys.dossier_id(batch.batch_id, 1)
    meta.add_dossier(one, batch.batch_id, 0, "scan.pdf")
    meta.record_original(one, key="k1", sha256=first, size=5, media_type="image/png", page_count=1)
    assert meta.find_original(first, agency_code=AGENCY_A, other_than="x") == one
    meta.set_status(one, DossierStatus.FAILED, "unreadable")
    assert meta.find_original(first, agency_code=AGENCY_A, other_than="x") is None
    meta.set_status(one, DossierStatus.RECEIVED, "retry requested")
    assert meta.find_original(first, agency_code=AGENCY_A, other_than="x") == one

    meta.set_status(one, DossierStatus.ARCHIVED)
    meta.record_rescan(
        one,
        Submission(
            dossier_id=one, number=2, object_key="k2", sha256="ef" * 32, size=3,
            media_type="image/png", page_count=1, source_name="page2.png", replaces=(1,),
            submitted_at=datetime.now(UTC), submitted_by="clerk", source_key="k3",
            source_sha256=combined,
        ),
        source_media_type="application/pdf", source_size=9, source_page_count=1,
        submitted_at=datetime.now(UTC),
    )  # fmt: skip
    assert meta.get_dossier(one).original_sha256 == combined
    # The citizen's first file handed in again is still a duplicate of the rescanned dossier.
    assert meta.find_original(first, agency_code=AGENCY_A, other_than="x") == one
    meta.add_dossier(two, batch.batch_id, 1, "again.pdf")
    winner = meta.record_original(
        two, key="k4", sha256=first, size=5, media_type="image/png", page_count=1
    )
    assert winner == one
    assert (meta.get_dossier(two).status, meta.get_dossier(two).duplicate_of) == (
        DossierStatus.DUPLICATE,
        one,
    )
