"""Who is calling: the three roles of sohoa's users and the identity a token carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    COUNTER = "counter"  # uploads batches, sees its own batches' progress
    AGENCY = "agency"  # retrieves the dossiers routed to its agency, nothing else
    OPERATOR = "operator"  # watches flows, retries, reviews and corrects fields


@dataclass(frozen=True)
class Principal:
    """The holder of a valid (unrevoked) token."""

    token_id: str
    name: str
    role: Role
    agency_code: str | None = None  # set for agency tokens: the only dossiers they see
    counter_id: str | None = None  # set for counter tokens: recorded on their batches


@dataclass(frozen=True)
class TokenInfo:
    principal: Principal
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
