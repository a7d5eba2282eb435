"""The service held against a hostile user (issue 15): one test or more per point.

1 the signer follows the token; 2 no secret at rest (flow runs carry ids); 3 uploads refused
before their body is read; 4 downloads streamed; 5 bounded queries, errors without SQL;
6 duplicates within one agency; 7 login CSRF and security headers; 8 no write per read, no
half upload; 9 Prefect's server dies with its parent; 10 short-lived, revocable page
sessions. API tests run on SQLite and PostgreSQL, as the other service tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text, update

from config import Settings
from flows import steps
from flows.runtime import metadata_store, object_store
from models import BatchInfo, FieldInfo, Role
from models.errors import StorageError
from storage import keys
from storage.archive import write_manifest
from tests.hostile_http import multipart_stream, post_raw
from tests.service_support import (
    AGENCY_A,
    AGENCY_B,
    SAME_ORIGIN,
    World,
    live_server,
    open_world,
    run_nothing,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, workers=2, max_files_per_batch=5
    )
    with open_world(settings, run=run_nothing, raise_server_exceptions=False) as world:
        yield world


def fabricate_archived(
    settings: Settings, agency: str, original: bytes, pdf: bytes, *, batch_id: str = "b1"
) -> str:
    """An archived dossier with these bytes as its original and PDF (no OCR needed)."""
    meta, objects = metadata_store(settings), object_store(settings)
    meta.create_batch(
        BatchInfo(batch_id, datetime.now(UTC), "vie", 1, agency_code=agency, uploaded_by="x")
    )
    dossier_id = keys.dossier_id(batch_id, 0)
    meta.add_dossier(dossier_id, batch_id, 0, "scan.pdf")
    work = settings.data_dir / "fabricate"
    work.mkdir(parents=True, exist_ok=True)
    (work / "original.pdf").write_bytes(original)
    (work / "dossier.pdf").write_bytes(pdf)
    stored_original = objects.put_file(
        keys.original_key(dossier_id, "application/pdf"), work / "original.pdf", write_once=True
    )
    meta.record_original(
        dossier_id,
        key=stored_original.key,
        sha256=stored_original.sha256,
        size=stored_original.size,
        media_type="application/pdf",
        page_count=1,
    )
    stored_pdf = objects.put_file(keys.pdf_key(dossier_id), work / "dossier.pdf")
    write_manifest(objects, dossier_id, [("pdf", stored_pdf), ("original", stored_original)], (0,))
    meta.mark_archived(dossier_id, fields=[FieldInfo("full_name", "Nguyễn Văn An", "ocr", 0.9)])
    shutil.rmtree(work)
    return dossier_id


# --- 1: the signer follows the authenticated token ----------------------------------------

SIGNERS = """
[counters."HL-03"]
name = "Người ký quầy ba"
pkcs12 = "hl03.p12"

[counters."HL-04"]
name = "Người ký quầy bốn"
pkcs12 = "hl04.p12"
"""


def test_a_counter_cannot_sign_as_another_counter(
    tmp_path: Path, database_url: str, samples_dir: Path
) -> None:
    signers = tmp_path / "signers.toml"
    signers.write_text(SIGNERS, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, signers_file=signers)
    tokens = [
        ("hl03", Role.COUNTER, None, "HL-03"),
        ("hl04", Role.COUNTER, None, "HL-04"),
        ("unbound", Role.COUNTER, None, None),
    ]
    with open_world(settings, run=run_nothing, tokens=tokens) as world:
        meta = metadata_store(settings)
        page, tiff = samples_dir / "page.jpg", samples_dir / "two-pages.tiff"
        forged = world.upload("hl03", [page], counter_id="HL-04")
        assert forged.status_code == 403, forged.text
        assert "HL-04" in forged.json()["detail"]
        # A counter token bound to no counter may not pick one (and with it a signer).
        assert world.upload("unbound", [page], counter_id="HL-04").status_code == 403
        assert meta.list_batches() == [] and meta.list_dossiers() == []

        named = world.upload("hl03", [page], counter_id="HL-03")
        unnamed = world.upload("hl03", [tiff])
        for response in (named, unnamed):
            assert response.status_code == 202, response.text
            batch = meta.get_batch(response.json()["batch_id"])
            assert batch.counter_id == "HL-03" and batch.uploaded_by == "hl03 user"
            signer, refusal = steps.batch_signer(settings, batch)
            assert refusal is None and signer is not None and signer.name == "Người ký quầy ba"


# --- 2: flow runs carry ids; no secret at rest ---------------------------------------------


def test_flows_and_tasks_take_no_settings_object() -> None:
    """Prefect records a flow run's parameters (and shows them in its UI): ids only."""
    import inspect

    from flows import deployed, prefect_runs

    entries = [
        prefect_runs.process_batch,
        prefect_runs.receive_source_task,
        prefect_runs.process_page_task,
        prefect_runs.split_stack_task,
        prefect_runs.archive_dossier_task,
        deployed.process_batch_run,
    ]
    for entry in entries:
        for name, parameter in inspect.signature(entry.fn).parameters.items():
            assert "Settings" not in str(parameter.annotation), (entry.name, name)


