"""The MinIO/S3 object store against a real S3 protocol server on 127.0.0.1 (moto)."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.errors import ObjectNotFoundError, StorageError

moto_server = pytest.importorskip("moto.server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def store(endpoint: str, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from storage.s3 import S3ObjectStore

    bucket = "t-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    return S3ObjectStore(endpoint=endpoint, access_key="k", secret_key="s", bucket=bucket)


def test_roundtrip_with_sha256_metadata(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.4 original bytes")
    stored = store.put_file("dossiers/d1/original.pdf", source, "application/pdf")
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.stat("dossiers/d1/original.pdf") == stored
    assert store.get_bytes("dossiers/d1/original.pdf") == source.read_bytes()
    copy = store.get_file("dossiers/d1/original.pdf", tmp_path / "out" / "copy.pdf")
    assert copy == stored and (tmp_path / "out" / "copy.pdf").read_bytes() == source.read_bytes()
    store.put_bytes("dossiers/d1/text.txt", "Nguyễn Văn An".encode())
    assert store.list("dossiers/d1/") == ["dossiers/d1/original.pdf", "dossiers/d1/text.txt"]
    assert store.exists("dossiers/d1/text.txt") and not store.exists("dossiers/d1/none")


def test_missing_object_and_corruption_are_detected(store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("dossiers/x/dossier.pdf")
    store.put_bytes("dossiers/x/fields.json", b"{}")
    # Overwrite behind sohoa's back, keeping the old digest in metadata: a read must refuse.
    store.client.put_object(
        store.bucket,
        "dossiers/x/fields.json",
        __import__("io").BytesIO(b"tampered"),
        8,
        metadata={"sha256": hashlib.sha256(b"{}").hexdigest()},
    )
    with pytest.raises(StorageError, match="corrupt"):
        store.get_bytes("dossiers/x/fields.json")


def test_large_files_go_multipart(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "big.tif"
    big.write_bytes(b"\x00\x01" * (9 * 1024 * 1024))  # 18 MiB > one 16 MiB part
    stored = store.put_file("dossiers/big/original.tif", big)
    assert store.get_file("dossiers/big/original.tif", tmp_path / "back.tif") == stored


def test_downloads_stream_from_s3_chunk_by_chunk(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """get_object is read as the chunks are taken, never whole (a service download)."""
    from storage.objects import CHUNK

    big = tmp_path / "big.tif"
    big.write_bytes(bytes(range(256)) * (3 * CHUNK // 256) + b"tail")
    store.put_file("dossiers/s1/original.tif", big)
    responses = []
    real_get_object = store.client.get_object

    def get_object(*args, **kwargs):  # type: ignore[no-untyped-def]
        responses.append(real_get_object(*args, **kwargs))
        return responses[-1]

    store.client.get_object = get_object
    chunks = store.iter_chunks("dossiers/s1/original.tif")
    first = next(chunks)
    assert len(first) <= CHUNK
    (response,) = responses
    assert response.tell() < big.stat().st_size // 2  # the rest is still on the wire
    assert first + b"".join(chunks) == big.read_bytes()
    with pytest.raises(ObjectNotFoundError):
        next(store.iter_chunks("dossiers/s1/none.tif"))


def test_presigned_url_downloads_and_refuses_missing(store) -> None:  # type: ignore[no-untyped-def]
    store.put_bytes("dossiers/p/dossier.pdf", b"%PDF-1.7 signed")
    url = store.presigned_url("dossiers/p/dossier.pdf", expires_s=60)
    assert "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"%PDF-1.7 signed"
    with pytest.raises(ObjectNotFoundError):
        store.presigned_url("dossiers/p/none.pdf")


def test_versioning_is_on(store) -> None:  # type: ignore[no-untyped-def]
    config = store.client.get_bucket_versioning(store.bucket)
    assert config.status == "Enabled"


def _versions(store, key: str) -> int:  # type: ignore[no-untyped-def]
    return sum(
        1
        for o in store.client.list_objects(store.bucket, prefix=key, include_version=True)
        if o.object_name == key
    )


def test_originals_are_write_once_and_reruns_add_no_versions(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    original, other = tmp_path / "a.pdf", tmp_path / "b.pdf"
    original.write_bytes(b"%PDF citizen paper")
    other.write_bytes(b"%PDF other paper")
    key = "dossiers/w1/original.pdf"
    stored = store.put_file(key, original, write_once=True)
    assert store.put_file(key, original, write_once=True) == stored
    with pytest.raises(StorageError, match="write-once"):
        store.put_file(key, other, write_once=True)
    assert store.get_bytes(key) == original.read_bytes()
    assert _versions(store, key) == 1
    # Ordinary artefacts: identical bytes again make no second version, new bytes do.
    store.put_bytes("dossiers/w1/text.txt", b"one")
    store.put_bytes("dossiers/w1/text.txt", b"one")
    assert _versions(store, "dossiers/w1/text.txt") == 1
    store.put_bytes("dossiers/w1/text.txt", b"two")
    assert _versions(store, "dossiers/w1/text.txt") == 2
    assert store.retention_until(key) is None  # retention not asked for


def test_object_lock_retention_is_set_after_upload(endpoint: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from minio.error import S3Error

    from storage.s3 import S3ObjectStore

    locked = S3ObjectStore(
        endpoint=endpoint, access_key="k", secret_key="s", bucket="locked", retention_days=30
    )
    original = tmp_path / "a.pdf"
    original.write_bytes(b"%PDF keep me")
    locked.put_file("dossiers/l1/original.pdf", original, write_once=True)
    until = locked.retention_until("dossiers/l1/original.pdf")
    assert until is not None
    assert until > datetime.now(UTC) + timedelta(days=29)
    version = locked.client.stat_object("locked", "dossiers/l1/original.pdf").version_id
    with pytest.raises(S3Error):  # not even its version can be deleted
        locked.client.remove_object("locked", "dossiers/l1/original.pdf", version_id=version)
    locked.put_bytes("dossiers/l1/text.txt", b"derived")  # artefacts can be rebuilt: no lock
    assert locked.retention_until("dossiers/l1/text.txt") is None


@pytest.mark.slow
def test_cli_flow_unchanged_on_postgresql_and_s3(
    endpoint: str, samples_dir: Path, tmp_path: Path, postgres_cluster
) -> None:  # type: ignore[no-untyped-def]
    """The whole CLI flow on the production backends: objects in S3, metadata in PostgreSQL."""
    import json
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SOHOA_DATA_DIR": str(tmp_path / "data"),
        "SOHOA_S3_ENDPOINT": endpoint,
        "SOHOA_S3_ACCESS_KEY": "k",
        "SOHOA_S3_SECRET_KEY": "s",
        "SOHOA_S3_BUCKET": "cli-flow",
        "SOHOA_DATABASE_URL": postgres_cluster.create_database("cli_flow"),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    repo = Path(__file__).resolve().parent.parent

    def sohoa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=repo,
        )

    assert "up to date" not in sohoa("db", "current").stdout  # an empty database
    assert "upgraded" in sohoa("db", "upgrade").stdout
    done = sohoa("process", "--json", "--agency", "SYT-HN", str(samples_dir / "page.jpg"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    dossier = report["dossiers"][0]["dossier_id"]
    out = tmp_path / "out.pdf"
    assert sohoa("get", dossier, "--pdf", "-o", str(out)).returncode == 0
    assert out.read_bytes().startswith(b"%PDF-")
    assert not (tmp_path / "data" / "objects").exists()  # nothing went to local files
    assert not list((tmp_path / "data").glob("*.db"))  # nor to SQLite

    found = json.loads(sohoa("search", "--agency", "SYT-HN", "--json").stdout)
    assert [d["dossier_id"] for d in found["dossiers"]] == [dossier]
    assert json.loads(sohoa("search", "--agency", "OTHER", "--json").stdout)["dossiers"] == []

    # The same batch run again (say after a crash): nothing stored or recorded twice.
    from storage.s3 import S3ObjectStore

    remote = S3ObjectStore(endpoint=endpoint, access_key="k", secret_key="s", bucket="cli-flow")
    keys_before = remote.list(f"dossiers/{dossier}/")
    versions_before = sum(_versions(remote, key) for key in keys_before)
    rerun = sohoa(
        "process", "--json", "--batch-id", report["batch_id"], str(samples_dir / "page.jpg")
    )
    assert rerun.returncode == 0, rerun.stderr
    assert remote.list(f"dossiers/{dossier}/") == keys_before
    assert sum(_versions(remote, key) for key in keys_before) == versions_before
    listed = json.loads(sohoa("list", "--json").stdout)["dossiers"]
    assert [d["dossier_id"] for d in listed] == [dossier]

    # The same file in a new batch: a clear note, no second copy.
    twice = sohoa("process", "--json", str(samples_dir / "page.jpg"))
    assert twice.returncode == 0, twice.stderr
    assert f"already received as dossier {dossier}" in twice.stderr
    assert json.loads(twice.stdout)["dossiers"][0]["status"] == "duplicate"
    assert f"dossiers/{dossier}/dossier.pdf" in remote.list(f"dossiers/{dossier}/")
