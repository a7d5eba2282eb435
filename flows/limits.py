"""Per-machine cap on Tesseract processes, and a per-stage timing log.

Several ``sohoa worker`` processes (and several flow runs in each) may share a machine;
each page holds one slot of the Prefect global concurrency limit ``tesseract-<host>``
(limit = the machine's CPUs, or SOHOA_OCR_SLOTS) while it is cleaned and read, so the
machine never runs more Tesseract processes than it has cores, whoever started them.

Deployed runs (``flows/deployed.py``) create the limit if it is missing; in-process runs
on Prefect (``sohoa serve`` without SOHOA_DEPLOYMENT, ``sohoa process`` against a server)
take it only when it already exists (``flows.prefect_client.ocr_limit_for_run``), so they
cost one lookup and skip it quietly on a server that has none; inline runs (no Prefect)
take none. A limit that cannot be read or taken never fails a page: the page runs without
it, with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from config import Settings

log = logging.getLogger("sohoa.flows")

# Slots are held without renewal: a lease outlives any page (OCR is killed at
# SOHOA_PAGE_TIMEOUT_S), and a dead worker's slots come back when it runs out.
LEASE_MARGIN_S = 120.0
# Waiting for a slot polls the server; it suggests when to ask again (about one page's time
# per slot ahead in the queue): ask at most this long after, so a freed slot stays idle
# at most about that long.
MAX_POLL_S = 0.5


def machine_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def ocr_limit_name(settings: Settings) -> str:
    host = settings.ocr_host.strip() or socket.gethostname()
    return f"tesseract-{host}"


def ocr_slots(settings: Settings) -> int:
    return settings.ocr_slots or machine_cpus()


_client_lock = threading.Lock()
_clients: dict[str, Any] = {}
_held: set[str] = set()  # leases this process holds now (released on a worker's stop)


def _slot_client() -> Any:
    """One Prefect client per process and server, shared by the page threads."""
    from flows.prefect_client import open_sync_client

    api = os.environ.get("PREFECT_API_URL", "")
    with _client_lock:
        if api not in _clients:
            _clients[api] = open_sync_client()
        return _clients[api]


def _acquire(limit: str, lease_s: float) -> str | None:
    """A lease on one slot of ``limit``; None when the limit is gone or inactive."""
    import httpx

    client = _slot_client()
    while True:
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[limit], slots=1, mode="concurrency", lease_duration=lease_s
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 423:  # 423 Locked: every slot is taken
                raise
            retry_after = float(exc.response.headers.get("Retry-After") or MAX_POLL_S)
            time.sleep(min(max(retry_after, 0.05), MAX_POLL_S))
            continue
        data = response.json()
        if not data.get("limits"):
            return None
        lease_id = str(data["lease_id"])
        with _client_lock:
            _held.add(lease_id)
        return lease_id


def _release(lease_id: str) -> None:
    from uuid import UUID

    with _client_lock:
        _held.discard(lease_id)
    _slot_client().release_concurrency_slots_with_lease(UUID(lease_id))


def release_held_slots() -> int:
    """Give back every slot this process holds (a worker that stops mid-page)."""
    with _client_lock:
        leases = list(_held)
    for lease_id in leases:
        with contextlib.suppress(Exception):
            _release(lease_id)
    return len(leases)


@contextlib.contextmanager
def ocr_slot(settings: Settings, limit: str | None, dossier_id: str, page: int) -> Iterator[None]:
    """Hold one slot of ``limit`` (None: no limit) around a page's cleaning and OCR.

    Two API calls a page (take, give back), on a client the page threads share: Prefect's
    ``concurrency()`` context manager adds a lease-renewal thread with its own client and
    connection (a CSRF-token fetch and a renewal at once: three more calls a page).
    """
    if limit is None:
        yield
        return
    began = time.perf_counter()
    lease_id: str | None = None
    try:
        lease_id = _acquire(limit, settings.page_timeout_s + LEASE_MARGIN_S)
    except Exception as exc:  # never fail a page because the orchestrator hiccuped
        log.warning("page %d of %s runs without a slot of %s: %s", page + 1, dossier_id,
                    limit, exc)  # fmt: skip
    record_stage(settings, "slot-wait", dossier_id, page, time.perf_counter() - began)
    try:
        yield
    finally:
        if lease_id is not None:
            try:
                _release(lease_id)
            except Exception as exc:  # the lease runs out on its own
                log.warning("slot of %s not given back (%s): it frees in %.0f s", limit, exc,
                            settings.page_timeout_s + LEASE_MARGIN_S)  # fmt: skip


# --- timing -------------------------------------------------------------------------------

_log_lock = threading.Lock()


def record_stage(
    settings: Settings, stage: str, dossier_id: str, page: int | None, seconds: float
) -> None:
    """Append one JSON line to SOHOA_STAGE_LOG (benches read it); nothing when unset."""
    if not settings.stage_log:
        return
    line: dict[str, Any] = {
        "stage": stage,
        "dossier_id": dossier_id,
        "page": page,
        "seconds": round(seconds, 4),
        "end": round(time.time(), 4),
        "pid": os.getpid(),
    }
    data = (json.dumps(line) + "\n").encode()
    with _log_lock:
        # O_APPEND: lines from several processes never interleave (each is one write).
        fd = os.open(settings.stage_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


@contextlib.contextmanager
def timed(
    settings: Settings, stage: str, dossier_id: str, page: int | None = None
) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        record_stage(settings, stage, dossier_id, page, time.perf_counter() - began)
