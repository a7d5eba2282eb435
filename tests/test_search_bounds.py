"""Search bounds at the edges of the calendar: a plain answer, never a server fault.

``received_to=0001-01-01T00:00:00+14:00`` (an instant before the first UTC day) and the
search page's ``date_to=9999-12-31`` (its end is the day after the last) raised
OverflowError: a 500 with a stack trace in the log for every such request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_support import World, idle_world


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with idle_world(tmp_path / "data", database_url) as world:
        yield world


@pytest.mark.parametrize(
    "bound",
    [
        "received_to=0001-01-01T00:00:00%2B14:00",
        "received_from=0001-01-01T00:00:00%2B14:00",
        "received_from=9999-12-31T23:59:59-14:00",
        "received_to=9999-12-31T23:59:59-14:00",
    ],
)
def test_api_search_bounds_past_the_calendar_are_the_farthest_day(world: World, bound: str) -> None:
    found = world.client.get(f"/api/dossiers?{bound}", headers=world.auth("agency_a"))
    assert found.status_code == 200, found.text
    assert found.json()["dossiers"] == []


@pytest.mark.parametrize(
    "bound", ["date_to=9999-12-31", "date_from=0001-01-01", "received=0001-01-01"]
)
def test_search_page_days_past_the_calendar_are_no_fault(world: World, bound: str) -> None:
    world.sign_in("agency_a")
    page = world.client.get(f"/search?{bound}")
    assert page.status_code in (200, 422), page.status_code
