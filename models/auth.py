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
    """The holder of a valid (unrevoked) token, or a person signed in with an account
    (whose scope is carried by a token of its own that is never handed out)."""

    token_id: str
    name: str
    role: Role
    agency_code: str | None = None  # set for agency tokens: the only dossiers they see
    counter_id: str | None = None  # set for counter tokens: recorded on their batches
    # Set when a person signed in with their account (app/accounts.py): their user name.
    # The scope above is the account's own token's, so every check treats both alike.
    user_name: str | None = None


@dataclass(frozen=True)
class TokenInfo:
    principal: Principal
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class AccountInfo:
    """A person's account: who they are, their scope (``principal``), their lockout."""

    principal: Principal  # user_name set; name is the display name
    created_at: datetime
    disabled_at: datetime | None
    failed_attempts: int
    locked_at: datetime | None  # when the last lockout began
    locked_until: datetime | None  # the account refuses every password until then
    last_sign_in_at: datetime | None

    @property
    def user_name(self) -> str:
        return self.principal.user_name or ""

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now
