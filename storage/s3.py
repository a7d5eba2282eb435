"""The object store on MinIO / S3, through the ``minio`` SDK.

Same contract as the local store (``storage.objects.ObjectStore``), plus what production
needs: every object carries its SHA-256 in its metadata and is verified on read; the
bucket is created with versioning on; large files go multipart (the SDK splits anything
over ``PART_SIZE``); downloads can be handed out as short-lived presigned URLs.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig
from urllib3.exceptions import HTTPError

from models import faults
from models.digest import CHUNK, sha256_bytes, sha256_file
from models.errors import ObjectNotFoundError, StorageError
from storage.objects import StoredObject, WriteOnceFiles, check_key

log = logging.getLogger("sohoa.storage")

SHA_META = "sha256"  # stored as x-amz-meta-sha256
PART_SIZE = 16 * 1024 * 1024
MISSING_CODES = ("NoSuchKey", "NoSuchObject", "NoSuchVersion")


class S3ObjectStore(WriteOnceFiles):
    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str = "sohoa",
        secure: bool = False,
        region: str | None = None,
        retention_days: int = 0,
        retention_mode: str = "COMPLIANCE",
    ) -> None:
        """``retention_days`` > 0: originals get an object-lock retention after upload.

        Object lock can only be switched on when a bucket is created, so a new bucket is
        made with it; on an existing bucket without it, originals stay write-once by
        sohoa's own rule and a warning says retention is off.
        """
        self.bucket = bucket
        self.retention_days = retention_days
        self.retention_mode = COMPLIANCE if retention_mode.upper() == "COMPLIANCE" else GOVERNANCE
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        try:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket, object_lock=retention_days > 0)
            self.client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"object store {endpoint}/{bucket} unusable ({exc})") from None
        self._retention_usable = retention_days > 0

    def _retain(self, key: str) -> None:
        """Object-lock the current version of ``key`` for the configured time.

        Set after the upload, not as PUT headers: some S3 servers refuse lock headers on
        plain-HTTP PUTs, and a PUT that failed on them would lose the upload.
        """
        if not self._retention_usable:
            return
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        try:
            self.client.set_object_retention(
                self.bucket, key, Retention(self.retention_mode, until)
            )
        except S3Error as exc:
            if exc.code in ("InvalidRequest", "ObjectLockConfigurationNotFoundError"):
                self._retention_usable = False
                log.warning(
                    "bucket %s has no object lock: originals are write-once by sohoa only (%s)",
                    self.bucket,
                    exc.code,
                )
                return
            raise StorageError(f"cannot set retention on {key} ({exc})") from exc
        except (HTTPError, OSError) as exc:
            raise StorageError(f"cannot set retention on {key} ({exc})") from exc

    def retention_until(self, key: str) -> datetime | None:
        """Until when the current version of ``key`` is locked, or None (from its headers)."""
        try:
            info = self.client.stat_object(self.bucket, check_key(key))
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"cannot read {key} ({exc})") from exc
        headers = {k.lower(): v for k, v in (info.metadata or {}).items()}
        until = headers.get("x-amz-object-lock-retain-until-date")
        return datetime.fromisoformat(str(until).replace("Z", "+00:00")) if until else None

    # --- writes ---------------------------------------------------------------------------

    def _write_file(
        self, key: str, path: Path, content_type: str, *, write_once: bool, sha256: str | None
    ) -> StoredObject:
        # A digest carried in (the original, hashed as it came in) is not taken again.
        size, sha = (path.stat().st_size, sha256) if sha256 else sha256_file(path)
        # A write-once put found the key free already; any other may be a re-run, which
        # must not make a second version of identical bytes.
        if not write_once and (same := self._same_bytes(key, size, sha)) is not None:
            return same
        try:
            self.client.fput_object(
                self.bucket,
                check_key(key),
                str(path),
                content_type=content_type,
                metadata={SHA_META: sha},
                part_size=PART_SIZE,
            )
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"cannot store {key} ({exc})") from exc
        faults.point("objects.after-put")
        return StoredObject(key, size, sha)

    def _seal(self, stored: StoredObject) -> None:
        self._retain(stored.key)

    def _same_bytes(self, key: str, size: int, sha: str) -> StoredObject | None:
        try:
            existing = self.stat(key)
        except ObjectNotFoundError:
            return None
        return existing if (existing.size, existing.sha256) == (size, sha) else None

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        sha = sha256_bytes(data)
        if (same := self._same_bytes(key, len(data), sha)) is not None:
            return same
        try:
            self.client.put_object(
                self.bucket,
                check_key(key),
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                metadata={SHA_META: sha},
            )
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"cannot store {key} ({exc})") from exc
        return StoredObject(key, len(data), sha)

    # --- reads ----------------------------------------------------------------------------

    def stat(self, key: str) -> StoredObject:
        with _reading(key):
            info = self.client.stat_object(self.bucket, check_key(key))
        metadata = {k.lower(): v for k, v in (info.metadata or {}).items()}
        sha = str(metadata.get(f"x-amz-meta-{SHA_META}", ""))
        return StoredObject(key, int(info.size or 0), sha)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def get_bytes(self, key: str) -> bytes:
        expected = self.stat(key)
        try:
            response = self.client.get_object(self.bucket, key)
            try:
                data = response.read()
            finally:
                response.close()
                response.release_conn()
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"cannot read {key} ({exc})") from exc
        actual = sha256_bytes(data)
        if expected.sha256 and actual != expected.sha256:
            raise StorageError(f"{key} is corrupt: SHA-256 {actual} != stored {expected.sha256}")
        return data

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Streamed from S3 (``get_object`` reads as the caller consumes, never the whole
        object); the digest is the caller's to check as the chunks pass."""
        with _reading(key):
            response = self.client.get_object(self.bucket, check_key(key))
        try:
            with _reading(key):
                yield from response.stream(chunk_size)
        finally:
            response.close()
            response.release_conn()

    def get_file(self, key: str, destination: Path) -> StoredObject:
        expected = self.stat(key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Unique temp name: two page tasks of one dossier may fetch the same original.
        tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.part")
        try:
            self.client.fget_object(self.bucket, key, str(tmp))
        except (S3Error, HTTPError, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot read {key} ({exc})") from exc
        size, sha = sha256_file(tmp)
        if expected.sha256 and sha != expected.sha256:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"{key} is corrupt: SHA-256 {sha} != stored {expected.sha256}")
        tmp.replace(destination)
        return StoredObject(key, size, sha)

    def list(self, prefix: str) -> list[str]:
        try:
            return sorted(
                str(o.object_name)
                for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            )
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"cannot list {prefix} ({exc})") from exc

    def presigned_url(self, key: str, *, expires_s: int = 300) -> str:
        """A download link valid for ``expires_s`` seconds (short: links get forwarded)."""
        self.stat(key)  # no links to objects that do not exist
        return self.client.presigned_get_object(
            self.bucket, key, expires=timedelta(seconds=expires_s)
        )


@contextmanager
def _reading(key: str) -> Iterator[None]:
    """S3's and the network's failures while reading ``key``, as the store's own errors."""
    try:
        yield
    except S3Error as exc:
        if exc.code in MISSING_CODES:
            raise ObjectNotFoundError(f"object {key} not found") from None
        raise StorageError(f"cannot read {key} ({exc})") from exc
    except (HTTPError, OSError) as exc:
        raise StorageError(f"cannot read {key} ({exc})") from exc
