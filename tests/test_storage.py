from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models import BatchInfo, DossierStatus, FieldInfo, PageInfo
from models.errors import DossierNotFoundError, ObjectNotFoundError, StorageError
from storage import keys
from storage.metadata import MetadataStore
from storage.objects import LocalObjectStore, MemoryObjectStore, ObjectStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return (
        LocalObjectStore(tmp_path / "objects") if request.param == "local" else MemoryObjectStore()
    )


def test_put_get_roundtrip_with_digest(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"\x00\x01 original bytes")
    stored = store.put_file("dossiers/d1/original.pdf", source)
    assert stored.size == len(source.read_bytes())
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.get_bytes("dossiers/d1/original.pdf") == source.read_bytes()
    copy = store.get_file("dossiers/d1/original.pdf", tmp_path / "out" / "copy.bin")
    assert copy.sha256 == stored.sha256
    assert store.exists("dossiers/d1/original.pdf")
    assert store.list("dossiers/d1/") == ["dossiers/d1/original.pdf"]
    assert store.stat("dossiers/d1/original.pdf") == stored


def test_missing_and_invalid_keys(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("dossiers/none/text.txt")
    for bad in ("../escape", "/abs/key", "a//b", "a/./b"):
        with pytest.raises(StorageError):
            store.put_bytes(bad, b"x")


def test_keys_are_deterministic_and_never_from_user_names() -> None:
    assert keys.pdf_key("b1-001") == "dossiers/b1-001/dossier.pdf"
    assert keys.original_key("b1-001", "image/png") == "dossiers/b1-001/original.png"
    assert keys.original_key("b1-001", None) == "dossiers/b1-001/original.bin"
    assert keys.page_image_key("b1-001", 0) == "dossiers/b1-001/pages/0001.jpg"
    with pytest.raises(ValueError):
        keys.pdf_key("../../etc")


def test_local_writes_are_atomic(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put_bytes("a/b.txt", b"one")
    store.put_bytes("a/b.txt", b"two")
    assert store.get_bytes("a/b.txt") == b"two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.txt"]


def test_metadata_lifecycle(database_url: str) -> None:
    meta = MetadataStore(database_url)
    meta.create_batch(BatchInfo("b1", datetime.now(UTC), "vie", 1))
    meta.add_dossier("b1-001", "b1", 0, "scan.pdf")
    meta.add_dossier("b1-001", "b1", 0, "scan.pdf")  # idempotent
    meta.record_original(
        "b1-001", key="k", sha256="s", size=3, media_type="application/pdf", page_count=2
    )
    meta.set_status("b1-001", DossierStatus.PROCESSING)
    meta.record_page(
        "b1-001", PageInfo(0, 100, 200, 300.0, rotation=180, blank=False, ocr_confidence=91.0)
    )
    meta.record_page("b1-001", PageInfo(0, 100, 200, 300.0, rotation=90))  # rerun: replaced
    meta.record_page("b1-001", PageInfo(1, 100, 200, 300.0, blank=True, warnings=("low dpi",)))
    assert meta.batch_progress("b1") == (2, 2)
    meta.mark_archived(
        "b1-001",
        fields=[
            FieldInfo("dossier_code", "000.00.00.H49-230101-0001", "qr", 0.99),
            FieldInfo("id_number", "001090123456", "ocr", 0.5, True, "digit 4 disagrees"),
        ],
        review_reasons=["phone: not found"],
    )
    info = meta.get_dossier("b1-001")
    assert info.dossier_code == "000.00.00.H49-230101-0001"
    assert info.needs_review and info.review_reasons == ("phone: not found",)
    assert [f.name for f in info.field_details] == ["dossier_code", "id_number"]
    assert info.field_details[1].needs_review
    assert info.status is DossierStatus.ARCHIVED
    assert [p.rotation for p in info.pages] == [90, 0]
    assert info.pages[1].warnings == ("low dpi",)
    assert info.fields == {
        "dossier_code": "000.00.00.H49-230101-0001",
        "id_number": "001090123456",
    }
    assert [d.dossier_id for d in meta.list_dossiers()] == ["b1-001"]
    assert meta.list_dossiers(status=DossierStatus.FAILED) == []
    history = [status for _, status, _ in meta.events("b1-001")]
    assert history == ["received", "processing", "archived"]
    with pytest.raises(DossierNotFoundError):
        meta.get_dossier("nope")
    meta.close()


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_originals_are_write_once(kind: str, tmp_path: Path) -> None:
    store: ObjectStore = (
        LocalObjectStore(tmp_path / "objects") if kind == "local" else MemoryObjectStore()
    )
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(b"%PDF citizen paper")
    second.write_bytes(b"%PDF something else")
    stored = store.put_file("dossiers/d1/original.pdf", first, write_once=True)
    again = store.put_file("dossiers/d1/original.pdf", first, write_once=True)  # a re-run
    assert again == stored
    with pytest.raises(StorageError, match="write-once"):
        store.put_file("dossiers/d1/original.pdf", second, write_once=True)
    assert store.get_bytes("dossiers/d1/original.pdf") == first.read_bytes()


def test_local_store_keeps_the_digest_taken_at_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stat`` reads the digest kept at put instead of hashing the object again; a file
    written behind the store's back is hashed again; a carried digest is not recomputed."""
    import models.digest

    store = LocalObjectStore(tmp_path / "objects")
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.7 the citizen's paper")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    passes: list[str] = []
    real = models.digest.sha256_chunks

    def counted(*args: object, **kwargs: object) -> tuple[int, str]:
        size, digest = real(*args, **kwargs)  # type: ignore[arg-type]
        passes.append(digest)
        return size, digest

    monkeypatch.setattr(models.digest, "sha256_chunks", counted)
    kept = store.put_file("d/original.pdf", source, write_once=True, sha256=sha)
    assert (kept.size, kept.sha256) == (len(source.read_bytes()), sha) and passes == []
    assert store.stat("d/original.pdf") == kept and passes == []
    assert store.put_file("d/original.pdf", source, write_once=True, sha256=sha) == kept
    assert store.list("") == ["d/original.pdf"]  # the kept digests are not objects
    stored_files = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert stored_files == [tmp_path / "objects" / "d" / "original.pdf"]  # kept beside
    assert passes == []
    path = tmp_path / "objects" / "d" / "original.pdf"
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.7 altered")
    altered = store.stat("d/original.pdf")
    assert altered.sha256 == hashlib.sha256(b"%PDF-1.7 altered").hexdigest()
    assert len(passes) == 1
    # get_file always hashes what it copies (what `sohoa verify` relies on).
    assert store.get_file("d/original.pdf", tmp_path / "copy").sha256 == altered.sha256
    assert len(passes) == 2
