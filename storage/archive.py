"""Reading an archived dossier back: only what its manifest vouches for is served."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipeline.errors import ObjectNotFoundError, StorageError
from storage import keys
from storage.objects import ObjectStore


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
