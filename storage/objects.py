"""The object store seam: a small Protocol, a local-filesystem store, an in-memory one.

Every put returns the object's size and SHA-256, so callers can record and later verify
what was stored. Writes are atomic: a reader sees the whole old object or the whole new
one, never half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from models import faults
from models.errors import ObjectNotFoundError, StorageError

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


class ObjectStore(Protocol):
    def put_file(
        self,
        key: str,
        path: Path,
        content_type: str = "application/octet-stream",
        *,
        write_once: bool = False,
    ) -> StoredObject:
        """Store ``path`` under ``key``.

        ``write_once`` (originals): an existing object with the same bytes is kept as it
        is; one with other bytes is never replaced (``StorageError``).
        """
        ...

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject: ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, destination: Path) -> StoredObject: ...

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes, a chunk at a time (downloads: never the whole object in
        memory). Not verified: callers check the digest as the chunks pass
        (``storage.archive.checked_chunks``)."""
        ...

    def stat(self, key: str) -> StoredObject: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise StorageError(f"invalid object key {key!r}")
    return key


class WriteOnceFiles(ABC):
    """``put_file`` with the write-once rule written once, for every store.

    A write-once put (originals) keeps an object already holding the same bytes, refuses
    one holding other bytes, and seals what it wrote (``_seal``); how the bytes get there is
    each store's own ``_write_file``.
    """

    def put_file(
        self,
        key: str,
        path: Path,
        content_type: str = "application/octet-stream",
        *,
        write_once: bool = False,
    ) -> StoredObject:
        if write_once and (kept := self._kept_original(key, path)) is not None:
            return kept
        stored = self._write_file(key, path, content_type, write_once=write_once)
        if write_once:
            self._seal(key)
        return stored

    def _kept_original(self, key: str, path: Path) -> StoredObject | None:
        """The stored object if it already holds these bytes, else None.

        Raises when the key holds other bytes: an original is the citizen's paper and is
        never overwritten, whatever a caller asks.
        """
        try:
            existing = self.stat(key)
        except ObjectNotFoundError:
            return None
        size, sha = sha256_file(path)
        if existing.sha256 and existing.sha256 == sha and existing.size == size:
            return existing
        raise StorageError(f"refusing to overwrite {key}: it is write-once and holds other bytes")

    @abstractmethod
    def stat(self, key: str) -> StoredObject: ...

    @abstractmethod
    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool
    ) -> StoredObject:
        """Store ``path`` under ``key``; with ``write_once`` the key is known to be free."""

    @abstractmethod
    def _seal(self, key: str) -> None:
        """Protect a write-once object just written, as far as the store can."""


def sha256_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class LocalObjectStore(WriteOnceFiles):
    """Objects as files under ``root``; the embedded default on one machine."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create object store at {root} ({exc.strerror})") from None

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _atomic_write(self, key: str, write: Callable[[], Iterable[bytes]]) -> StoredObject:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            tmp = Path(tmp_name)
            try:
                digest = hashlib.sha256()
                size = 0
                with os.fdopen(fd, "wb") as stream:
                    for chunk in write():
                        stream.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                    stream.flush()
                    os.fsync(stream.fileno())
                faults.point("objects.before-rename")
                tmp.replace(target)
                faults.point("objects.after-rename")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot store {key} ({exc.strerror or exc})") from exc
        return StoredObject(key, size, digest.hexdigest())

    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool
    ) -> StoredObject:
        def chunks() -> Iterator[bytes]:
            with path.open("rb") as stream:
                yield from iter(lambda: stream.read(CHUNK), b"")

        return self._atomic_write(key, chunks)

    def _seal(self, key: str) -> None:
        # A guard against our own bugs and careless hands, not a lock.
        self._path(key).chmod(0o444)

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        return self._atomic_write(key, lambda: [data])

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key} not found") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} ({exc.strerror})") from exc

    def get_file(self, key: str, destination: Path) -> StoredObject:
        source = self._path(key)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            # Unique temp name: two page tasks of one dossier may fetch the same original.
            tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.part")
            shutil.copyfile(source, tmp)
            tmp.replace(destination)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key} not found") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} ({exc.strerror})") from exc
        size, sha = sha256_file(destination)
        return StoredObject(key, size, sha)

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        try:
            with self._path(key).open("rb") as stream:
                yield from iter(lambda: stream.read(chunk_size), b"")
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key} not found") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} ({exc.strerror})") from exc

    def stat(self, key: str) -> StoredObject:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(f"object {key} not found")
        size, sha = sha256_file(path)
        return StoredObject(key, size, sha)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        directory = base if base.is_dir() else base.parent
        if not directory.exists():
            return []
        keys = [
            p.relative_to(self.root).as_posix()
            for p in directory.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        ]
        return sorted(k for k in keys if k.startswith(prefix))


class MemoryObjectStore(WriteOnceFiles):
    """For tests: same contract, kept in a dict."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        with self._lock:
            self._objects[check_key(key)] = bytes(data)
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest())

    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool
    ) -> StoredObject:
        return self.put_bytes(key, path.read_bytes(), content_type)

    def _seal(self, key: str) -> None:
        pass  # a dict in a test has nothing to lock: the write-once rule is all there is

    def get_bytes(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise ObjectNotFoundError(f"object {key} not found") from None

    def get_file(self, key: str, destination: Path) -> StoredObject:
        data = self.get_bytes(key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest())

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        data = self.get_bytes(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def stat(self, key: str) -> StoredObject:
        data = self.get_bytes(key)
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest())

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._objects

    def list(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(k for k in self._objects if k.startswith(prefix))
