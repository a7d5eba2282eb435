"""The dossier page shows its agency the dossier's history in words (issue 29): received,
archived, a field corrected from what to what; not who corrected it, nor a failure's
error text. Another agency still gets 404. No OCR: the store is written directly."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from flows.runtime import metadata_store
from models import DossierStatus, FieldInfo
from tests.service_support import World, idle_world


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with idle_world(tmp_path / "data", database_url) as world:
        yield world


def test_agency_reads_its_dossiers_history_and_another_agency_gets_404(
    world: World, tmp_path: Path
) -> None:
    scan = tmp_path / "scan.png"
    cv2.imwrite(str(scan), np.full((400, 300, 3), 255, np.uint8))
    response = world.upload("counter", [scan])
    assert response.status_code == 202, response.text
    dossier_id = response.json()["dossiers"][0]["dossier_id"]
    meta = metadata_store(world.settings)
    meta.set_status(dossier_id, DossierStatus.FAILED, "Traceback: secret internal detail")
    meta.set_status(dossier_id, DossierStatus.RECEIVED, "retry requested", actor="Lan Điều Hành")
    fields = [FieldInfo("full_name", "NGUYEN VAN A", "ocr", 0.4, True, None)]
    meta.mark_archived(dossier_id, fields=fields, review_reasons=["full_name: low OCR confidence"])
    meta.correct_field(dossier_id, "full_name", "NGUYỄN VĂN AN", corrected_by="Lan Điều Hành")

    page = world.client.get(f"/dossiers/{dossier_id}", headers=world.auth("agency_a"))
    assert page.status_code == 200, page.text
    history = html.unescape(page.text).split('class="events"', 1)[1].split("</ul>", 1)[0]
    for words in ("Đã nhận", "Lỗi", "yêu cầu xử lý lại", "Đã lưu trữ"):
        assert words in history, (words, history)
    assert "sửa Họ và tên: 'NGUYEN VAN A' → 'NGUYỄN VĂN AN'" in history, history
    assert "Lịch sử" in page.text
    # Neither who acted nor the failure's internal text.
    assert "Lan Điều Hành" not in page.text and "Traceback" not in history
    # The API answers the same history.
    api = world.client.get(f"/api/dossiers/{dossier_id}", headers=world.auth("agency_a"))
    messages = [e["message"] for e in api.json()["events"]]
    assert "field full_name corrected: 'NGUYEN VAN A' -> 'NGUYỄN VĂN AN'" in messages
    assert not any(m and "Traceback" in m for m in messages)

    other = world.client.get(f"/dossiers/{dossier_id}", headers=world.auth("agency_b"))
    assert other.status_code == 404
    assert "NGUYỄN" not in other.text
