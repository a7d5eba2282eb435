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

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from models.errors import StorageError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 0x50_48_4F_41  # "SOHOA"-ish; any constant shared by all starters


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


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
    target = head_revision() if revision == "head" else revision
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
        current = MigrationContext.configure(connection).get_current_revision()
        if current == target:
            return False
        if current is None and inspect(connection).has_table("dossiers"):
            raise StorageError(
                "the database has sohoa tables but no migration history "
                "(made by a pre-release build): move it away and start again"
            )
        command.upgrade(_config(connection), revision)
    return True
