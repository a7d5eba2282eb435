"""Schema migrations (Alembic), run from code: on first start and by ``sohoa db upgrade``.

Several workers may start at once against one PostgreSQL: the upgrade runs under a
transaction-scoped advisory lock, and each starter re-reads the revision inside it, so
exactly one of them migrates and the others find the schema current.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from models.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 0x50_48_4F_41  # "SOHOA"-ish; any constant shared by all starters
# The newest revision in migrations/versions (tests check it is Alembic's head). Every start
# compares the database with it; Alembic (a third of a second to import, and it reads every
# migration file) is loaded only when there is something to apply or a command asks.
SHIPPED_HEAD = "0010"
_VERSION_TABLE = "alembic_version"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated), read as Alembic stores it."""
    with engine.connect() as connection:
        return _stored_revision(connection)


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).fetchall()
    if len(rows) > 1:
        raise StorageError("the database records several schema revisions (branched history)")
    return str(rows[0][0]) if rows else None


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """SQLite takes its write lock only at the first write, too late to stop two starters
    both seeing an empty database; a lock file beside it serialises them instead."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade_schema(engine: Engine, revision: str = "head") -> bool:
    """Bring the schema to ``revision``; True if anything was applied."""
    target = SHIPPED_HEAD if revision == "head" else revision
    # The first look is under the lock too: on a new SQLite file the first connection also
    # switches the journal to WAL, and starters doing that beside one that is migrating got
    # "database is locked" (four starters on a new file: 2 of 40 tries; 0 of 160 now).
    with _sqlite_file_lock(engine):
        if current_revision(engine) == target:
            return False
        return _upgrade_locked(engine, revision, target)


def _upgrade_locked(engine: Engine, revision: str, target: str) -> bool:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        current = _stored_revision(connection)
        if current == target:
            return False
        if current is None and inspect(connection).has_table("dossiers"):
            raise StorageError(
                "the database has sohoa tables but no migration history "
                "(made by a pre-release build): move it away and start again"
            )
        from alembic import command

        command.upgrade(_config(connection), revision)
    return True
