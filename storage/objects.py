"""The object store seam: a small Protocol, a local-filesystem store, an in-memory one.

Every put returns the object's size and SHA-256, so callers can record and later verify
what was stored. Writes are atomic: a reader sees the whole old object or the whole new
one, never half a file. The SHA-256 is taken once, at put (or carried in by the caller,
who took it while the bytes came in), and kept beside the object: ``stat`` reads it
back instead of hashing the object again; ``get_file`` hashes the bytes it copies (a
read that checks, what ``sohoa verify`` relies on).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from models import digest, faults
from models.digest import CHUNK, sha256_file
from models.errors import ObjectNotFoundError, StorageError

log = logging.getLogger("sohoa.storage")


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
        sha256: str | None = None,
    ) -> StoredObject:
        """Store ``path`` under ``key``.

        ``write_once`` (originals): an existing object with the same bytes is kept as it
        is; one with other bytes is never replaced (``StorageError``). ``sha256``: the
        file's digest when the caller took it already (an original, hashed as it was
        copied in): kept as the object's, not computed again.
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
        sha256: str | None = None,
    ) -> StoredObject:
        """``sha256``: the file's digest when the caller has it (an original, hashed as it
        came in): it is carried, not taken again."""
        if write_once and (kept := self._kept_original(key, path, sha256)) is not None:
            return kept
        stored = self._write_file(key, path, content_type, write_once=write_once, sha256=sha256)
        if write_once:
            self._seal(stored)
        return stored

    def _kept_original(
        self, key: str, path: Path, sha256: str | None = None
    ) -> StoredObject | None:
        """The stored object if it already holds these bytes, else None.

        Raises when the key holds other bytes: an original is the citizen's paper and is
        never overwritten, whatever a caller asks.
        """
        try:
            existing = self.stat(key)
        except ObjectNotFoundError:
            return None
        size, sha = (path.stat().st_size, sha256) if sha256 else sha256_file(path)
        if existing.sha256 and existing.sha256 == sha and existing.size == size:
            return existing
        raise StorageError(f"refusing to overwrite {key}: it is write-once and holds other bytes")

    @abstractmethod
    def stat(self, key: str) -> StoredObject: ...

    @abstractmethod
    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool, sha256: str | None
    ) -> StoredObject:
        """Store ``path`` under ``key``; with ``write_once`` the key is known to be free;
        ``sha256`` is the file's digest if known."""

    @abstractmethod
    def _seal(self, stored: StoredObject) -> None:
        """Protect a write-once object just written, as far as the store can."""


class LocalObjectStore(WriteOnceFiles):
    """Objects as files under ``root``; the embedded default on one machine.

    Each object's SHA-256 is kept beside the tree, in ``<root>.digests/<key>``, with the
    file's size, inode, mtime and ctime when it was taken; a file touched since (written,
    replaced, its mode changed) no longer matches, and ``stat`` hashes it again. Beside,
    not inside: whatever walks the objects' tree finds only objects.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create object store at {root} ({exc.strerror})") from None

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _digest_path(self, key: str) -> Path:
        return self.root.with_name(f"{self.root.name}.digests") / check_key(key)

    def _atomic_write(
        self,
        key: str,
        write: Callable[[], Iterable[bytes]],
        sha256: str | None = None,
    ) -> StoredObject:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as stream:
                    if sha256 is None:
                        size, sha = digest.sha256_chunks(write(), stream.write)
                    else:  # carried in: the bytes were hashed as they arrived
                        size, sha = sum(stream.write(chunk) for chunk in write()), sha256
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
        self._keep_digest(key, target, sha)
        return StoredObject(key, size, sha)

    def _keep_digest(self, key: str, target: Path, sha256: str) -> None:
        """Record the digest beside the object, with the size and mtime it belongs to.

        Written after the object: a crash between the two leaves an old record that no
        longer matches the file, and ``stat`` then hashes the object instead. Not kept
        (a read-only or full disk beside the store): ``stat`` hashes, as it always did."""
        path = self._digest_path(key)
        try:
            record = {**_identity(target.stat()), "sha256": sha256}
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            partial.write_text(json.dumps(record), encoding="utf-8")
            partial.replace(path)
        except OSError as exc:
            log.debug("digest of %s not kept (%s): stat will hash it", key, exc)

    def _kept_digest(self, key: str, target: Path) -> StoredObject | None:
        """The digest recorded at put, if the file is still the one it was taken of."""
        try:
            record = json.loads(self._digest_path(key).read_text(encoding="utf-8"))
            info = target.stat()
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or any(
            record.get(name) != value for name, value in _identity(info).items()
        ):
            return None
        return StoredObject(key, info.st_size, str(record.get("sha256") or ""))

    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool, sha256: str | None
    ) -> StoredObject:
        def chunks() -> Iterator[bytes]:
            with path.open("rb") as stream:
                yield from iter(lambda: stream.read(CHUNK), b"")

        return self._atomic_write(key, chunks, sha256)

    def _seal(self, stored: StoredObject) -> None:
        # A guard against our own bugs and careless hands, not a lock. The mode change
        # moves the file's ctime: the digest kept beside it is recorded again.
        target = self._path(stored.key)
        target.chmod(0o444)
        self._keep_digest(stored.key, target, stored.sha256)

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
        """Copy the object out, hashing the bytes as they are copied: the digest returned
        is of what was read now, not the one recorded (``sohoa verify`` compares them)."""
        try:
            size, sha = digest.copy_hashed(self._path(key), destination)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key} not found") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} ({exc.strerror})") from exc
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
        if (kept := self._kept_digest(key, path)) is not None:
            return kept
        # Stored before digests were kept, or changed since: hashed, and recorded again.
        size, sha = sha256_file(path)
        self._keep_digest(key, path, sha)
        return StoredObject(key, size, sha)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        directory = base if base.is_dir() else base.parent
        if not directory.exists():
            return []
        found = (p.relative_to(self.root) for p in directory.rglob("*") if p.is_file())
        # Hidden names are the store's own temp files, never objects.
        keys = [p.as_posix() for p in found if not any(part.startswith(".") for part in p.parts)]
        return sorted(k for k in keys if k.startswith(prefix))


def _identity(info: os.stat_result) -> dict[str, int]:
    """What tells a stored file from the same file written to since its digest was taken."""
    return {
        "size": info.st_size,
        "inode": info.st_ino,
        "mtime_ns": info.st_mtime_ns,
        "ctime_ns": info.st_ctime_ns,
    }


class MemoryObjectStore(WriteOnceFiles):
    """For tests: same contract, kept in a dict."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        return self._put(key, bytes(data), digest.sha256_bytes(data))

    def _put(self, key: str, data: bytes, sha256: str) -> StoredObject:
        with self._lock:
            self._objects[check_key(key)] = data
            self._digests[key] = sha256
        return StoredObject(key, len(data), sha256)

    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool, sha256: str | None
    ) -> StoredObject:
        data = path.read_bytes()
        return self._put(key, data, sha256 or digest.sha256_bytes(data))

    def _seal(self, stored: StoredObject) -> None:
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
        return StoredObject(key, len(data), digest.sha256_bytes(data))

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        data = self.get_bytes(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def stat(self, key: str) -> StoredObject:
        data = self.get_bytes(key)
        with self._lock:
            return StoredObject(key, len(data), self._digests[key])

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._objects

    def list(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(k for k in self._objects if k.startswith(prefix))
