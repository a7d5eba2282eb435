"""Field evidence in the service: candidates, handwriting crops, corrections checked by type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from config import Settings
from flows.runtime import metadata_store, object_store
from models import BatchInfo, FieldCandidate, FieldInfo, FieldState
from storage import keys
from storage.archive import write_manifest
from tests.service_support import AGENCY_A, SAME_ORIGIN, World, open_world

DOSSIER = "b14-001"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(Settings(data_dir=tmp_path / "data", workers=1)) as opened:
        yield opened


@pytest.fixture
def flagged(world: World) -> bytes:
    """An archived dossier of agency A: a conflicting name, a handwritten birth date."""
    meta, objects = metadata_store(world.settings), object_store(world.settings)
    meta.create_batch(BatchInfo("b14", datetime.now(UTC), "vie", 1, agency_code=AGENCY_A))
    meta.add_dossier(DOSSIER, "b14", 0, "scan.pdf")
    crop = np.full((40, 240, 3), 255, np.uint8)
    cv2.line(crop, (10, 30), (200, 12), (160, 48, 28), 3)
    png = cv2.imencode(".png", crop)[1].tobytes()
    crop_key = keys.field_crop_key(DOSSIER, 1, "date_of_birth")
    stored = objects.put_bytes(crop_key, png, "image/png")
    write_manifest(objects, DOSSIER, [("field-crop", stored)], (0, 1, 2))
    meta.mark_archived(
        DOSSIER,
        fields=[
            FieldInfo(
                "full_name",
                "Nguyễn Văn An",
                "ocr",
                0.5,
                needs_review=True,
                candidates=(
                    FieldCandidate("Nguyễn Văn An", "ocr", 0.9, "receipt page 1", "receipt", 0),
                    FieldCandidate("Nguyễn Văn An", "ocr", 0.9, "form page 2", "id_copy", 2),
                    FieldCandidate("Lê Văn Bình", "qr", 0.99, "QR", "citizen_id_qr", 2),
                ),
            ),
            FieldInfo(
                "date_of_birth",
                "",
                "ocr",
                0.0,
                needs_review=True,
                state=FieldState.HANDWRITTEN,
                crop_key=crop_key,
                suggestion="12/03/1990",
                suggestion_confidence=0.55,
            ),
            FieldInfo("id_number", "022090012345", "qr", 0.99),
        ],
        review_reasons=[
            "full_name: conflict: các nguồn ghi họ và tên khác nhau",
            "date_of_birth: handwritten: ngày sinh trên tờ khai viết tay",
        ],
    )
    return png


def test_review_queue_shows_candidates_and_the_handwriting_crop(
    world: World, flagged: bytes
) -> None:
    items = world.client.get("/api/review", headers=world.auth("operator")).json()["dossiers"]
    (item,) = items
    by_name = {f["name"]: f for f in item["fields"]}
    assert [c["paper"] for c in by_name["full_name"]["candidates"]] == [
        "receipt",
        "id_copy",
        "citizen_id_qr",
    ]
    birth = by_name["date_of_birth"]
    assert birth["state"] == "handwritten" and birth["suggestion"] == "12/03/1990"
    assert birth["handwriting"].endswith("/fields/date_of_birth/handwriting.png")
    assert ("date_of_birth", "handwritten") in {
        (r["field"], r["code"]) for r in item["reason_details"]
    }
    world.sign_in("operator")
    page = world.client.get("/ops/review").text
    assert "Lê Văn Bình" in page and "mã QR trên căn cước" in page
    assert f"/api/dossiers/{DOSSIER}/fields/date_of_birth/handwriting.png" in page
    assert "Gợi ý của máy đọc" in page and "Không có trên giấy tờ" in page


def test_handwriting_crop_is_served_like_the_page_images(world: World, flagged: bytes) -> None:
    path = f"/api/dossiers/{DOSSIER}/fields/date_of_birth/handwriting.png"
    for who in ("operator", "agency_a"):
        response = world.client.get(path, headers=world.auth(who))
        assert response.status_code == 200 and response.content == flagged
        assert response.headers["content-type"] == "image/png"
    assert world.client.get(path, headers=world.auth("agency_b")).status_code == 404
    assert world.client.get(path, headers=world.auth("counter")).status_code == 403
    assert world.client.get(path).status_code in (401, 403)
    # A field without a crop, or no such field: nothing to serve, no key taken from the request.
    for other in ("full_name", "nonexistent", "..%2fmanifest"):
        url = f"/api/dossiers/{DOSSIER}/fields/{other}/handwriting.png"
        assert world.client.get(url, headers=world.auth("operator")).status_code == 404


def test_corrections_are_checked_by_type_and_can_say_not_on_the_papers(
    world: World, flagged: bytes
) -> None:
    url = f"/api/dossiers/{DOSSIER}/fields/"
    op = world.auth("operator")
    bad = world.client.patch(url + "date_of_birth", headers=op, json={"value": "31/02/1990"})
    assert bad.status_code == 422 and "Ngày sinh không hợp lệ" in bad.json()["detail"]
    good = world.client.patch(url + "date_of_birth", headers=op, json={"value": "12/03/1990"})
    assert good.status_code == 200 and good.json()["new_value"] == "1990-03-12"
    assert (
        world.client.patch(url + "sex", headers=op, json={"value": "nu"}).json()["new_value"]
        == "Nữ"
    )
    # 022 (Quảng Ninh), digit 4 = 0: a man born in the 1900s, year digits 90 match 1990.
    wrong_year = world.client.patch(url + "id_number", headers=op, json={"value": "022091012345"})
    assert wrong_year.status_code == 422 and "Số định danh" in wrong_year.json()["detail"]
    phone = world.client.patch(url + "phone", headers=op, json={"value": "+84 912 345 678"})
    assert phone.json()["new_value"] == "0912345678"
    assert world.client.patch(url + "phone", headers=op, json={"value": "12345"}).status_code == 422
    absent = world.client.patch(url + "full_name", headers=op, json={"not_on_papers": True})
    assert absent.status_code == 200
    info = metadata_store(world.settings).get_dossier(DOSSIER)
    name = next(f for f in info.field_details if f.name == "full_name")
    assert (name.state, name.value) == ("not_on_papers", "")
    assert not info.needs_review, info.review_reasons
    # The page form posts the same way.
    world.sign_in("operator")
    form = world.client.post(
        f"/ops/review/{DOSSIER}/phone",
        data={"value": "abc"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert form.status_code == 422 and "Số điện thoại không hợp lệ" in form.text


def test_a_refused_correction_comes_back_on_its_form_with_what_was_typed(
    world: World, flagged: bytes
) -> None:
    """Issue 29: the refusal landed on a bare page with no way back but the browser's."""
    world.sign_in("operator")
    typed = {"value.full_name": "Nguyễn Văn Ann", "value.date_of_birth": "31/02/1990"}
    answer = world.client.post(
        f"/ops/review/{DOSSIER}", data=typed, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert answer.status_code == 422
    page = answer.text
    assert 'id="review-filters"' in page  # the review desk itself, not an error page
    assert f'id="refused-{DOSSIER}"' in page and "Ngày sinh không hợp lệ" in page
    assert 'value="Nguyễn Văn Ann"' in page and 'value="31/02/1990"' in page  # kept
    # Nothing was saved: one wrong value saves nothing.
    info = metadata_store(world.settings).get_dossier(DOSSIER)
    assert next(f for f in info.field_details if f.name == "full_name").value == "Nguyễn Văn An"
    # Corrected on the same form, the dossier leaves the queue.
    fixed = {**typed, "value.date_of_birth": "12/03/1990"}
    done = world.client.post(
        f"/ops/review/{DOSSIER}", data=fixed, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303
    assert not metadata_store(world.settings).get_dossier(DOSSIER).needs_review


def test_a_code_of_another_unit_is_resolved_from_the_review_desk(world: World) -> None:
    """Issue 29: 'mã hồ sơ thuộc đơn vị 000.20.14.H49, không phải 000.00.00.H49' could not be
    resolved: the operator now keeps the dossier with the upload's agency or sends it to
    the code's unit, and the review ends."""
    from pipeline.fields import agency_mismatch

    meta = metadata_store(world.settings)
    meta.create_batch(BatchInfo("b29", datetime.now(UTC), "vie", 1, agency_code=AGENCY_A))
    meta.add_dossier("b29-001", "b29", 0, "scan.pdf")
    code = "000.20.14.H49-261204-0007"
    reason = agency_mismatch(FieldInfo("dossier_code", code, "qr", 0.99), AGENCY_A)
    assert reason is not None
    meta.mark_archived(
        "b29-001",
        fields=[FieldInfo("dossier_code", code, "qr", 0.99)],
        review_reasons=[reason.line()],
    )
    world.sign_in("operator")
    page = world.client.get("/ops/review").text
    assert 'action="/ops/route/b29-001"' in page
    assert 'value="000.20.14.H49"' in page and f'value="{AGENCY_A}"' in page
    refused = world.client.post(
        "/ops/route/b29-001", data={"agency": "000.99.99.H99"}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 422  # only one of the dossier's two agencies
    sent = world.client.post(
        "/ops/route/b29-001",
        data={"agency": "000.20.14.H49"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert sent.status_code == 303
    info = meta.get_dossier("b29-001")
    assert info.agency_code == "000.20.14.H49" and not info.needs_review
    assert info.review_reasons == ()
    events = [message for _at, _status, message in meta.events("b29-001")]
    assert any(m and m.startswith("routed to agency 000.20.14.H49") for m in events)
    assert 'action="/ops/route/b29-001"' not in world.client.get("/ops/review").text


def test_a_missing_value_shows_the_page_it_should_be_on() -> None:
    from dataclasses import replace

    from app.review import _missing_fields
    from models import DossierInfo, DossierStatus, PageInfo

    pages = tuple(
        PageInfo(index=i, width_px=10, height_px=10, dpi=200.0, kind=kind)
        for i, kind in enumerate(["other", "receipt", "application_form"])
    )
    now = datetime.now(UTC)
    dossier = DossierInfo("d-001", "d", "s.pdf", DossierStatus.ARCHIVED, 3, now, now)
    dossier = replace(
        dossier, pages=pages, review_reasons=("dossier_code: missing: x", "phone: missing: y")
    )
    crops = {f["name"]: f["crop"] for f in _missing_fields(dossier)}
    assert crops == {
        "dossier_code": "/api/dossiers/d-001/pages/2.jpg",  # the receipt
        "phone": "/api/dossiers/d-001/pages/3.jpg",  # the form
    }


def test_a_retry_that_fails_again_says_so_and_who_asked(tmp_path: Path) -> None:
    from models import DossierStatus
    from tests.service_support import idle_world

    with idle_world(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}") as world:
        meta = metadata_store(world.settings)
        meta.create_batch(BatchInfo("b30", datetime.now(UTC), "vie", 1, agency_code=AGENCY_A))
        meta.add_dossier("b30-001", "b30", 0, "scan.pdf")
        meta.set_status("b30-001", DossierStatus.FAILED, "scan.pdf: page 1 is corrupt (x)")
        world.sign_in("operator")
        assert "vẫn lỗi" not in world.client.get("/ops").text
        retried = world.client.post("/ops/retry/b30-001", headers=SAME_ORIGIN)
        assert retried.status_code == 200
        meta.set_status("b30-001", DossierStatus.FAILED, "scan.pdf: page 1 is corrupt (x)")
        page = world.client.get("/ops").text
        assert "vẫn lỗi sau 1 lần xử lý lại (lần cuối do operator user yêu cầu)" in page