def _find_secret(roots: list[Path], secrets: list[bytes]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {s!r}" for s in secrets if s in data]
    return found


@pytest.mark.slow
def test_no_secret_at_rest_after_sohoa_process_on_s3_with_a_signer(
    tmp_path: Path, samples_dir: Path
) -> None:
    moto_server = pytest.importorskip("moto.server")
    from tests.pki import make_pki

    password = b"mk-" + os.urandom(8).hex().encode()
    secret_key = "s3-" + os.urandom(12).hex()
    pki = make_pki(tmp_path / "pki", password=password)
    password_file = tmp_path / "pki" / "password"
    password_file.write_bytes(password + b"\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    s3 = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    s3.start()
    data, home = tmp_path / "data", tmp_path / "prefect-home"
    env = {
        **os.environ,
        "SOHOA_DATA_DIR": str(data),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "SOHOA_S3_ENDPOINT": f"127.0.0.1:{port}",
        "SOHOA_S3_ACCESS_KEY": "sohoa-access",
        "SOHOA_S3_SECRET_KEY": secret_key,
        "SOHOA_SIGNING_PKCS12": str(pki.pkcs12),
        "SOHOA_DIGITISER_NAME": pki.signer_common_name,
        "SOHOA_SIGNING_PASSWORD_FILE": str(password_file),
        "SOHOA_SIGNING_REQUIRED": "true",
        "SOHOA_ORCHESTRATOR": "prefect",  # what Prefect's database keeps is the point
    }
    env.pop("PREFECT_API_URL", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "process", "--json", str(samples_dir / "page.jpg")],
            capture_output=True, text=True, env=env, timeout=900, cwd=REPO,
        )  # fmt: skip
    finally:
        s3.stop()
    assert done.returncode == 0, done.stderr
    assert '"archived"' in done.stdout
    assert (home / "prefect.db").exists() or list(home.rglob("*.db")), list(home.rglob("*"))
    assert _find_secret([home, data], [secret_key.encode(), password]) == []


# --- 3: refused before the body is read ----------------------------------------------------


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[tuple[World, str]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        max_upload_bytes=1 << 20,
        max_file_bytes=1 << 20,
    )
    with open_world(settings, run=run_nothing) as world, live_server(world.client.app) as base_url:
        yield world, base_url


def test_uploads_are_refused_before_their_body_is_read(
    live: tuple[World, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import starlette.formparsers

    world, base_url = live
    spooled: list[int] = []
    real_spool = starlette.formparsers.SpooledTemporaryFile

    def counting_spool(*args: Any, **kwargs: Any) -> Any:
        spooled.append(1)
        return real_spool(*args, **kwargs)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", counting_spool)
    boundary = "sohoa-test-boundary"
    multipart = f"multipart/form-data; boundary={boundary}"
    ten_gb = str(10 * 1024**3)
    # No token, 10 GB declared: 401 before a single body byte is sent.
    answer = post_raw(
        base_url,
        "/api/batches",
        {"Content-Type": multipart, "Content-Length": ten_gb},
        iter(()),
        wait_first=True,
    )
    assert answer.status == 401
    # A counter's token, 10 GB declared (over SOHOA_MAX_UPLOAD_BYTES): 413 at once.
    auth = {"Authorization": f"Bearer {world.tokens['counter']}"}
    answer = post_raw(
        base_url,
        "/api/batches",
        {**auth, "Content-Type": multipart, "Content-Length": ten_gb},
        iter(()),
        wait_first=True,
    )
    assert answer.status == 413
    # An agency's token: 403, also before the body.
    agency = {"Authorization": f"Bearer {world.tokens['agency_a']}"}
    answer = post_raw(
        base_url,
        "/api/batches",
        {**agency, "Content-Type": multipart, "Content-Length": ten_gb},
        iter(()),
        wait_first=True,
    )
    assert answer.status == 403
    # A whole small body sent with a bad token is refused without being spooled anywhere.
    body = b"".join(multipart_stream(boundary, AGENCY_A, 256 << 10))
    refused = httpx.post(
        f"{base_url}/api/batches",
        content=body,
        headers={"Content-Type": multipart, "Authorization": "Bearer sohoa_000000000000_x"},
        timeout=60,
    )
    assert refused.status_code == 401 and spooled == []
    # Streamed with no declared length, 64 MB against a 1 MB limit: cut off early.
    total = 64 << 20
    answer = post_raw(
        base_url,
        "/api/batches",
        {**auth, "Content-Type": multipart, "Transfer-Encoding": "chunked"},
        multipart_stream(boundary, AGENCY_A, total),
    )
    assert answer.status in (413, None), answer.status  # None: it hung up on the sender
    assert answer.sent < total // 2, answer.sent
    meta = metadata_store(world.settings)
    assert meta.list_batches() == [] and meta.list_dossiers() == []
    assert not list((world.settings.data_dir / "incoming").glob("*/*"))


# --- 4: downloads streamed from the store ---------------------------------------------------


def test_downloads_stream_from_the_store(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    original, pdf = os.urandom(3 << 20), b"%PDF-1.7\n" + os.urandom(3 << 20)
    dossier_id = fabricate_archived(world.settings, AGENCY_A, original, pdf)
    objects = object_store(world.settings)
    whole_reads: list[str] = []
    real_get_bytes = type(objects).get_bytes

    def get_bytes(self: Any, key: str) -> bytes:
        if not key.endswith("manifest.json"):
            whole_reads.append(key)
        return real_get_bytes(self, key)

    monkeypatch.setattr(type(objects), "get_bytes", get_bytes)
    for name, expected in (("original", original), ("pdf", pdf)):
        response = world.client.get(
            f"/api/dossiers/{dossier_id}/{name}", headers=world.auth("agency_a")
        )
        assert response.status_code == 200, response.text
        assert response.content == expected
        assert response.headers["content-length"] == str(len(expected))
    assert whole_reads == []  # streamed in chunks, never read whole
    # An object altered behind sohoa's back is still refused, before a byte is sent.
    path = world.settings.objects_dir / keys.pdf_key(dossier_id)
    path.write_bytes(b"%PDF-1.7\ntampered")
    tampered = world.client.get(f"/api/dossiers/{dossier_id}/pdf", headers=world.auth("agency_a"))
    assert tampered.status_code == 500 and b"tampered" not in tampered.content


def test_slow_readers_do_not_hold_downloads_in_memory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    size = 48 << 20
    with open_world(settings, run=run_nothing) as world, live_server(world.client.app) as base_url:
        dossier_id = fabricate_archived(settings, AGENCY_A, os.urandom(size), b"%PDF-1.7\n")
        tracemalloc.start()
        try:
            received = 0
            with httpx.stream(
                "GET",
                f"{base_url}/api/dossiers/{dossier_id}/original",
                headers=world.auth("agency_a"),
                timeout=120,
            ) as response:
                assert response.status_code == 200
                for chunk in response.iter_raw(64 * 1024):
                    received += len(chunk)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received == size
    assert peak < size // 3, f"peak {peak >> 20} MB for a {size >> 20} MB download"


# --- 5: bounded queries; a 500 never carries SQL --------------------------------------------


def test_query_words_and_numbers_are_bounded(world: World) -> None:
    agency, operator = world.auth("agency_a"), world.auth("operator")
    many = " ".join(f"tu{i}" for i in range(500))
    for params in ({"text": many}, {"text": " ".join(["a"] * 21)}, {"text": "x" * 201}):
        answer = world.client.get("/api/dossiers", params=params, headers=agency)
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and "text" in detail and "tu499" not in detail
    assert (
        world.client.get(
            "/api/dossiers", params={"text": " ".join(["nguyen"] * 20)}, headers=agency
        ).status_code
        == 200
    )
    lists = [("/api/dossiers", agency), ("/api/batches", operator), ("/api/review", operator)]
    for path, who in lists:
        huge = world.client.get(path, params={"offset": "99999999999999999999"}, headers=who)
        assert huge.status_code == 422, (path, huge.text)
        assert isinstance(huge.json()["detail"], str) and "offset" in huge.json()["detail"]
        assert world.client.get(path, params={"limit": 10**6}, headers=who).status_code == 422
    world.sign_in("agency_a")
    page = world.client.get("/search", params={"text": many})
    assert page.status_code == 422 and "<html" in page.text.lower()
    assert world.client.get("/search", params={"page": "99999999999999999999"}).status_code == 422


def test_a_500_carries_an_error_id_and_never_sql(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from storage.metadata import MetadataStore

    leak = "database error (OperationalError: too deep [SQL: SELECT dossiers.secret FROM x])"

    def broken(self: Any, query: Any) -> Any:
        raise StorageError(leak)

    monkeypatch.setattr(MetadataStore, "search", broken)
    answer = world.client.get("/api/dossiers", headers=world.auth("agency_a"))
    assert answer.status_code == 500
    body = answer.json()
    assert "SQL" not in answer.text and "SELECT" not in answer.text
    assert re.fullmatch(r"[0-9a-f]{12}", body["error_id"]) and body["error_id"] in body["detail"]
    assert any(
        body["error_id"] in r.getMessage() and "SELECT" in r.getMessage() for r in caplog.records
    )

    def crash(self: Any, query: Any) -> Any:
        raise RuntimeError("SELECT * FROM tokens -- Traceback")

    monkeypatch.setattr(MetadataStore, "search", crash)
    answer = world.client.get("/api/dossiers", headers=world.auth("agency_a"))
    assert answer.status_code == 500 and "SELECT" not in answer.text
    assert "Traceback" not in answer.text and answer.json()["error_id"]
    world.sign_in("agency_a")
    page = world.client.get("/search", params={"name": "an"})
    assert page.status_code == 500 and "SELECT" not in page.text and "<html" in page.text.lower()


# --- 6: a duplicate is one within the agency's scope ----------------------------------------


def test_duplicates_stay_within_one_agency(world: World, samples_dir: Path) -> None:
    page = samples_dir / "page.jpg"
    first = world.upload("counter", [page], agency=AGENCY_A).json()["dossiers"][0]
    other = world.upload("counter2", [page], agency=AGENCY_B).json()["dossiers"][0]
    # The same bytes sent to another agency are that agency's own dossier.
    assert other["status"] == "received" and other["duplicate_of"] is None
    assert first["dossier_id"] not in str(other)
    again = world.upload("counter2", [page], agency=AGENCY_A).json()
    copy = again["dossiers"][0]
    # A duplicate, but of another counter's dossier: not named to this counter (issue 31).
    assert copy["status"] == "duplicate" and copy["duplicate_of"] is None
    assert copy["duplicate_code"] is None and first["dossier_id"] not in str(again)
    seen = world.client.get(f"/api/batches/{again['batch_id']}", headers=world.auth("operator"))
    assert seen.json()["dossiers"][0]["duplicate_of"] == first["dossier_id"]  # operators: named
    # The counter's own earlier dossier is named to it.
    mine = world.upload("counter", [page], agency=AGENCY_A).json()["dossiers"][0]
    assert mine["status"] == "duplicate" and mine["duplicate_of"] == first["dossier_id"]
    # Once the first is read, the counter's page names it by its dossier code, not its id.
    code = f"{AGENCY_A}-260312-0001"
    metadata_store(world.settings).mark_archived(
        first["dossier_id"],
        fields=[FieldInfo(name="dossier_code", value=code, source="qr", confidence=1.0)],
    )
    listed = world.client.get("/api/batches", headers=world.auth("counter")).json()["batches"]
    assert listed[0]["dossiers"][0]["duplicate_code"] == code
    theirs = world.client.get(f"/api/batches/{again['batch_id']}", headers=world.auth("counter2"))
    assert theirs.json()["dossiers"][0]["duplicate_code"] is None and code not in theirs.text
    meta = metadata_store(world.settings)
    assert meta.original_key(other["dossier_id"]) is not None


# --- 7: cross-site: login CSRF, security headers -------------------------------------------


def test_login_and_cookie_posts_must_come_from_this_origin(world: World) -> None:
    client = world.client
    token = world.tokens["operator"]
    forged = client.post(
        "/login", data={"token": token}, headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    bare = client.post("/login", data={"token": token}, follow_redirects=False)
    assert bare.status_code == 403 and "set-cookie" not in bare.headers
    referred = client.post(
        "/login", data={"token": token}, headers={"Referer": "http://testserver/login"},
        follow_redirects=False,
    )  # fmt: skip
    assert referred.status_code == 303 and "set-cookie" in referred.headers
    # Signed in (cookie): a state-changing post with no Origin nor Referer is refused.
    no_origin = client.post("/ops/retry/whatever", follow_redirects=False)
    assert no_origin.status_code == 403
    other_site = client.post(
        "/logout", headers={"Referer": "https://evil.example/x"}, follow_redirects=False
    )
    assert other_site.status_code == 403
    # A bearer token is no ambient credential: API clients send no Origin.
    client.cookies.clear()
    assert client.post("/api/dossiers/x/retry", headers=world.auth("operator")).status_code == 404


def test_every_response_carries_the_security_headers(world: World) -> None:
    world.sign_in("operator")
    paths = ["/login", "/ops", "/ops/review", "/api/ops/summary", "/static/sohoa.css", "/nope"]
    for path in [*paths, "/healthz"]:
        headers = world.client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] in ("same-origin", "no-referrer"), path
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "script-src 'self'" in policy, path


def test_pages_hold_no_inline_script_the_policy_would_block() -> None:
    for template in (REPO / "app" / "templates").glob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template.name
        assert not re.search(r"\son[a-z]+\s*=", source), template.name
        assert "style=" not in source and "<style" not in source, template.name
        assert "javascript:" not in source, template.name


# --- 8: disk full: no write per read, no half upload -----------------------------------------


def test_token_use_is_recorded_rarely_and_never_fails_a_read(world: World) -> None:
    from storage.metadata import TokenRow

    meta = metadata_store(world.settings)
    token_id = world.token_id("operator")
    updates: list[str] = []
    full = [True]

    def disk_full(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE TOKENS"):
            updates.append(statement)
            if full[0]:
                raise OSError(28, "No space left on device")

    def last_used(ago: timedelta) -> None:
        with meta.engine.begin() as connection:
            connection.execute(
                update(TokenRow)
                .where(TokenRow.token_id == token_id)
                .values(last_used_at=datetime.now(UTC) - ago)
            )

    operator = world.auth("operator")
    event.listen(meta.engine, "before_cursor_execute", disk_full)
    try:
        # Never used: the first call tries to record it, fails, and still answers.
        assert world.client.get("/api/ops/summary", headers=operator).status_code == 200
        assert len(updates) == 1
        full[0] = False
        last_used(timedelta(minutes=2))
        updates.clear()
        for _ in range(5):
            assert world.client.get("/api/batches", headers=operator).status_code == 200
        assert updates == []  # used 2 minutes ago: not one write
        last_used(timedelta(minutes=10))
        updates.clear()
        assert world.client.get("/api/batches", headers=operator).status_code == 200
        assert len(updates) == 1  # 10 minutes: recorded again, once
    finally:
        event.remove(meta.engine, "before_cursor_execute", disk_full)
    (used,) = [t for t in meta.list_tokens() if t.principal.token_id == token_id]
    assert used.last_used_at is not None
    assert datetime.now(UTC) - used.last_used_at < timedelta(minutes=1)


def test_an_upload_failing_half_way_keeps_nothing(
    world: World, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = object_store(world.settings)
    real_put = type(objects).put_file
    originals: list[str] = []

    def put_file(self: Any, key: str, path: Path, *args: Any, **kwargs: Any) -> Any:
        if "/original" in key:
            originals.append(key)
            if len(originals) == 2:  # the disk fills up under the second file
                raise StorageError(f"cannot store {key} ([Errno 28] No space left on device)")
        return real_put(self, key, path, *args, **kwargs)

    monkeypatch.setattr(type(objects), "put_file", put_file)
    answer = world.upload("counter", [samples_dir / "page.jpg", samples_dir / "two-pages.tiff"])
    assert answer.status_code >= 500 and "No space" not in answer.text
    meta = metadata_store(world.settings)
    assert meta.list_batches() == [] and meta.list_dossiers() == []
    assert not list((world.settings.data_dir / "incoming").glob("*"))
    monkeypatch.undo()
    # The same files once the disk has room: one whole batch, every original stored.
    again = world.upload("counter", [samples_dir / "page.jpg", samples_dir / "two-pages.tiff"])
    assert again.status_code == 202
    for dossier in again.json()["dossiers"]:
        assert dossier["status"] == "received"
        assert meta.original_key(dossier["dossier_id"]) is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(process: subprocess.Popen[bytes], url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited before answering"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


@pytest.mark.slow
def test_an_upload_killed_half_way_leaves_no_batch(
    tmp_path: Path, database_url: str, samples_dir: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    meta = metadata_store(settings)
    _info, token = meta.create_token(name="quầy", role=Role.COUNTER)
    port = _free_port()
    env = {**os.environ, "SOHOA_FAULT": "objects.after-rename:2"}  # inside the second original
    command = [sys.executable, "-m", "tests.service_driver", str(settings.data_dir)]
    service = subprocess.Popen(
        [*command, database_url, str(port)], cwd=REPO, env=env, stderr=subprocess.DEVNULL
    )
    try:
        _wait_healthy(service, f"http://127.0.0.1:{port}/healthz")
        files = [samples_dir / "page.jpg", samples_dir / "two-pages.tiff"]
        with pytest.raises(httpx.HTTPError):
            httpx.post(
                f"http://127.0.0.1:{port}/api/batches",
                headers={"Authorization": f"Bearer {token}"},
                files=[("files", (f.name, f.read_bytes(), "image/jpeg")) for f in files],
                data={"agency": AGENCY_A},
                timeout=120,
            )
        assert service.wait(timeout=60) == -signal.SIGKILL
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert meta.list_batches() == [] and meta.list_dossiers() == []


# --- 9: Prefect's temporary server dies with its parent -------------------------------------


def _prefect_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "SOHOA_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "SOHOA_ORCHESTRATOR": "prefect",  # `sohoa process` would run inline, with no server
    }
    env.pop("PREFECT_API_URL", None)
    return env


def _prefect_children(pid: int) -> list[Any]:
    import psutil

    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "prefect.server.api.server" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _kill_and_check_no_child_remains(process: subprocess.Popen[bytes]) -> None:
    import psutil

    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "no child process to orphan"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    _gone, alive = psutil.wait_procs(children, timeout=120)
    for survivor in alive:  # ours to clean up, so the next tests start clean
        survivor.kill()
    assert alive == [], [" ".join(p.cmdline()) for p in alive if p.is_running()]


@pytest.mark.slow
def test_prefect_server_dies_with_sohoa_serve_on_kill_9(tmp_path: Path) -> None:
    port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=REPO, env=_prefect_env(tmp_path), stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_healthy(serve, f"http://127.0.0.1:{port}/healthz")
        assert _prefect_children(serve.pid), "serve started no Prefect server"
        _kill_and_check_no_child_remains(serve)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


@pytest.mark.slow
def test_prefect_server_dies_with_sohoa_process_on_kill_9(
    tmp_path: Path, samples_dir: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "process", str(samples_dir / "page.jpg")],
        cwd=REPO, env=_prefect_env(tmp_path), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not _prefect_children(process.pid):
            assert process.poll() is None and time.monotonic() < deadline, "no Prefect server"
            time.sleep(0.1)
        _kill_and_check_no_child_remains(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- 10: page sessions: their own id, short-lived, revocable --------------------------------


def _session_cookie(world: World) -> str:
    (value,) = [c.value for c in world.client.cookies.jar if c.name == "sohoa_session"]
    return value


def test_page_sessions_are_short_lived_and_revocable(world: World) -> None:
    from storage.metadata import SessionRow

    client, meta = world.client, metadata_store(world.settings)
    signed_in = world.sign_in("operator")
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"].lower()
    assert "max-age=28800" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    session = _session_cookie(world)
    assert world.tokens["operator"] not in session and not session.startswith("sohoa_")
    assert client.get("/ops").status_code == 200
    # The session id is no API token.
    bearer = {"Authorization": f"Bearer {session}"}
    assert client.get("/api/ops/summary", headers=bearer).status_code == 401
    # Only a digest is stored.
    with meta.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM sessions")).all()
    assert len(stored) == 1 and session not in str(stored)
    assert hashlib.sha256(session.encode()).hexdigest() in str(stored)
    # Logout ends the session on the server: the old cookie no longer opens anything.
    out = client.post("/logout", headers=SAME_ORIGIN, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("sohoa_session", session)
    replay = client.get("/ops", follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
    # An expired session is refused.
    world.sign_in("operator")
    with meta.engine.begin() as connection:
        connection.execute(update(SessionRow).values(expires_at=datetime.now(UTC)))
    assert client.get("/ops", follow_redirects=False).status_code == 303
    # Revoking the token ends its sessions too.
    world.sign_in("operator")
    assert client.get("/ops").status_code == 200
    meta.revoke_token(world.token_id("operator"))
    assert client.get("/ops", follow_redirects=False).status_code == 303
    # API bearer tokens are unchanged.
    assert client.get("/api/review", headers=world.auth("operator")).status_code == 401
    assert client.get("/api/dossiers", headers=world.auth("agency_a")).status_code == 200
