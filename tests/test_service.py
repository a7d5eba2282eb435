"""The HTTP API: every endpoint for every role, the refusals, uploads and their limits."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runner import BatchRunner
from app.service import create_app
from config import Settings
from flows.runtime import metadata_store, object_store
from models import DossierStatus, Role
from storage import keys
from tests.service_support import AGENCY_A, SAME_ORIGIN, World, open_world, run_steps


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    """The service on each metadata backend: SQLite and PostgreSQL."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, workers=2, max_files_per_batch=5
    )
    with open_world(settings) as world:
        yield world


@pytest.fixture
def archived(world: World, samples_dir: Path) -> dict[str, Any]:
    """One dossier uploaded by `counter` for agency A and processed to the end."""
    response = world.upload("counter", [samples_dir / "page.jpg"], procedure="lltp")
    assert response.status_code == 202, response.text
    batch = response.json()
    world.runner.wait(batch["batch_id"], timeout=300)
    dossier_id = batch["dossiers"][0]["dossier_id"]
    info = metadata_store(world.settings).get_dossier(dossier_id)
    assert info.status is DossierStatus.ARCHIVED, info.error
    return {"batch_id": batch["batch_id"], "dossier_id": dossier_id}


ENDPOINTS = [
    # (method, path template, roles allowed)
    ("GET", "/api/batches", {"counter", "counter2", "operator"}),  # each sees its own
    ("GET", "/api/batches/{batch_id}", {"counter", "operator"}),
    ("GET", "/api/dossiers", {"agency_a", "agency_b", "operator"}),  # scoped search
    ("GET", "/api/dossiers/{dossier_id}", {"agency_a", "operator"}),
    ("GET", "/api/dossiers/{dossier_id}/pdf", {"counter", "agency_a", "operator"}),
    ("GET", "/api/dossiers/{dossier_id}/fields", {"agency_a", "operator"}),
    ("GET", "/api/dossiers/{dossier_id}/original", {"counter", "agency_a", "operator"}),
    ("GET", "/api/dossiers/{dossier_id}/text", {"agency_a", "operator"}),
    ("GET", "/api/dossiers/{dossier_id}/pages/1.jpg", {"counter", "agency_a", "operator"}),
    # The hand-over receipt: also the counter that uploaded it (another counter: 404).
    ("GET", "/api/dossiers/{dossier_id}/receipt.pdf", {"counter", "agency_a", "operator"}),
    # The portal-shaped handoff (issue 27): the dossier's agency and operators.
    ("GET", "/api/dossiers/{dossier_id}/handoff", {"agency_a", "operator"}),
    ("GET", "/api/ops/summary", {"operator"}),
    ("GET", "/api/review", {"operator"}),
    ("GET", "/metrics", {"operator"}),
]


@pytest.mark.slow
def test_every_endpoint_for_every_role(world: World, archived: dict[str, Any]) -> None:
    for method, template, allowed in ENDPOINTS:
        path = template.format(**archived)
        assert world.client.request(method, path).status_code == 401, path
        bogus = {"Authorization": "Bearer sohoa_000000000000_nope"}
        assert world.client.request(method, path, headers=bogus).status_code == 401, path
        for who in world.tokens:
            status = world.client.request(method, path, headers=world.auth(who)).status_code
            if who in allowed:
                assert status == 200, (who, path, status)
            elif who == "agency_b" and "dossier_id" in template:
                assert status == 404, (who, path, status)  # not 403: no probing of ids
            elif who == "counter2" and ("batch_id" in template or "counter" in allowed):
                assert status == 404, (who, path, status)  # another counter's batch or dossier
            else:
                assert status in (403, 404), (who, path, status)
                if who not in ("agency_b", "counter2"):
                    assert status == 403, (who, path, status)
    # Writes are refused to every role but the operator's.
    for who in ("counter", "agency_a"):
        patch = world.client.patch(
            f"/api/dossiers/{archived['dossier_id']}/fields/full_name",
            headers=world.auth(who),
            json={"value": "X"},
        )
        assert patch.status_code == 403
        retry = world.client.post(
            f"/api/dossiers/{archived['dossier_id']}/retry", headers=world.auth(who)
        )
        assert retry.status_code == 403
    for who in ("agency_a", "operator"):
        assert world.upload(who, [Path(__file__)]).status_code == 403


