"""Pushes to agencies' systems (issue 27): their endpoints, the outbox, what they answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OutboxState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a pusher until claimed_until (then due again)
    DELIVERED = "delivered"  # the agency answered 2xx
    DEAD = "dead"  # no more attempts: an operator resends it from /ops


class AgencyStatus(StrEnum):
    """What an agency says of a dossier it took (POST /api/dossiers/{id}/status)."""

    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    RESULT_READY = "result_ready"
    RETURNED = "returned"


@dataclass(frozen=True)
class AgencyPush:
    agency_code: str
    url: str
    secret: str
    enabled: bool
    updated_at: datetime


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    dossier_id: str
    agency_code: str
    idempotency_key: str
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    url: str | None = None  # the agency's endpoint and key, when claimed to be sent
    secret: str | None = None


@dataclass(frozen=True)
class StatusReport:
    dossier_id: str
    agency_code: str
    status: str
    at: datetime
    note: str | None
