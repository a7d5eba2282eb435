"""People signing in with their name and password, and operators unlocking them.

A clerk signs in as themself (``storage.metadata.accounts``): the page session is the same
as a token's, on their account's own token, so everything a counter token may do they may
do, and what they upload is recorded as theirs. The token paste stays for machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import HTTPException

from config import Settings
from flows.runtime import metadata_store
from models import AccountInfo, Principal
from models.errors import AccountNotFoundError


@dataclass(frozen=True)
class LoginAnswer:
    principal: Principal | None
    locked_until: datetime | None = None


def check_login(settings: Settings, *, token: str, user_name: str, password: str) -> LoginAnswer:
    """Who the sign-in form names: a person by name and password, else a machine's token."""
    meta = metadata_store(settings)
    if user_name.strip():
        answer = meta.sign_in(
            user_name,
            password,
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
        )
        return LoginAnswer(answer.principal, answer.locked_until)
    return LoginAnswer(meta.authenticate(token) if token.strip() else None)


def account_json(account: AccountInfo) -> dict[str, Any]:
    p = account.principal
    return {
        "user_name": account.user_name,
        "display_name": p.name,
        "role": str(p.role),
        "counter_id": p.counter_id,
        "agency": p.agency_code,
        "failed_attempts": account.failed_attempts,
        "locked_at": account.locked_at.isoformat() if account.locked_at else None,
        "locked_until": account.locked_until.isoformat() if account.locked_until else None,
        "disabled": account.disabled_at is not None,
    }


def locked_accounts(settings: Settings) -> list[dict[str, Any]]:
    """Who cannot sign in right now, since when and until when (operators' desk)."""
    return [account_json(a) for a in metadata_store(settings).locked_accounts()]


def unlock_account(settings: Settings, user_name: str) -> AccountInfo:
    """An operator lets a locked-out person try again now (404 for no such account)."""
    try:
        info: AccountInfo = metadata_store(settings).unlock_account(user_name)
    except AccountNotFoundError:
        raise HTTPException(404, "no such account") from None
    return info