@pytest.mark.slow
def test_agency_sees_only_its_own(world: World, archived: dict[str, Any]) -> None:
    dossier_id = archived["dossier_id"]
    mine = world.client.get("/api/dossiers", headers=world.auth("agency_a")).json()
    assert [d["dossier_id"] for d in mine["dossiers"]] == [dossier_id]
    # Asking for another agency's dossiers still returns only one's own (none here).
    theirs = world.client.get(
        "/api/dossiers", params={"agency": AGENCY_A}, headers=world.auth("agency_b")
    ).json()
    assert theirs["dossiers"] == []
    detail = world.client.get(f"/api/dossiers/{dossier_id}", headers=world.auth("agency_a"))
    body = detail.json()
    assert body["agency"] == AGENCY_A and body["pages"] and "corrections" not in body
    # Its history (issue 29), without who acted: received, processing, archived.
    assert [e["status"] for e in body["events"]] == ["received", "processing", "archived"]
    assert all(set(e) == {"at", "status", "message"} for e in body["events"])
    pdf = world.client.get(f"/api/dossiers/{dossier_id}/pdf", headers=world.auth("agency_a"))
    assert pdf.content.startswith(b"%PDF-")
    original = world.client.get(
        f"/api/dossiers/{dossier_id}/original", headers=world.auth("agency_a")
    )
    stored = object_store(world.settings).get_bytes(keys.original_key(dossier_id, "image/jpeg"))
    assert original.content == stored
    image = world.client.get(
        f"/api/dossiers/{dossier_id}/pages/1.jpg", headers=world.auth("agency_a")
    )
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    assert (
        world.client.get(
            f"/api/dossiers/{dossier_id}/pages/9.jpg", headers=world.auth("agency_a")
        ).status_code
        == 404
    )


