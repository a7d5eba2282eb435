"""People's accounts: a user name, a display name, a password, a role and its scope.

An account's role and scope (counter, agency) live on a token of its own whose secret is
never shown to anyone (only a random digest is kept): a person signed in gets a page
session on that token, their batches are owned by it, and every access check that works
for a token works the same for them. Disabling the account revokes that token, which ends
its sessions at once.

Wrong passwords are counted in the database (every worker process sees the same count):
``max_failures`` in a row lock the account for ``lockout``, its right password included,
until then or until an operator unlocks it. A name without an account costs the same hash
work as one with, so the answer's timing does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import AccountInfo, Principal, Role
from models.errors import AccountNotFoundError
from storage.metadata import passwords
from storage.metadata.base import StoreBase
from storage.metadata.records import token_info
from storage.metadata.rows import AccountRow, TokenRow, as_utc, utc_now

USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@dataclass(frozen=True)
class SignIn:
    """A sign-in's answer: the principal when the password was right and the account open;
    ``locked_until`` when the account is locked (right password or not)."""

    principal: Principal | None = None
    locked_until: datetime | None = None


def user_name_of(text: str) -> str:
    """The canonical spelling of a user name (lower case, no surrounding blanks)."""
    return text.strip().lower()


def _stamp(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _account_info(row: AccountRow, token: TokenRow) -> AccountInfo:
    return AccountInfo(
        principal=token_info(token, row.user_name).principal,
        created_at=as_utc(row.created_at),
        disabled_at=_stamp(row.disabled_at),
        failed_attempts=row.failed_attempts,
        locked_at=_stamp(row.locked_at),
        locked_until=_stamp(row.locked_until),
        last_sign_in_at=_stamp(row.last_sign_in_at),
    )


class AccountStore(StoreBase):
    """Accounts: created, signed in to, listed, unlocked, disabled."""

    def create_account(
        self,
        *,
        user_name: str,
        display_name: str,
        password: str,
        role: Role,
        counter_id: str | None = None,
        agency_code: str | None = None,
    ) -> AccountInfo:
        name = user_name_of(user_name)
        if not USER_NAME.fullmatch(name):
            raise ValueError(
                "a user name is 2 to 64 letters a-z, digits, '.', '_' or '-' (e.g. lan.nguyen)"
            )
        if not display_name.strip():
            raise ValueError("an account needs a display name (the person's full name)")
        if role is Role.AGENCY and not agency_code:
            raise ValueError("an agency account needs --agency CODE")
        if role is not Role.AGENCY and agency_code:
            raise ValueError("only agency accounts belong to an agency")
        if role is Role.COUNTER and not counter_id:
            raise ValueError("a counter account needs --counter ID (the desk it works at)")
        passwords.check_new_password(password)
        password_hash = passwords.hash_password(password)
        now = utc_now()
        with self._session() as session:
            if session.get(AccountRow, name) is not None:
                raise ValueError(f"an account named {name} already exists")
            token = TokenRow(
                token_id=secrets.token_hex(6),
                # Nobody holds this token's secret: it only carries the account's scope.
                secret_sha256=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                name=display_name.strip(),
                role=str(role),
                agency_code=agency_code,
                counter_id=counter_id,
                created_at=now,
            )
            row = AccountRow(
                user_name=name,
                display_name=display_name.strip(),
                token_id=token.token_id,
                password_hash=password_hash,
                failed_attempts=0,
                created_at=now,
            )
            session.add(token)
            session.flush()  # the token first: the account refers to it
            session.add(row)
            session.flush()
            return _account_info(row, token)

    def sign_in(
        self,
        user_name: str,
        password: str,
        *,
        max_failures: int,
        lockout: timedelta,
        now: datetime | None = None,
    ) -> SignIn:
        """Check a person's password; count it when wrong, lock the account when too many."""
        now = now or utc_now()
        name = user_name_of(user_name)
        stored: str | None = None
        if USER_NAME.fullmatch(name):
            with self._session() as session:
                row = session.get(AccountRow, name)
                if row is not None and row.disabled_at is None:
                    stored = row.password_hash
        if stored is None:
            passwords.spend_as_if_checked(password)
            return SignIn()
        # The hash work is done outside any transaction: no row stays locked for it.
        right = passwords.verify_password(password, stored)
        with self._session() as session:
            row = session.get(AccountRow, name, with_for_update=True)
            token = session.get(TokenRow, row.token_id) if row is not None else None
            if row is None or token is None or row.disabled_at or token.revoked_at:
                return SignIn()
            locked_until = _stamp(row.locked_until)
            if locked_until is not None and locked_until > now:
                return SignIn(locked_until=locked_until)  # not counted: the lock is running
            if locked_until is not None:  # a lock that ran out: a fresh count
                row.failed_attempts, row.locked_until = 0, None
            if right:
                row.failed_attempts, row.last_sign_in_at = 0, now
                if passwords.needs_rehash(row.password_hash):
                    row.password_hash = passwords.hash_password(password)
                return SignIn(principal=token_info(token, row.user_name).principal)
            return self._count_failure(session, row, max_failures, now + lockout, now)

    @staticmethod
    def _count_failure(
        session: Session, row: AccountRow, max_failures: int, until: datetime, now: datetime
    ) -> SignIn:
        # Counted by the database (failed_attempts + 1), not from what this process read:
        # two workers refusing at once both count.
        session.flush()
        session.execute(
            update(AccountRow)
            .where(AccountRow.user_name == row.user_name)
            .values(failed_attempts=AccountRow.failed_attempts + 1)
        )
        session.refresh(row)
        if row.failed_attempts >= max_failures:
            row.locked_at, row.locked_until = now, until
            return SignIn(locked_until=until)
        return SignIn()

    def get_account(self, user_name: str) -> AccountInfo:
        with self._session() as session:
            row = session.get(AccountRow, user_name_of(user_name))
            token = session.get(TokenRow, row.token_id) if row is not None else None
            if row is None or token is None:
                raise AccountNotFoundError(user_name)
            return _account_info(row, token)

    def list_accounts(self) -> list[AccountInfo]:
        with self._session() as session:
            pairs = session.execute(
                select(AccountRow, TokenRow)
                .join(TokenRow, TokenRow.token_id == AccountRow.token_id)
                .order_by(AccountRow.user_name)
            ).all()
            return [_account_info(row, token) for row, token in pairs]

    def locked_accounts(self, now: datetime | None = None) -> list[AccountInfo]:
        """Accounts locked right now, the most recently locked first (operators' page)."""
        now = now or utc_now()
        with self._session() as session:
            pairs = session.execute(
                select(AccountRow, TokenRow)
                .join(TokenRow, TokenRow.token_id == AccountRow.token_id)
                .where(AccountRow.locked_until > now, AccountRow.disabled_at.is_(None))
                .order_by(AccountRow.locked_at.desc())
            ).all()
            return [_account_info(row, token) for row, token in pairs]

    def unlock_account(self, user_name: str) -> AccountInfo:
        """An operator vouches for the person: the lock and the count are cleared."""
        with self._session() as session:
            row = session.get(AccountRow, user_name_of(user_name))
            if row is None:
                raise AccountNotFoundError(user_name)
            row.failed_attempts, row.locked_until = 0, None
            token = session.get(TokenRow, row.token_id)
            assert token is not None  # a foreign key
            return _account_info(row, token)

    def disable_account(self, user_name: str) -> AccountInfo:
        """No more sign-ins; its token is revoked, which ends its open sessions now."""
        now = utc_now()
        with self._session() as session:
            row = session.get(AccountRow, user_name_of(user_name))
            if row is None:
                raise AccountNotFoundError(user_name)
            token = session.get(TokenRow, row.token_id)
            assert token is not None  # a foreign key
            row.disabled_at = row.disabled_at or now
            token.revoked_at = token.revoked_at or now
            return _account_info(row, token)

    def set_password(self, user_name: str, password: str) -> AccountInfo:
        """A new password (a forgotten one is replaced, never shown); clears any lock."""
        passwords.check_new_password(password)
        password_hash = passwords.hash_password(password)
        with self._session() as session:
            row = session.get(AccountRow, user_name_of(user_name))
            if row is None:
                raise AccountNotFoundError(user_name)
            row.password_hash, row.failed_attempts, row.locked_until = password_hash, 0, None
            token = session.get(TokenRow, row.token_id)
            assert token is not None  # a foreign key
            return _account_info(row, token)
