"""Issue 31's smaller findings, each against the service: metrics labels a client chooses,
NUL bytes the database refuses, names that spoof what people see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config import Settings
from tests.service_support import World, open_world, run_nothing


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, metrics_public=True)
    with open_world(settings, run=run_nothing, raise_server_exceptions=False) as world:
        yield world


def test_metrics_labels_fold_unknown_methods(world: World) -> None:
    before = len(world.client.get("/metrics").content)
    for n in range(300):  # old: each its own label set, 15 KB methods took /metrics to 18 MB
        world.client.request(f"M{n:03d}" + "X" * 1_000, "/healthz")
    world.client.request("GET", "/no/such/route")
    text = world.client.get("/metrics").text
    assert "XXXXXXXX" not in text
    assert 'method="other"' in text
    assert len(text) < before + 20_000, (before, len(text))


NUL_REQUESTS = [
    ("POST", "/login", {"data": {"token": "sohoa_\x00abcdefghijk_secret"}}),
    ("POST", "/login", {"data": {"token": "sohoa_abc\x00defghijk_secret"}}),
    ("GET", "/api/dossiers?code=%00", {}),
    ("GET", "/api/dossiers?name=a%00b", {}),
    ("GET", "/api/dossiers?id_number=%00", {}),
    ("GET", "/api/dossiers?procedure=%00", {}),
    ("GET", "/search?code=%00", {}),
    ("GET", "/api/dossiers/%00", {}),
    ("PATCH", "/api/dossiers/x/fields/full_name", {"content": b'{"value": "a\\u0000"}'}),
]


@pytest.mark.parametrize(("method", "url", "body"), NUL_REQUESTS)
def test_nul_is_a_422_and_logs_no_sql(
    world: World, caplog: pytest.LogCaptureFixture, method: str, url: str, body: dict[str, object]
) -> None:
    # Old, on PostgreSQL: a 500 and ~7 KB of traceback with the SQL and its parameters.
    answer = world.client.request(method, url, **body)  # type: ignore[arg-type]
    assert answer.status_code == 422, answer.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SELECT" not in logged and "sqlalchemy" not in logged.lower(), logged


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\u202egnp.exe", "gnp.exe"),  # old: shown as "exe.png"
        ("ho\u200bso\u200d.pdf", "hoso.pdf"),
        ("a\u2066b\u2069\u200e\u200f\u061c\ufeff.png", "ab.png"),
        ("x\u0085y.pdf", "xy.pdf"),
        ("Hồ sơ ông Nguyễn.pdf", "Hồ sơ ông Nguyễn.pdf"),
    ],
)
def test_names_shown_lose_bidi_and_zero_width_characters(raw: str, shown: str) -> None:
    from models.names import display_name

    assert display_name(raw, "x") == shown
