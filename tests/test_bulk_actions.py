"""Operators' bulk actions (issue 29): nothing is done before the confirmation, a request
from another site is refused like every operator form, and each dossier's history names
who acted. No OCR: the store is written directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from flows.runtime import metadata_store
from models import DossierStatus, FieldInfo
from tests.service_support import SAME_ORIGIN, World, idle_world


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with idle_world(tmp_path / "data", database_url) as world:
        yield world


def _waiting(world: World, tmp_path: Path) -> list[str]:
    """Two dossiers for agency A, archived with a name to check."""
    scans = []
    for n in (1, 2):
        scan = tmp_path / f"scan-{n}.png"
        cv2.imwrite(str(scan), np.full((400, 300 + n, 3), 255, np.uint8))
        scans.append(scan)
    response = world.upload("counter", scans)
    assert response.status_code == 202, response.text
    ids = [d["dossier_id"] for d in response.json()["dossiers"]]
    meta = metadata_store(world.settings)
    for dossier_id in ids:
        fields = [FieldInfo("full_name", "NGUYEN VAN A", "ocr", 0.4, True, None)]
        meta.mark_archived(dossier_id, fields=fields, review_reasons=["full_name: low"])
    return ids


def test_bulk_dismissal_asks_first_refuses_other_sites_and_names_who(
    world: World, tmp_path: Path
) -> None:
    ids = _waiting(world, tmp_path)
    meta = metadata_store(world.settings)
    assert world.sign_in("operator").status_code == 303
    form = {"id": ids, "reason": "unreadable", "note": ""}
    # From another site (no Origin, no Referer): refused, nothing changed.
    refused = world.client.post("/ops/bulk/dismiss", data=form)
    assert refused.status_code == 403
    # The first step only asks.
    asked = world.client.post("/ops/bulk/dismiss", data=form, headers=SAME_ORIGIN)
    assert asked.status_code == 200
    assert "Xác nhận: bỏ qua kiểm tra 2 hồ sơ?" in asked.text
    assert all(meta.get_dossier(i).needs_review for i in ids)
    done = world.client.post(
        "/ops/bulk/dismiss", data={**form, "confirm": "1"}, headers=SAME_ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/ops/review?dismissed=2"
    for dossier_id in ids:
        assert not meta.get_dossier(dossier_id).needs_review
    # Confirmed again (a second tab, a double submit): nothing left to dismiss, no new line.
    events = len(meta.events(ids[0]))
    again = world.client.post(
        "/ops/bulk/dismiss", data={**form, "confirm": "1"}, headers=SAME_ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert again.headers["location"] == "/ops/review?dismissed=0"
    assert len(meta.events(ids[0])) == events
    # An agency cannot.
    world.client.cookies.clear()
    assert world.sign_in("agency_a").status_code == 303
    denied = world.client.post("/ops/bulk/retry", data={"id": ids}, headers=SAME_ORIGIN)
    assert denied.status_code == 403


def test_bulk_retry_of_failures_after_confirmation(world: World, tmp_path: Path) -> None:
    ids = _waiting(world, tmp_path)
    meta = metadata_store(world.settings)
    for dossier_id in ids:
        meta.set_status(dossier_id, DossierStatus.FAILED, "hong.pdf: Syntax Error")
    assert world.sign_in("operator").status_code == 303
    asked = world.client.post("/ops/bulk/retry", data={"id": ids}, headers=SAME_ORIGIN)
    assert "Xác nhận: xử lý lại 2 hồ sơ?" in asked.text
    assert all(meta.get_dossier(i).status is DossierStatus.FAILED for i in ids)
    done = world.client.post(
        "/ops/bulk/retry", data={"id": ids, "confirm": "1"}, headers=SAME_ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert done.headers["location"] == "/ops?retried_n=2&chosen=2"
    for dossier_id in ids:
        assert meta.get_dossier(dossier_id).status is DossierStatus.RECEIVED
        assert [m for _a, _s, m in meta.events(dossier_id)][-1] == "retry requested"
    # Nothing chosen: said so, nothing done.
    empty = world.client.post("/ops/bulk/retry", data={"confirm": "1"}, headers=SAME_ORIGIN)
    assert "Chưa chọn hồ sơ nào." in empty.text
