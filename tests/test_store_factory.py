"""The store factory in ``storage/`` and the write-once rule ``put_file`` shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config import Settings
from flows import runtime
from models.errors import StorageError
from storage import factory
from storage.objects import LocalObjectStore, MemoryObjectStore, StoredObject


@pytest.fixture
def fresh() -> Iterator[None]:
    factory.forget_stores()
    yield
    factory.forget_stores()


def test_one_store_per_place_until_forgotten(tmp_path: Path, fresh: None) -> None:
    first = Settings(data_dir=tmp_path / "one")
    same_place = Settings(data_dir=tmp_path / "one", workers=3)
    other = Settings(data_dir=tmp_path / "two")
    objects = factory.object_store(first)
    assert isinstance(objects, LocalObjectStore) and objects.root == first.objects_dir
    assert factory.object_store(same_place) is objects
    assert factory.object_store(other) is not objects
    meta = factory.metadata_store(first)
    assert factory.metadata_store(same_place) is meta
    assert meta.url == first.resolved_database_url
    factory.forget_stores()
    assert factory.object_store(first) is not objects
    assert factory.metadata_store(first) is not meta


def test_a_built_store_is_not_kept(tmp_path: Path, fresh: None) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    built = factory.build_object_store(settings)
    assert isinstance(built, LocalObjectStore) and built.root == settings.objects_dir
    assert factory.build_object_store(settings) is not built
    assert factory.object_store(settings) is not built


def test_the_place_of_s3_objects_is_the_bucket(tmp_path: Path) -> None:
    s3 = Settings(data_dir=tmp_path / "data", s3_endpoint="minio:9000", s3_bucket="hoso")
    assert factory.object_store_place(s3) == "s3://minio:9000/hoso"
    local = Settings(data_dir=tmp_path / "data")
    assert factory.object_store_place(local) == str(local.objects_dir)


def test_flows_reach_the_stores_through_the_factory(tmp_path: Path, fresh: None) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert runtime.object_store(settings) is factory.object_store(settings)
    assert runtime.metadata_store(settings) is factory.metadata_store(settings)
    kept = factory.object_store(settings)
    runtime.reset()
    assert factory.object_store(settings) is not kept


class RecordingStore(MemoryObjectStore):
    """A store that says when its own write and seal run."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool, sha256: str | None
    ) -> StoredObject:
        self.calls.append(f"write {key} once={write_once}")
        return super()._write_file(key, path, content_type, write_once=write_once, sha256=sha256)

    def _seal(self, stored: StoredObject) -> None:
        self.calls.append(f"seal {stored.key}")


def test_write_once_puts_write_and_seal_only_a_new_original(tmp_path: Path) -> None:
    store = RecordingStore()
    paper, other = tmp_path / "paper.pdf", tmp_path / "other.pdf"
    paper.write_bytes(b"%PDF the citizen's paper")
    other.write_bytes(b"%PDF another paper")
    stored = store.put_file("dossiers/d1/original.pdf", paper, write_once=True)
    assert store.calls == [
        "write dossiers/d1/original.pdf once=True",
        "seal dossiers/d1/original.pdf",
    ]
    assert store.put_file("dossiers/d1/original.pdf", paper, write_once=True) == stored
    with pytest.raises(StorageError, match="write-once"):
        store.put_file("dossiers/d1/original.pdf", other, write_once=True)
    assert len(store.calls) == 2  # a re-run and a refusal write nothing
    store.put_file("dossiers/d1/text.txt", other)
    assert store.calls[2:] == ["write dossiers/d1/text.txt once=False"]  # never sealed


def test_a_local_original_is_read_only_and_other_objects_are_not(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    paper = tmp_path / "paper.pdf"
    paper.write_bytes(b"%PDF the citizen's paper")
    store.put_file("dossiers/d1/original.pdf", paper, write_once=True)
    store.put_file("dossiers/d1/dossier.pdf", paper)
    assert (tmp_path / "objects/dossiers/d1/original.pdf").stat().st_mode & 0o222 == 0
    assert (tmp_path / "objects/dossiers/d1/dossier.pdf").stat().st_mode & 0o200