@pytest.mark.slow
def test_upload_answers_202_after_originals_are_stored(
    world: World, samples_dir: Path, tmp_path: Path
) -> None:
    held: list[str] = []
    world.runner._run = lambda _s, batch_id, _src, _l: held.append(batch_id)  # type: ignore[assignment]
    evil = tmp_path / "evil.jpg"
    shutil.copy(samples_dir / "page.jpg", evil)
    files = [
        ("files", ("../../../etc/Quét hồ sơ.jpg", evil.read_bytes(), "image/jpeg")),
        ("files", ("two.tiff", (samples_dir / "two-pages.tiff").read_bytes(), "image/tiff")),
    ]
    response = world.client.post(
        "/api/batches",
        headers=world.auth("counter"),
        files=files,
        data={"agency": AGENCY_A, "post_office_id": "HN-01"},
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    world.runner.wait(batch["batch_id"], timeout=30)
    assert held == [batch["batch_id"]]  # processing was queued, not awaited
    names = [d["source"] for d in batch["dossiers"]]
    assert names == ["Quét hồ sơ.jpg", "two.tiff"]  # no path
    objects = object_store(world.settings)
    meta = metadata_store(world.settings)
    for dossier, path in zip(
        batch["dossiers"], [evil, samples_dir / "two-pages.tiff"], strict=True
    ):
        info = meta.get_dossier(dossier["dossier_id"])
        assert info.status is DossierStatus.RECEIVED
        key = meta.original_key(dossier["dossier_id"])
        assert key is not None and objects.get_bytes(key) == path.read_bytes()
    assert not (world.settings.data_dir / "incoming" / batch["batch_id"]).exists()
    assert not list(world.settings.data_dir.rglob("*Quét*"))
    assert meta.get_batch(batch["batch_id"]).post_office_id == "HN-01"
    # Only the uploading counter sees the batch.
    own = world.client.get(f"/api/batches/{batch['batch_id']}", headers=world.auth("counter"))
    assert own.status_code == 200 and own.json()["progress"]["pages_total"] == 3
    assert [d["pages_done"] for d in own.json()["dossiers"]] == [0, 0]  # queued, not started
    other = world.client.get(f"/api/batches/{batch['batch_id']}", headers=world.auth("counter2"))
    assert other.status_code == 404
    listed = world.client.get("/api/batches", headers=world.auth("counter2")).json()
    assert listed["batches"] == []


def test_upload_names_are_cleaned_for_display_only() -> None:
    from models.names import display_name as clean_name

    assert clean_name("..\\..\\Windows\\Qu\u0065\u0301t\x07.pdf", "file 1") == "Quét.pdf"
    assert clean_name("", "file 3") == "file 3" and clean_name(None, "file 2") == "file 2"


def test_upload_limits_are_clear_4xx(world: World, samples_dir: Path, tmp_path: Path) -> None:
    text = tmp_path / "letter.pdf"
    text.write_text("Xin chào, not a scan\n", encoding="utf-8")
    refused = world.upload("counter", [text, samples_dir / "page.jpg"])
    assert refused.status_code == 415
    assert "letter.pdf" in refused.json()["detail"]
    zero = tmp_path / "zero.png"
    zero.write_bytes(b"")
    assert world.upload("counter", [zero]).status_code in (415, 422)
    too_many = world.upload("counter", [samples_dir / "page.jpg"] * 6)
    assert too_many.status_code == 413 and "at most 5" in too_many.json()["detail"]
    missing_agency = world.client.post(
        "/api/batches",
        headers=world.auth("counter"),
        files=[("files", ("a.jpg", (samples_dir / "page.jpg").read_bytes(), "image/jpeg"))],
    )
    assert missing_agency.status_code == 422
    # Nothing of a refused upload is kept.
    assert metadata_store(world.settings).list_dossiers() == []
    assert not list((world.settings.data_dir / "incoming").glob("*/*"))


def test_upload_size_limit(tmp_path: Path, samples_dir: Path) -> None:
    from flows import runtime

    runtime.reset()
    settings = Settings(data_dir=tmp_path / "data", max_file_bytes=1000)
    with TestClient(create_app(settings, runner=BatchRunner(settings, run=run_steps))) as client:
        _info, token = metadata_store(settings).create_token(name="c", role=Role.COUNTER)
        response = client.post(
            "/api/batches",
            headers={"Authorization": f"Bearer {token}"},
            files=[("files", ("big.jpg", (samples_dir / "page.jpg").read_bytes(), "image/jpeg"))],
            data={"agency": AGENCY_A},
        )
        assert response.status_code == 413 and "big.jpg" in response.json()["detail"]
    runtime.reset()


@pytest.mark.slow
def test_operator_review_correction_retry_and_metrics(
    world: World, archived: dict[str, Any]
) -> None:
    dossier_id = archived["dossier_id"]
    meta = metadata_store(world.settings)
    summary = world.client.get("/api/ops/summary", headers=world.auth("operator")).json()
    assert summary["counts"]["archived"] == 1
    assert summary["throughput"]["last_hour"]["dossiers"] == 1
    corrected = world.client.patch(
        f"/api/dossiers/{dossier_id}/fields/full_name",
        headers=world.auth("operator"),
        json={"value": "Nguyễn Văn An", "note": "from the ID copy"},
    )
    assert corrected.status_code == 200 and corrected.json()["by"] == "operator user"
    fields = world.client.get(
        f"/api/dossiers/{dossier_id}/fields", headers=world.auth("agency_a")
    ).json()
    assert fields["fields"]["full_name"]["value"] == "Nguyễn Văn An"
    assert fields["fields"]["full_name"]["source"] == "operator"
    detail = world.client.get(f"/api/dossiers/{dossier_id}", headers=world.auth("operator"))
    assert detail.json()["corrections"][0]["by"] == "operator user"
    # Retrying is for failed dossiers only.
    busy = world.client.post(f"/api/dossiers/{dossier_id}/retry", headers=world.auth("operator"))
    assert busy.status_code == 409
    meta.set_status(dossier_id, DossierStatus.FAILED, "page.jpg: simulated failure")
    failures = world.client.get("/api/ops/summary", headers=world.auth("operator")).json()
    assert failures["failures"][0]["error"] == "page.jpg: simulated failure"
    retried = world.client.post(f"/api/dossiers/{dossier_id}/retry", headers=world.auth("operator"))
    assert retried.status_code == 202
    world.runner.wait(archived["batch_id"], timeout=300)
    assert meta.get_dossier(dossier_id).status is DossierStatus.ARCHIVED
    history = [e[1] for e in meta.events(dossier_id)]
    assert history[-4:] == ["failed", "received", "processing", "archived"]
    metrics = world.client.get("/metrics", headers=world.auth("operator")).text
    assert 'sohoa_dossiers{status="archived"} 1.0' in metrics
    assert "sohoa_http_requests_total" in metrics and "sohoa_uploaded_files_total 1.0" in metrics


def test_tokens_revoked_and_openapi(world: World) -> None:
    meta = metadata_store(world.settings)
    token_id = world.tokens["operator"].split("_")[1]
    assert world.client.get("/api/ops/summary", headers=world.auth("operator")).status_code == 200
    meta.revoke_token(token_id)
    assert world.client.get("/api/ops/summary", headers=world.auth("operator")).status_code == 401
    schema = world.client.get("/openapi.json").json()
    assert "/api/batches" in schema["paths"] and "/api/dossiers/{dossier_id}/pdf" in schema["paths"]
    stored = {t.principal.token_id: t for t in meta.list_tokens()}
    assert stored[token_id].revoked_at is not None
    with pytest.raises(ValueError):
        meta.create_token(name="x", role=Role.AGENCY)  # an agency token needs its agency


def test_pages_sign_in_with_a_cookie_and_refuse_cross_site_posts(world: World) -> None:
    client = world.client
    assert client.get("/search", follow_redirects=False).headers["location"].startswith("/login")
    bad = client.post("/login", data={"token": "sohoa_nope_nope"}, headers=SAME_ORIGIN)
    assert "không hợp lệ" in bad.text
    signed_in = world.sign_in("operator")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ops"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    assert "samesite=strict" in signed_in.headers["set-cookie"].lower()
    assert "Điều hành" in client.get("/ops").text
    forged = client.post(
        "/ops/retry/whatever", headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert forged.status_code == 403
    io.BytesIO()  # keep the import honest for the multipart helpers above
