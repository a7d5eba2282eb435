"""Issue 27, push with nothing lost: the outbox row written with the archiving, pushes to a
real receiving server (tests/push_receiver.py) that fails, times out and sees a push twice,
a pusher killed (SIGKILL) between sending and marking, the receiver killed mid-push, dead
letters resent from /ops, and the status an agency sends back shown to the counter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import Settings
from flows import runtime
from flows.push import push_once, push_until_idle
from flows.runtime import metadata_store
from models import Role
from models.push import OutboxItem
from tests.handoff_world import AGENCY, WORLD, archive_dossier, world_settings
from tests.push_receiver import Receiver
from tests.service_support import SAME_ORIGIN, open_world, run_nothing

SECRET = "a-shared-key-of-the-agency-0123456789"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """The handing-on world on each metadata backend: PostgreSQL claims with ``FOR UPDATE
    SKIP LOCKED``, SQLite by its one writer, and both must hand each push out once."""
    runtime.reset()
    settings, _pki = world_settings(
        tmp_path,
        database_url=database_url,
        push_backoff_s=0.0,
        push_timeout_s=1.0,
        push_max_attempts=3,
    )
    yield settings
    runtime.reset()


def _archive(settings: Settings, work: Path, count: int, start: int = 0) -> list[str]:
    return [
        archive_dossier(settings, f"d{i:03d}", WORLD[i % 2], signed=False, work=work)
        for i in range(start, start + count)
    ]


def _keys(ids: list[str]) -> set[str]:
    return {f"sohoa:{i}:archived:1" for i in ids}


def test_the_outbox_row_is_written_with_the_archiving_only_for_an_agency_with_an_endpoint(
    settings: Settings, tmp_path: Path
) -> None:
    before = _archive(settings, tmp_path / "w", 1)  # no endpoint yet: nothing owed
    meta = metadata_store(settings)
    assert meta.outbox() == []
    meta.set_agency_push(AGENCY, "http://127.0.0.1:9/x", SECRET)
    ids = _archive(settings, tmp_path / "w", 2, start=1)
    rows = meta.outbox()
    assert {r.dossier_id for r in rows} == set(ids) and {r.state for r in rows} == {"pending"}
    meta.enqueue_archived(before[0])  # the backfill of an endpoint set later
    meta.enqueue_archived(before[0])  # owed once, whatever is asked twice
    assert len(meta.outbox()) == 3


def test_pushers_claiming_at_once_each_get_their_own_rows_until_the_lease_lapses(
    settings: Settings, tmp_path: Path
) -> None:
    meta = metadata_store(settings)
    meta.set_agency_push(AGENCY, "http://127.0.0.1:9/x", SECRET)
    ids = _archive(settings, tmp_path / "w", 6)
    lease = timedelta(minutes=5)
    start = threading.Barrier(3)
    claims: list[list[OutboxItem]] = []

    def claim() -> None:
        start.wait(timeout=30)
        claims.append(meta.claim_due(limit=3, lease=lease))

    pushers = [threading.Thread(target=claim) for _ in range(3)]
    for pusher in pushers:
        pusher.start()
    for pusher in pushers:
        pusher.join(timeout=60)
    claimed = [item.dossier_id for items in claims for item in items]
    assert len(claims) == 3
    assert sorted(claimed) == sorted(ids)  # every push handed out, none to two pushers
    assert all(item.url and item.secret == SECRET for items in claims for item in items)
    assert meta.claim_due(limit=10, lease=lease) == []  # all leased
    lapsed = datetime.now(UTC) + lease + timedelta(seconds=1)
    again = meta.claim_due(limit=10, lease=lease, now=lapsed)  # a dead pusher's rows
    assert sorted(item.dossier_id for item in again) == sorted(ids)
    assert {item.attempts for item in again} == {2}
    meta.mark_delivered(again[0].outbox_id, payload_sha256="0" * 64)
    later = lapsed + lease + timedelta(seconds=1)
    assert len(meta.claim_due(limit=10, lease=lease, now=later)) == 5  # delivered stays


def test_delivered_once_through_500_timeout_and_a_repeat(
    settings: Settings, tmp_path: Path
) -> None:
    # d000: 500 then ok; d001: the agency keeps it but answers too late (timeout), so the
    # same key comes again and is answered without being kept twice; d002: ok.
    receiver = Receiver(SECRET, script=["500", "slow", "ok"], slow_s=2.5).start()
    try:
        meta = metadata_store(settings)
        meta.set_agency_push(AGENCY, receiver.url, SECRET)
        ids = _archive(settings, tmp_path / "w", 3)
        first = push_once(settings, "http://sohoa.test", concurrency=1)
        assert (first.delivered, first.retrying) == (1, 2), first
        time.sleep(0.1)
        push_until_idle(settings, "http://sohoa.test", concurrency=1)
        assert {r.state for r in meta.outbox()} == {"delivered"}
        assert set(receiver.kept) == _keys(ids)
        assert len(receiver.requests) == 5  # 3 + the 500's retry + the timeout's retry
        assert receiver.bad_signatures == 0
        body = receiver.kept["sohoa:d000:archived:1"]
        assert (
            body["service"] == "DongBoHoSoMC" and body["data"][0]["SoHoa"]["dossier_id"] == "d000"
        )
        item = next(r for r in meta.outbox() if r.dossier_id == "d001")
        assert item.attempts == 2
    finally:
        receiver.stop()


def test_dead_letter_after_the_last_attempt_then_resent_from_ops(
    settings: Settings, tmp_path: Path
) -> None:
    meta = metadata_store(settings)
    meta.set_agency_push(AGENCY, "http://127.0.0.1:9/nothing-listens", SECRET)
    (dossier_id,) = _archive(settings, tmp_path / "w", 1)
    for _ in range(3):
        push_until_idle(settings, "http://sohoa.test")
    (dead,) = meta.outbox(state="dead")
    assert dead.attempts == 3 and dead.last_error
    receiver = Receiver(SECRET).start()
    try:
        meta.set_agency_push(AGENCY, receiver.url, SECRET)
        tokens = [("operator", Role.OPERATOR, None, None), ("counter", Role.COUNTER, None, None)]
        with open_world(settings, run=run_nothing, tokens=tokens) as w:
            w.sign_in("operator")
            page = w.client.get("/ops")
            assert "dead-letters" in page.text and dossier_id in page.text
            cross = w.client.post(f"/ops/push/{dead.outbox_id}/resend", follow_redirects=False)
            assert cross.status_code == 403  # no same-origin proof: refused
            done = w.client.post(
                f"/ops/push/{dead.outbox_id}/resend", headers=SAME_ORIGIN, follow_redirects=False
            )
            assert done.status_code == 303
        push_until_idle(settings, "http://sohoa.test")
        assert set(receiver.kept) == {dead.idempotency_key}
    finally:
        receiver.stop()


def _cli(settings: Settings, *args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SOHOA_DATA_DIR": str(settings.data_dir),
        "SOHOA_DATABASE_URL": settings.resolved_database_url,
        "SOHOA_PUSH_TIMEOUT_S": "1",
        "SOHOA_PUSH_BACKOFF_S": "0",
        "SOHOA_FAULT": fault,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_pusher_killed_between_send_and_mark_delivers_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    receiver = Receiver(SECRET).start()
    try:
        metadata_store(settings).set_agency_push(AGENCY, receiver.url, SECRET)
        ids = _archive(settings, tmp_path / "w", 6)
        runtime.reset()
        killed = _cli(settings, "push", "--concurrency", "1", fault="push.after-send:3")
        assert killed.returncode == -9, killed.stderr  # SIGKILL after the 3rd send
        assert len(receiver.kept) == 3
        time.sleep(3.2)  # the dead pusher's claims (3 x the 1 s timeout) run out
        again = _cli(settings, "push")
        assert again.returncode == 0, again.stderr
        assert set(receiver.kept) == _keys(ids)  # every dossier, each kept once
        assert len(receiver.requests) > len(ids)  # the agency did see repeats: keys dedup them
        states = {r.state for r in metadata_store(settings).outbox()}
        assert states == {"delivered"}
    finally:
        receiver.stop()


def test_receiver_killed_mid_push_then_back(settings: Settings, tmp_path: Path) -> None:
    receiver = Receiver(SECRET, script=["ok", "slow"], slow_s=5).start()
    meta = metadata_store(settings)
    meta.set_agency_push(AGENCY, receiver.url, SECRET)
    ids = _archive(settings, tmp_path / "w", 4)
    port = receiver.port
    killer = __import__("threading").Timer(0.5, receiver.stop)
    killer.start()
    push_once(settings, "http://sohoa.test", concurrency=1)
    killer.join()
    assert {r.state for r in meta.outbox()} >= {"pending"}
    back = Receiver(SECRET).start(port)
    back.kept, back.requests = receiver.kept, receiver.requests  # the agency's own database
    try:
        deadline = time.monotonic() + 30
        while {r.state for r in meta.outbox()} != {"delivered"}:
            assert time.monotonic() < deadline, meta.outbox()
            push_until_idle(settings, "http://sohoa.test")
            time.sleep(0.2)
        assert set(back.kept) == _keys(ids)
    finally:
        back.stop()


def test_status_back_is_recorded_and_shown_to_the_counter(
    settings: Settings, tmp_path: Path
) -> None:
    (dossier_id,) = _archive(settings, tmp_path / "w", 1)
    tokens = [
        ("counter", Role.COUNTER, None, None),
        ("agency", Role.AGENCY, AGENCY, None),
        ("other", Role.AGENCY, "000.17.22.H56", None),
    ]
    with open_world(settings, run=run_nothing, tokens=tokens) as w:
        url = f"/api/dossiers/{dossier_id}/status"
        at = datetime.now(UTC).isoformat()
        assert (
            w.client.post(url, json={"status": "received"}, headers=w.auth("counter")).status_code
            == 403
        )
        assert (
            w.client.post(url, json={"status": "received"}, headers=w.auth("other")).status_code
            == 404
        )
        assert (
            w.client.post(url, json={"status": "lost"}, headers=w.auth("agency")).status_code == 422
        )
        assert w.client.post(url, json={"status": "received"}).status_code == 401
        later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        ok = w.client.post(
            url, json={"status": "result_ready", "at": later, "note": "Có kết quả"},
            headers=w.auth("agency"),
        )  # fmt: skip
        assert ok.status_code == 201, ok.text
        w.client.post(url, json={"status": "received", "at": at}, headers=w.auth("agency"))
        latest = metadata_store(settings).agency_statuses([dossier_id])[dossier_id]
        assert latest.status == "result_ready"  # by the agency's time, not arrival order
        # The counter's batch view says it in the catalogue's words.
        batch_id = metadata_store(settings).get_dossier(dossier_id).batch_id
        meta = metadata_store(settings)
        meta_batch = meta.get_batch(batch_id)
        from app.views import batch_json
        from models import Principal

        operator = Principal(token_id="t", name="operator", role=Role.OPERATOR)
        row = batch_json(settings, meta_batch, operator)["dossiers"][0]
        assert row["agency_status"] == "result_ready"
        assert row["agency_status_text"] == "Đã có kết quả"
        events = json.dumps([str(e) for e in meta.events(dossier_id)], ensure_ascii=False)
        assert "agency-result_r" in events or "result" in events
