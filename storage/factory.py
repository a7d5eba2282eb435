"""The stores a process works with, built from the frozen settings and kept once per place.

The object store is S3 (MinIO) when ``settings.s3_endpoint`` is set, else files under
``settings.objects_dir``; the metadata store is the database at
``settings.resolved_database_url``. Every caller asking for the same place gets the same
store: one engine (one connection pool) per database, one client per bucket, shared by
threads. Knows nothing of the pipeline or the flows that use the stores.
"""

from __future__ import annotations

import threading

from config import Settings
from storage.metadata import MetadataStore
from storage.objects import LocalObjectStore, ObjectStore

_lock = threading.Lock()
_metadata: dict[str, MetadataStore] = {}
_objects: dict[str, ObjectStore] = {}


def metadata_store(settings: Settings) -> MetadataStore:
    """The process's store for the settings' database (opened and migrated the first time)."""
    url = settings.resolved_database_url
    with _lock:
        if url not in _metadata:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            _metadata[url] = MetadataStore(url)
        return _metadata[url]


def object_store(settings: Settings) -> ObjectStore:
    """The process's object store for the settings' bucket or objects folder."""
    place = object_store_place(settings)
    with _lock:
        if place not in _objects:
            _objects[place] = build_object_store(settings)
        return _objects[place]


def object_store_place(settings: Settings) -> str:
    """Where the settings' objects live: what tells two object stores apart."""
    if settings.s3_endpoint:
        return f"s3://{settings.s3_endpoint}/{settings.s3_bucket}"
    return str(settings.objects_dir)


def build_object_store(settings: Settings) -> ObjectStore:
    """A new object store for the settings, not kept (``object_store`` keeps one)."""
    if not settings.s3_endpoint:
        return LocalObjectStore(settings.objects_dir)
    # Imported here: the minio SDK is needed only where objects live in S3.
    from storage.s3 import S3ObjectStore

    return S3ObjectStore(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        bucket=settings.s3_bucket,
        secure=settings.s3_secure,
        retention_days=settings.s3_retention_days,
        retention_mode=settings.s3_retention_mode,
    )


def forget_stores() -> None:
    """Close and forget every kept store (tests switch data dirs between cases)."""
    with _lock:
        for store in _metadata.values():
            store.close()
        _metadata.clear()
        _objects.clear()
