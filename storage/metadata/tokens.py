"""Access tokens and the page sessions signed in with them."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from models import Principal, Role, TokenInfo
from models.errors import TokenNotFoundError
from storage.metadata.base import StoreBase
from storage.metadata.records import token_info
from storage.metadata.rows import AccountRow, SessionRow, TokenRow, as_utc, utc_now

log = logging.getLogger("sohoa.storage")

# A token's last use is bookkeeping: recorded at most this often, so that reads do not
# write (and cannot fail when the disk is full).
LAST_USED_EVERY = timedelta(minutes=5)
# Page sessions one token keeps at once: every browser its holder signs in from, and more.
# A sign-in past that ends the oldest: a script signing in 95 times a second would
# otherwise add 2.7 million rows before the first of them expires.
MAX_SESSIONS_PER_TOKEN = 20


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore(StoreBase):
    """Tokens (only their secrets' SHA-256 kept) and page sessions."""

    # --- tokens ---------------------------------------------------------------------------

    def create_token(
        self,
        *,
        name: str,
        role: Role,
        agency_code: str | None = None,
        counter_id: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token; returns it with its one-time plaintext (``sohoa_<id>_<secret>``)."""
        if not name.strip():
            raise ValueError("a token needs a name (who or what holds it)")
        if role is Role.AGENCY and not agency_code:
            raise ValueError("an agency token needs --agency CODE")
        if role is not Role.AGENCY and agency_code:
            raise ValueError("only agency tokens belong to an agency")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._session() as session:
            row = TokenRow(
                token_id=token_id,
                secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                name=name.strip(),
                role=str(role),
                agency_code=agency_code,
                counter_id=counter_id,
                created_at=utc_now(),
            )
            session.add(row)
            info = token_info(row)
        return info, f"sohoa_{token_id}_{secret}"

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None for anything else."""
        parts = token.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != "sohoa" or len(parts[1]) != 12:
            return None
        token_id, secret = parts[1], parts[2]
        digest = hashlib.sha256(secret.encode()).hexdigest()
        with self._session() as session:
            row = session.get(TokenRow, token_id)
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.secret_sha256, digest):
                return None
            principal = token_info(row).principal
            last_used = as_utc(row.last_used_at) if row.last_used_at else None
        now = utc_now()
        if last_used is None or now - last_used > LAST_USED_EVERY:
            self._record_use(token_id, now)
        return principal

    def _record_use(self, token_id: str, now: datetime) -> None:
        """Best effort, in its own transaction: a full disk or a locked database must never
        turn a read into an error, so a failure here is logged and forgotten."""
        try:
            with self._session() as session:
                session.execute(
                    update(TokenRow).where(TokenRow.token_id == token_id).values(last_used_at=now)
                )
        except Exception as exc:
            log.warning("last use of token %s not recorded: %s", token_id, type(exc).__name__)

    # --- page sessions --------------------------------------------------------------------

    def create_session(self, token_id: str, *, lifetime: timedelta) -> str:
        """A new page session for a (valid) token; returns its id, shown only this once.

        Expired sessions are swept here: sign-ins are rare, and the sweep is indexed.
        """
        session_id = secrets.token_urlsafe(32)
        now = utc_now()
        with self._session() as session:
            session.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
            session.add(
                SessionRow(
                    session_sha256=_digest(session_id),
                    token_id=token_id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
            session.flush()
            newest = (
                select(SessionRow.session_sha256)
                .where(SessionRow.token_id == token_id)
                .order_by(SessionRow.created_at.desc())
                .limit(MAX_SESSIONS_PER_TOKEN)
            )
            session.execute(
                delete(SessionRow).where(
                    SessionRow.token_id == token_id, SessionRow.session_sha256.not_in(newest)
                )
            )
        return session_id

    def session_principal(self, session_id: str) -> Principal | None:
        """Who a session belongs to, if it is current and its token is not revoked."""
        if not session_id or len(session_id) > 128:
            return None
        with self._session() as session:
            found = session.execute(
                select(TokenRow, AccountRow.user_name)
                .join(SessionRow, SessionRow.token_id == TokenRow.token_id)
                .outerjoin(AccountRow, AccountRow.token_id == TokenRow.token_id)
                .where(
                    SessionRow.session_sha256 == _digest(session_id),
                    SessionRow.expires_at > utc_now(),
                    TokenRow.revoked_at.is_(None),
                )
            ).one_or_none()
            if found is None:
                return None
            row, user_name = found
            # A person's session names them (their account's user name) as well.
            return token_info(row, user_name).principal

    def end_session(self, session_id: str) -> None:
        """Sign-out: the session id is worth nothing from now on, wherever it was copied."""
        with self._session() as session:
            session.execute(
                delete(SessionRow).where(SessionRow.session_sha256 == _digest(session_id))
            )

    def revoke_token(self, token_id: str) -> TokenInfo:
        with self._session() as session:
            row = session.get(TokenRow, token_id)
            if row is None:
                raise TokenNotFoundError(token_id)
            if row.revoked_at is None:
                row.revoked_at = utc_now()
            return token_info(row)

    def list_tokens(self) -> list[TokenInfo]:
        with self._session() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created_at)).all()
            return [token_info(row) for row in rows]
