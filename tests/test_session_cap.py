"""A token's page sessions are bounded: signing in in a loop ends the oldest ones.

Before, every sign-in added a session row that lived its whole lifetime (8 h): one script
holding any valid token signed in 95 times a second, 2.7 million rows a working day.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from config import Settings
from flows.runtime import metadata_store
from models import Role
from storage.metadata import SessionRow
from storage.metadata.tokens import MAX_SESSIONS_PER_TOKEN


def test_signing_in_past_the_cap_ends_the_oldest_sessions(db_settings: Settings) -> None:
    meta = metadata_store(db_settings)
    looping, _ = meta.create_token(name="script", role=Role.COUNTER, counter_id="HL-09")
    other, _ = meta.create_token(name="clerk", role=Role.OPERATOR)
    kept = meta.create_session(other.principal.token_id, lifetime=timedelta(hours=8))
    sessions = [
        meta.create_session(looping.principal.token_id, lifetime=timedelta(hours=8))
        for _ in range(MAX_SESSIONS_PER_TOKEN + 5)
    ]
    with meta.engine.connect() as connection:
        rows = connection.execute(
            select(func.count())
            .select_from(SessionRow)
            .where(SessionRow.token_id == looping.principal.token_id)
        ).scalar_one()
    assert rows == MAX_SESSIONS_PER_TOKEN
    assert all(meta.session_principal(s) is None for s in sessions[:5])
    assert all(meta.session_principal(s) is not None for s in sessions[5:])
    assert meta.session_principal(kept) is not None  # another token's sessions untouched
