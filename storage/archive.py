"""A dossier's manifest: written last when it is archived, and the only thing that lets
it be served; every object read back is checked against it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from models.errors import ObjectNotFoundError, StorageError
from storage import keys
from storage.objects import ObjectStore, StoredObject


def write_manifest(
    objects: ObjectStore,
    dossier_id: str,
    stored: list[tuple[str, StoredObject]],
    pages: tuple[int, ...],
    *,
    signature: dict[str, Any] | None = None,
    stack: dict[str, Any] | None = None,
    submissions: list[dict[str, Any]] | None = None,
) -> None:
    """The list of every object of the dossier with its size and SHA-256, written last.

    Readers serve a dossier only when its manifest exists, so a dossier whose archiving
    was cut half-way is never served, and every read can be checked against it. It also
    records the digitiser's signature of dossier.pdf (null when archived unsigned), and,
    for a dossier split from a stack, which stack its pages come from (null: a file of its
    own).
    """
    manifest = {
        "dossier_id": dossier_id,
        "written_at": datetime.now(UTC).isoformat(),
        "source_pages": list(pages),
        "objects": [
            {"role": role, "key": item.key, "size": item.size, "sha256": item.sha256}
            for role, item in stored
        ],
        "signature": signature,
        "stack": stack,
        # A rescanned dossier: every file it was handed in as, in order (null: one file).
        "submissions": submissions,
    }
    objects.put_bytes(
        keys.manifest_key(dossier_id),
        json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
        "application/json",
    )


def read_manifest(objects: ObjectStore, dossier_id: str) -> dict[str, Any]:
    try:
        return dict(json.loads(objects.get_bytes(keys.manifest_key(dossier_id))))
    except ObjectNotFoundError:
        raise StorageError(
            f"dossier {dossier_id} has no manifest: its archiving did not finish"
        ) from None


def verified_bytes(objects: ObjectStore, dossier_id: str, key: str) -> bytes:
    """The object's bytes, after checking them against the dossier's manifest.

    A half-archived dossier (no manifest) or an object altered since archiving is refused.
    """
    manifest = read_manifest(objects, dossier_id)
    entry = next((o for o in manifest.get("objects", []) if o.get("key") == key), None)
    data = objects.get_bytes(key)
    digest = hashlib.sha256(data).hexdigest()
    if entry is None or entry.get("sha256") != digest:
        raise StorageError(f"{key} does not match the dossier's manifest (SHA-256 {digest})")
    return data


def verified_stream(objects: ObjectStore, dossier_id: str, key: str) -> tuple[int, Iterator[bytes]]:
    """(size, chunks) of an object the manifest vouches for, streamed from the store.

    Checked twice: the stored digest against the manifest before anything is sent (so an
    altered object is refused cleanly), and the bytes themselves as they pass (an object
    altered while it is read ends the stream with an error instead of its last chunk).
    """
    manifest = read_manifest(objects, dossier_id)
    entry = next((o for o in manifest.get("objects", []) if o.get("key") == key), None)
    stored = objects.stat(key)
    if entry is None or entry.get("sha256") != stored.sha256 or entry.get("size") != stored.size:
        raise StorageError(f"{key} does not match the dossier's manifest (SHA-256 {stored.sha256})")
    return stored.size, checked_chunks(objects.iter_chunks(key), stored.sha256, key)


def checked_chunks(chunks: Iterator[bytes], sha256: str, key: str) -> Iterator[bytes]:
    """Pass ``chunks`` on, hashing them. The last chunk is held back until the digest is
    known: bytes that are not ``sha256`` end in an error one chunk short of complete, so
    the reader gets a cut-off download, never a silently wrong one."""
    digest = hashlib.sha256()
    held: bytes | None = None
    for chunk in chunks:
        digest.update(chunk)
        if held is not None:
            yield held
        held = chunk
    if sha256 and digest.hexdigest() != sha256:
        raise StorageError(f"{key} changed while it was read (SHA-256 {digest.hexdigest()})")
    if held is not None:
        yield held


def own_original_key(objects: ObjectStore, dossier_id: str) -> str | None:
    """The original an archived dossier hands out: its own page range of a split stack
    (role ``part-original``), else the file it was received as (role ``original``).

    None when the manifest names neither, or when it says the dossier came from a stack
    and has no range of its own: the stack holds other citizens' papers, never handed out
    in a dossier's name.
    """
    manifest = read_manifest(objects, dossier_id)
    roles = {o.get("role"): o.get("key") for o in manifest.get("objects", [])}
    own = roles.get("part-original") or (None if manifest.get("stack") else roles.get("original"))
    return str(own) if own else None
