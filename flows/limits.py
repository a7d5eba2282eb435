"""Per-machine cap on Tesseract processes, and a per-stage timing log.

Several ``sohoa worker`` processes (and several flow runs in each) may share a machine;
each page holds one slot of the Prefect global concurrency limit ``tesseract-<host>``
(limit = the machine's CPUs, or SOHOA_OCR_SLOTS) while it is cleaned and read, so the
machine never runs more Tesseract processes than it has cores, whoever started them.

Deployed runs (``flows/deployed.py``) create the limit if it is missing; in-process runs
(``sohoa process`` on Prefect's temporary server, ``sohoa serve`` without
SOHOA_DEPLOYMENT) take it only when it already exists, so they cost one lookup and skip it
quietly on a server that has none. A limit that cannot be read or taken never fails a
page: the page runs without it, with a warning.
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

# A dead worker's slots come back when their lease runs out: the shortest Prefect allows.
LEASE_SECONDS = 60.0


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


def ensure_ocr_limit(settings: Settings) -> str:
    """Create ``tesseract-<host>`` with this machine's slots, or correct its value."""
    from prefect.client.orchestration import get_client

    name = ocr_limit_name(settings)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, ocr_slots(settings))
    return name


def ocr_limit_for_run(settings: Settings, *, create: bool) -> str | None:
    """The limit this run's pages take, or None (missing, or the API would not say)."""
    from prefect.exceptions import ObjectNotFound

    try:
        if create:
            return ensure_ocr_limit(settings)
        from prefect.client.orchestration import get_client

        name = ocr_limit_name(settings)
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(name)
        return name
    except ObjectNotFound:
        return None
    except Exception as exc:  # the API answered badly: process anyway, uncapped
        log.warning("Tesseract limit not used: %s: %s", type(exc).__name__, exc)
        return None


@contextlib.contextmanager
def ocr_slot(settings: Settings, limit: str | None, dossier_id: str, page: int) -> Iterator[None]:
    """Hold one slot of ``limit`` (None: no limit) around a page's cleaning and OCR."""
    if limit is None:
        yield
        return
    from prefect.concurrency.sync import concurrency

    with contextlib.ExitStack() as stack:
        began = time.perf_counter()
        try:
            stack.enter_context(concurrency(limit, occupy=1, lease_duration=LEASE_SECONDS))
        except Exception as exc:  # never fail a page because the orchestrator hiccuped
            log.warning("page %d of %s runs without a slot of %s: %s", page + 1, dossier_id,
                        limit, exc)  # fmt: skip
        record_stage(settings, "slot-wait", dossier_id, page, time.perf_counter() - began)
        yield


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
