"""An upload's files: staged under numbered names, checked by content, stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import HTTPException, UploadFile

from app.views import messages_for
from config import Settings
from flows.runtime import metadata_store, object_store
from models import BatchInfo, StoredOriginal
from models.errors import SohoaError, StorageError
from models.names import display_name
from pipeline.load import SourceDocument, inspect_source
from storage import keys

CHUNK = 1 << 20


class UploadRefused(HTTPException):
    """An upload refused for the files named in ``files`` (position, name, the problem and
    its words for the counter): the page takes out exactly those and keeps the rest."""

    def __init__(self, status: int, detail: str, files: list[dict[str, Any]]) -> None:
        super().__init__(status, detail)
        self.files = files


def _stage(
    settings: Settings, files: list[UploadFile], staging: Path
) -> tuple[list[str], list[Path], int]:
    """Copy uploads to numbered files: the client's file names never touch the disk."""
    staging.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    paths: list[Path] = []
    total = 0
    for position, upload in enumerate(files):
        name = display_name(upload.filename, f"file {position + 1}")
        path = staging / f"{position + 1:04d}.upload"
        size = 0
        with path.open("wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                total += len(chunk)
                if size > settings.max_file_bytes:
                    raise HTTPException(413, f"{name}: larger than {settings.max_file_bytes} bytes")
                if total > settings.max_upload_bytes:
                    raise HTTPException(
                        413, f"upload larger than {settings.max_upload_bytes} bytes"
                    )
                out.write(chunk)
        names.append(name)
        paths.append(path)
    return names, paths, total


def _check_uploads(settings: Settings, names: list[str], paths: list[Path]) -> list[SourceDocument]:
    """Every file must be a scan we can read, judged by its content: else 4xx, nothing kept."""
    problems: list[tuple[int, str]] = []
    refused: list[dict[str, Any]] = []
    documents: list[SourceDocument] = []
    for position, (name, path) in enumerate(zip(names, paths, strict=True)):
        try:
            documents.append(
                inspect_source(
                    path,
                    name=name,
                    max_pages=settings.max_pages_per_file,
                    max_bytes=settings.max_file_bytes,
                )
            )
        except SohoaError as exc:
            message = exc.message if name in exc.message else f"{name}: {exc.message}"
            # Judged by content: a file that is no scan at all is an unsupported media type.
            unsupported = "not a PDF, TIFF, JPEG or PNG" in message
            problems.append((415 if unsupported else 422, message))
            refused.append(
                {
                    "position": position,
                    "file": name,
                    "error": message,
                    "shown": messages_for(settings).error(message, file=name),
                }
            )
    if problems:
        status = 415 if all(code == 415 for code, _ in problems) else 422
        raise UploadRefused(status, "; ".join(message for _, message in problems), refused)
    return documents


def _store_originals(
    settings: Settings, batch: BatchInfo, documents: list[SourceDocument]
) -> list[StoredOriginal]:
    """Every original into the object store (write-once), before anything is recorded.

    A file whose bytes the same agency already received is not stored again: it becomes
    a duplicate of that dossier (also within this upload). Another agency's dossiers are
    never looked at: the same bytes sent to it are its own dossier.
    """
    meta, objects = metadata_store(settings), object_store(settings)
    seen: dict[str, str] = {}  # sha256 -> dossier id, within this upload
    stored: list[StoredOriginal] = []
    for position, document in enumerate(documents):
        dossier_id = keys.dossier_id(batch.batch_id, position)
        earlier = seen.get(document.sha256) or meta.find_original(
            document.sha256, agency_code=batch.agency_code, other_than=dossier_id
        )
        key = None
        if earlier is None:
            media_type = str(document.media_type)
            key = keys.original_key(dossier_id, media_type)
            kept = objects.put_file(key, document.path, media_type, write_once=True)
            if (kept.sha256, kept.size) != (document.sha256, document.size):
                raise StorageError(f"{key}: stored bytes differ from the upload")
            seen[document.sha256] = dossier_id
        stored.append(
            StoredOriginal(
                dossier_id=dossier_id,
                position=position,
                source_name=document.name,
                sha256=document.sha256,
                size=document.size,
                original_key=key,
                media_type=str(document.media_type),
                page_count=document.page_count,
                duplicate_of=earlier,
            )
        )
    return stored
