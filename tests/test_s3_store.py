"""The MinIO/S3 object store against a real S3 protocol server on 127.0.0.1 (moto)."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import ObjectNotFoundError, StorageError

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


@pytest.mark.slow
def test_cli_flow_unchanged_on_s3(endpoint: str, samples_dir: Path, tmp_path: Path) -> None:
    """The whole CLI flow, with objects in S3 instead of the data dir."""
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

    done = sohoa("process", "--json", str(samples_dir / "page.jpg"))
    assert done.returncode == 0, done.stderr
    dossier = json.loads(done.stdout)["dossiers"][0]["dossier_id"]
    out = tmp_path / "out.pdf"
    assert sohoa("get", dossier, "--pdf", "-o", str(out)).returncode == 0
    assert out.read_bytes().startswith(b"%PDF-")
    assert not (tmp_path / "data" / "objects").exists()  # nothing went to local files

    from storage.s3 import S3ObjectStore

    remote = S3ObjectStore(endpoint=endpoint, access_key="k", secret_key="s", bucket="cli-flow")
    assert f"dossiers/{dossier}/dossier.pdf" in remote.list(f"dossiers/{dossier}/")
