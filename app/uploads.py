"""An upload's files staged under numbered names, then checked (``flows.intake``): a
refusal names every bad file, with its words for the counter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import HTTPException, UploadFile

from app.views import messages_for
from config import Settings
from flows import intake
from models.names import display_name
from pipeline.load import SourceDocument

CHUNK = 1 << 20


class UploadRefused(HTTPException):
    """An upload refused for the files named in ``files`` (position, name, the problem and
    its words for the counter): the page takes out exactly those and keeps the rest."""

    def __init__(self, status: int, detail: str, files: list[dict[str, Any]]) -> None:
        super().__init__(status, detail)
        self.files = files


def stage_uploads(
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


def check_uploads(settings: Settings, names: list[str], paths: list[Path]) -> list[SourceDocument]:
    """Every file must be a scan we can read, judged by its content: else 4xx, nothing kept."""
    documents, refusals = intake.inspect_files(settings, names, paths)
    problems: list[tuple[int, str]] = []
    refused: list[dict[str, Any]] = []
    for item in refusals:
        # Judged by content: a file that is no scan at all is an unsupported media type.
        unsupported = "not a PDF, TIFF, JPEG or PNG" in item.message
        problems.append((415 if unsupported else 422, item.message))
        refused.append(
            {
                "position": item.position,
                "file": item.name,
                "error": item.message,
                "shown": messages_for(settings).error(item.message, file=item.name),
            }
        )
    if problems:
        status = 415 if all(code == 415 for code, _ in problems) else 422
        raise UploadRefused(status, "; ".join(message for _, message in problems), refused)
    return documents
