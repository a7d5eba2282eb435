"""The object store on MinIO / S3, through the ``minio`` SDK.

Same contract as the local store (``storage.objects.ObjectStore``), plus what production
needs: every object carries its SHA-256 in its metadata and is verified on read; the
bucket is created with versioning on; large files go multipart (the SDK splits anything
over ``PART_SIZE``); downloads can be handed out as short-lived presigned URLs.
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

from minio import Minio
from minio.commonconfig import ENABLED
from minio.error import S3Error
from minio.versioningconfig import VersioningConfig
from urllib3.exceptions import HTTPError

from pipeline.errors import ObjectNotFoundError, StorageError
from storage.objects import StoredObject, check_key, sha256_file

SHA_META = "sha256"  # stored as x-amz-meta-sha256
PART_SIZE = 16 * 1024 * 1024
MISSING_CODES = ("NoSuchKey", "NoSuchObject", "NoSuchVersion")


class S3ObjectStore:
    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str = "sohoa",
        secure: bool = False,
        region: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        try:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)
            self.client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
        except (S3Error, HTTPError, OSError) as exc:
            raise StorageError(f"object store {endpoint}/{bucket} unusable ({exc})") from None

    # --- writes ---------------------------------------------------------------------------

    def put_file(
        self, key: str, path: Path, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        size, sha = sha256_file(path)
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
        return StoredObject(key, size, sha)

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        sha = hashlib.sha256(data).hexdigest()
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
        try:
            info = self.client.stat_object(self.bucket, check_key(key))
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                raise ObjectNotFoundError(f"object {key} not found") from None
            raise StorageError(f"cannot read {key} ({exc})") from exc
        except (HTTPError, OSError) as exc:
            raise StorageError(f"cannot read {key} ({exc})") from exc
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
        actual = hashlib.sha256(data).hexdigest()
        if expected.sha256 and actual != expected.sha256:
            raise StorageError(f"{key} is corrupt: SHA-256 {actual} != stored {expected.sha256}")
        return data

    def get_file(self, key: str, destination: Path) -> StoredObject:
        expected = self.stat(key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(f".{destination.name}.part")
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
