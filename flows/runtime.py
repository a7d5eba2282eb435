"""Process-wide handles to the stores, built once from the frozen settings."""

from __future__ import annotations

import threading

from config import Settings
from storage.metadata import MetadataStore
from storage.objects import LocalObjectStore, ObjectStore

_lock = threading.Lock()
_metadata: dict[str, MetadataStore] = {}
_objects: dict[str, ObjectStore] = {}


def metadata_store(settings: Settings) -> MetadataStore:
    url = settings.resolved_database_url
    with _lock:
        if url not in _metadata:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            _metadata[url] = MetadataStore(url)
        return _metadata[url]


def object_store(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        key = f"s3://{settings.s3_endpoint}/{settings.s3_bucket}"
    else:
        key = str(settings.objects_dir)
    with _lock:
        if key not in _objects:
            if settings.s3_endpoint:
                from storage.s3 import S3ObjectStore

                _objects[key] = S3ObjectStore(
                    endpoint=settings.s3_endpoint,
                    access_key=settings.s3_access_key,
                    secret_key=settings.s3_secret_key,
                    bucket=settings.s3_bucket,
                    secure=settings.s3_secure,
                    retention_days=settings.s3_retention_days,
                    retention_mode=settings.s3_retention_mode,
                )
            else:
                _objects[key] = LocalObjectStore(settings.objects_dir)
        return _objects[key]


def reset() -> None:
    """Forget cached stores (tests switch data dirs)."""
    with _lock:
        for store in _metadata.values():
            store.close()
        _metadata.clear()
        _objects.clear()
