"""/healthz answers anyone: it must cost one round trip, not a read of every dossier.

It counted dossiers by status, a scan of the whole table (0.25 s on two million rows in
SQLite, and growing), for every unsigned request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from flows.runtime import metadata_store
from tests.service_support import World, idle_world


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with idle_world(tmp_path / "data", database_url) as world:
        yield world


def test_health_check_reads_no_table(world: World) -> None:
    engine = metadata_store(world.settings).engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = world.client.get("/healthz")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert statements, "the database was not asked at all"
    assert not [s for s in statements if "dossiers" in s.lower()], statements
