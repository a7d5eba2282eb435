"""Who may open a dossier, decided before it is loaded (issue 31), and the counter that
uploaded a dossier opening it to check the scan (issue 26). No OCR: the runner processes
nothing, and the page and the status are written to the store directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi import HTTPException
from sqlalchemy import event

from app.auth import visible_dossier
from flows.runtime import metadata_store, object_store
from models import DossierStatus, FieldInfo, PageInfo, Principal, Role
from storage import keys
from tests.service_support import AGENCY_A, AGENCY_B, World, idle_world


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with idle_world(tmp_path / "data", database_url) as world:
        yield world


def _scan(tmp_path: Path) -> Path:
    image = np.full((400, 300, 3), 255, np.uint8)
    cv2.putText(image, "SO HOA", (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), image)
    return path


def _received(world: World, tmp_path: Path) -> dict[str, Any]:
    """`counter` uploads one scan for agency A; its one page is recorded with its image."""
    scan = _scan(tmp_path)
    response = world.upload("counter", [scan])
    assert response.status_code == 202, response.text
    dossier_id = response.json()["dossiers"][0]["dossier_id"]
    meta = metadata_store(world.settings)
    meta.record_page(dossier_id, PageInfo(index=0, width_px=300, height_px=400, dpi=200.0))
    ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(scan)))
    assert ok
    object_store(world.settings).put_bytes(
        keys.page_image_key(dossier_id, 0), jpeg.tobytes(), "image/jpeg"
    )
    return {"dossier_id": dossier_id, "bytes": scan.read_bytes()}


def _get(world: World, who: str, path: str) -> Any:
    return world.client.get(path, headers=world.auth(who))


def test_a_counter_opens_its_own_dossier_and_no_one_elses(world: World, tmp_path: Path) -> None:
    dossier_id = _received(world, tmp_path)["dossier_id"]
    page, image = f"/dossiers/{dossier_id}", f"/api/dossiers/{dossier_id}/pages/1.jpg"
    pdf, original = f"/api/dossiers/{dossier_id}/pdf", f"/api/dossiers/{dossier_id}/original"

    own = _get(world, "counter", page)
    assert own.status_code == 200, own.text
    # The counter checks its scan: pages and downloads, not the fields' JSON nor the
    # operators' history.
    assert 'id="download-original"' in own.text and 'id="print-receipt"' in own.text
    assert 'id="download-fields"' not in own.text and 'class="events"' not in own.text
    shown = _get(world, "counter", image)
    assert shown.status_code == 200 and shown.content[:2] == b"\xff\xd8"
    got = _get(world, "counter", original)
    assert got.status_code == 200 and got.content == (tmp_path / "scan.png").read_bytes()
    assert _get(world, "counter", pdf).status_code == 409  # allowed in, but not archived yet
    # The operator still sees the history, the counter does not.
    assert 'class="events"' in _get(world, "operator", page).text

    # Another counter, and the agency before the dossier is archived: as if it did not exist.
    for who in ("counter2", "agency_a", "agency_b"):
        for path in (page, image, pdf, original):
            assert _get(world, who, path).status_code == 404, (who, path)
    # The fields' JSON and the dossier's API record stay the agency's and operators'.
    assert _get(world, "counter", f"/api/dossiers/{dossier_id}").status_code == 403
    assert _get(world, "counter", f"/api/dossiers/{dossier_id}/fields").status_code == 403

    # Archived: agency A sees it as before, agency B and the other counter still do not,
    # the counter still does.
    metadata_store(world.settings).mark_archived(
        dossier_id, fields=[FieldInfo(name="full_name", value="A", source="ocr", confidence=1)]
    )
    assert _get(world, "agency_a", page).status_code == 200
    assert _get(world, "agency_a", image).status_code == 200
    assert _get(world, "counter", page).status_code == 200
    for who in ("counter2", "agency_b"):
        for path in (page, image, pdf, original):
            assert _get(world, who, path).status_code == 404, (who, path)


def test_a_foreign_id_and_a_missing_id_cost_the_same(world: World, tmp_path: Path) -> None:
    """Counted, not timed: the statements sent to the database and the dossier loads."""
    dossier_id = _received(world, tmp_path)["dossier_id"]
    meta = metadata_store(world.settings)
    meta.mark_archived(
        dossier_id, fields=[FieldInfo(name="full_name", value="A", source="ocr", confidence=1)]
    )
    statements: list[str] = []
    loads: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))  # the statement (SQLite adds its BEGIN)

    event.listen(meta.engine, "before_cursor_execute", count)
    real_get = meta.get_dossier

    def counted_get(some_id: str) -> Any:
        loads.append(some_id)
        return real_get(some_id)

    setattr(meta, "get_dossier", counted_get)  # noqa: B010 - an instance's method, for this test
    other_agency = Principal(token_id="t0", name="b", role=Role.AGENCY, agency_code=AGENCY_B)
    other_counter = Principal(token_id="t1", name="c", role=Role.COUNTER)
    missing = keys.dossier_id(keys.new_batch_id(), 0)
    try:
        for principal in (other_agency, other_counter):
            cost = {}
            for some_id in (dossier_id, missing):
                statements.clear()
                loads.clear()
                with pytest.raises(HTTPException) as refused:
                    visible_dossier(world.settings, principal, some_id)
                assert refused.value.status_code == 404
                queries = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
                cost[some_id] = (len(queries), len(loads))
            assert cost[dossier_id] == cost[missing] == (1, 0), (principal.role, cost)
        # The owner's agency: the same one lookup, then the one load.
        statements.clear()
        own = Principal(token_id="t2", name="a", role=Role.AGENCY, agency_code=AGENCY_A)
        assert visible_dossier(world.settings, own, dossier_id).dossier_id == dossier_id
        assert loads == [dossier_id]
    finally:
        event.remove(meta.engine, "before_cursor_execute", count)
        del meta.get_dossier
    assert meta.get_dossier(dossier_id).status is DossierStatus.ARCHIVED
