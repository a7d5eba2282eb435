"""SHA-256 of bytes and files: the one place sohoa hashes what it keeps.

Every original is hashed once on its way in (while it is copied to the work directory)
and once more by ``sohoa verify``; the digest is carried in between (object stores keep
it beside the object), never recomputed. Going through :func:`sha256_chunks` is what lets
a test count the passes over a file's bytes (``tests/test_hash_once.py``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

CHUNK = 1 << 20


def sha256_chunks(
    chunks: Iterable[bytes], sink: Callable[[bytes], object] | None = None
) -> tuple[int, str]:
    """(size, hex SHA-256) of the bytes ``chunks`` yields, each handed to ``sink`` too
    (a copy and its digest in one read)."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return size, digest.hexdigest()


def sha256_file(path: Path, sink: Callable[[bytes], object] | None = None) -> tuple[int, str]:
    """(size, hex SHA-256) of the file at ``path``, read a chunk at a time."""
    with path.open("rb") as stream:
        return sha256_chunks(iter(lambda: stream.read(CHUNK), b""), sink)


def sha256_bytes(data: bytes) -> str:
    return sha256_chunks([data])[1]


def copy_hashed(source: Path, destination: Path) -> tuple[int, str]:
    """Copy ``source`` to ``destination`` (replaced whole, never seen half-written) and
    return what was copied: (size, SHA-256) of the bytes now at ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Unique: two tasks may fetch the same original into one work directory at once.
    partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("wb") as out:
            result = sha256_file(source, out.write)
        partial.replace(destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return result
