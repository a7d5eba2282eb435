"""The search page's saved searches and bulk download, over HTTP (issue 29): each agency
sees and downloads only its own archived dossiers, changes need this origin, and what a
saved search or a download carries back is only the search form's own fields."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.search_pages import BULK_CAP, clean_query
from config import Settings
from flows.runtime import metadata_store
from tests.service_support import AGENCY_A, AGENCY_B, SAME_ORIGIN, World, open_world, run_nothing
from tests.test_security import fabricate_archived


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    with open_world(settings, run=run_nothing, raise_server_exceptions=False) as world:
        yield world


def test_a_bulk_download_is_confirmed_and_holds_only_the_agencys_own(world: World) -> None:
    mine = fabricate_archived(world.settings, AGENCY_A, b"%PDF-a", b"%PDF-mine", batch_id="ba")
    theirs = fabricate_archived(world.settings, AGENCY_B, b"%PDF-b", b"%PDF-theirs", batch_id="bb")
    world.sign_in("agency_a")
    client = world.client
    # Every result of the search: the confirmation lists only agency A's dossier.
    confirm = client.post("/search/download", data={"all": "1", "query": ""}, headers=SAME_ORIGIN)
    assert confirm.status_code == 200
    assert f'value="{mine}"' in confirm.text and theirs not in confirm.text
    # Another agency's id is refused whole, not skipped.
    refused = client.post("/search/download.zip", data={"ids": [mine, theirs]}, headers=SAME_ORIGIN)
    assert refused.status_code == 404
    # A post from another site (or none) is refused before anything is read.
    forged = client.post("/search/download.zip", data={"ids": mine})
    assert forged.status_code == 403
    zipped = client.post("/search/download.zip", data={"ids": mine}, headers=SAME_ORIGIN)
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        (name,) = archive.namelist()
        assert name == f"{mine}.pdf"  # no dossier code read: named by its id
        assert archive.read(name) == b"%PDF-mine"
    nothing = client.post("/search/download.zip", data={}, headers=SAME_ORIGIN)
    assert nothing.status_code == 404
    too_many = {"ids": [f"x{n}" for n in range(BULK_CAP + 10)]}
    # More ids than a download takes: the form is refused as it is read.
    assert client.post("/search/download", data=too_many, headers=SAME_ORIGIN).status_code == 400


def test_saved_searches_are_their_owners_and_keep_only_search_fields(world: World) -> None:
    client = world.client
    world.sign_in("agency_a")
    saved = client.post(
        "/search/saved",
        data={
            "name": "  Cục   cảnh sát ",
            "query": "text=cuc+canh+sat&evil=1&page=3&sort=x&sort=name",
        },
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/search?text=cuc+canh+sat"
    owner = f"token:{world.token_id('agency_a')}"
    ((search_id, name, query),) = metadata_store(world.settings).saved_searches(owner)
    assert (name, query) == ("Cục cảnh sát", "text=cuc+canh+sat")
    page = client.get("/search")
    assert "Cục cảnh sát" in page.text and f"/search/saved/{search_id}/delete" in page.text
    client.cookies.clear()
    world.sign_in("agency_b")
    assert "Cục cảnh sát" not in client.get("/search").text
    other = client.post(f"/search/saved/{search_id}/delete", headers=SAME_ORIGIN)
    assert other.status_code == 404
    client.cookies.clear()
    world.sign_in("agency_a")
    gone = client.post(
        f"/search/saved/{search_id}/delete", headers=SAME_ORIGIN, follow_redirects=False
    )
    assert gone.status_code == 303
    assert metadata_store(world.settings).saved_searches(owner) == []


def test_clean_query_is_bounded() -> None:
    assert clean_query("text=a&text=b&name=&code=%20x%20") == "text=a&code=x"
    assert len(clean_query("text=" + "a" * 5000)) <= 2000
