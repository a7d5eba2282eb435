"""Pushing archived dossiers to the agencies that asked for them (issue 27).

The outbox (``storage.metadata.outbox``) holds what is owed; ``push_once`` claims what is
due, builds each body (the handoff document, ``flows.handoff``, with fresh links), POSTs it
and marks it delivered (any 2xx) or failed: due again after an exponential backoff with
jitter (``push_backoff_s`` doubled per attempt, times 0.5–1.5, at most an hour), dead
after ``push_max_attempts``, for an operator to resend from /ops.

Every POST carries:

* ``Idempotency-Key``: the same for every attempt of one push. A pusher killed between
  the agency's answer and the mark, a timeout after the agency stored it, a proxy that
  repeats: the agency sees the key again and must keep the first (delivery is at least
  once; exactly once is the key's job at the receiver).
* ``X-Sohoa-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the
  agency's shared key (``sohoa agency set-push``); ``X-Sohoa-Timestamp`` the sending time.

The body is ``{"service": "DongBoHoSoMC", "isUpdating": false, "idempotency_key": ...,
"event": "archived", "sent_at": ..., "data": [<the handoff document>]}``, the shape in
which opencps sends dossiers to the portal, one dossier per push.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from config import Settings
from flows.handoff import HandoffError, handoff_document
from flows.runtime import metadata_store
from models import faults
from models.errors import SohoaError
from models.push import OutboxItem
from pipeline.portal import SERVICE

log = logging.getLogger("sohoa.push")
MAX_BACKOFF_S = 3600.0
SIGNATURE_HEADER = "X-Sohoa-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header's value: what an agency recomputes over the body it received."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def backoff(settings: Settings, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: doubling, jittered, capped."""
    base = settings.push_backoff_s * (2 ** max(attempts - 1, 0))
    return min(base, MAX_BACKOFF_S) * (rng or random).uniform(0.5, 1.5)


def lease(settings: Settings) -> timedelta:
    """How long a claim holds: a send that takes longer is taken to have died."""
    return timedelta(seconds=max(settings.push_timeout_s * 3, 1.0))


@dataclass
class PushReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def push_body(settings: Settings, item: OutboxItem, base_url: str) -> bytes:
    document = handoff_document(settings, item.dossier_id, base_url)
    body = {
        "service": SERVICE,
        "isUpdating": False,
        "idempotency_key": item.idempotency_key,
        "event": item.event,
        "sent_at": datetime.now(UTC).isoformat(),
        "data": [document],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _send(settings: Settings, client: httpx.Client, item: OutboxItem, base_url: str) -> str | None:
    """One attempt; None when delivered, else why not."""
    if not item.url or not item.secret:
        return "the agency has no push endpoint now"
    body = push_body(settings, item, base_url)
    response = client.post(
        item.url,
        content=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": item.idempotency_key,
            SIGNATURE_HEADER: signature(item.secret, body),
            "X-Sohoa-Timestamp": str(int(datetime.now(UTC).timestamp())),
            "User-Agent": "sohoa-push/1",
        },
    )
    faults.point("push.after-send")  # the crash test: the agency has it, we do not know yet
    if 200 <= response.status_code < 300:
        metadata_store(settings).mark_delivered(
            item.outbox_id, payload_sha256=hashlib.sha256(body).hexdigest()
        )
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _attempt(settings: Settings, client: httpx.Client, item: OutboxItem, base_url: str) -> str:
    meta = metadata_store(settings)
    try:
        why = _send(settings, client, item, base_url)
    except HandoffError as exc:
        why = f"no handoff: {exc.message}"
    except httpx.TimeoutException:
        why = f"timed out after {settings.push_timeout_s:g} s"
    except httpx.HTTPError as exc:
        why = f"{type(exc).__name__}: {exc}"
    except SohoaError as exc:
        why = exc.message
    if why is None:
        return "delivered"
    if item.attempts >= settings.push_max_attempts:
        meta.mark_failed(item.outbox_id, error=why, retry_at=None)
        log.warning("push %s dead after %d attempts: %s", item.idempotency_key, item.attempts, why)
        return "dead"
    retry_at = datetime.now(UTC) + timedelta(seconds=backoff(settings, item.attempts))
    meta.mark_failed(item.outbox_id, error=why, retry_at=retry_at)
    log.info("push %s failed (%s); again at %s", item.idempotency_key, why, retry_at)
    return "retrying"


def push_once(
    settings: Settings, base_url: str, *, limit: int = 100, concurrency: int = 4
) -> PushReport:
    """Claim what is due (up to ``limit``) and send it, ``concurrency`` at a time."""
    items = metadata_store(settings).claim_due(limit=limit, lease=lease(settings))
    report = PushReport(claimed=len(items))
    if not items:
        return report
    timeout = httpx.Timeout(settings.push_timeout_s)
    with (
        httpx.Client(timeout=timeout, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool,
    ):
        for outcome in pool.map(lambda i: _attempt(settings, client, i, base_url), items):
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def push_until_idle(settings: Settings, base_url: str, *, concurrency: int = 4) -> PushReport:
    """Send everything due now, batch after batch, until nothing is due (``sohoa push``)."""
    total = PushReport()
    while True:
        report = push_once(settings, base_url, concurrency=concurrency)
        if report.claimed == 0:
            return total
        for name in ("claimed", "delivered", "retrying", "dead"):
            setattr(total, name, getattr(total, name) + getattr(report, name))


class Pusher:
    """``sohoa serve``'s pusher: a thread that sends what is due every ``push_interval_s``."""

    def __init__(self, settings: Settings, base_url: str) -> None:
        self.settings, self.base_url = settings, base_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sohoa-pusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                push_until_idle(self.settings, self.base_url)
            except Exception:  # the pusher outlives a database hiccup; the rows wait
                log.exception("pusher: a round failed; trying again")
            self._stop.wait(self.settings.push_interval_s)
