"""Intake of an upload to the service: every file checked, then all stored, or none.

The CLI hands in files one by one (``steps.receive_batch``): a bad file is kept and its
dossier fails while the rest of the batch goes on. An upload is answered at once instead,
so it is refused whole when any file is bad, and nothing of it is stored. Both judge a file
with the same inspection (``steps.inspect_file``: content, page and size limits, the SHA-256
taken while reading), and the flow's receive task later starts from what either recorded,
so a file is inspected and hashed once, whichever way it came in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from flows import steps
from flows.runtime import metadata_store, object_store
from models import BatchInfo, StoredOriginal
from models.errors import StorageError
from pipeline.load import SourceDocument
from storage import keys

log = logging.getLogger("sohoa.intake")


@dataclass(frozen=True)
class RefusedFile:
    position: int  # in the upload, from 0
    name: str  # what the client called it (cleaned for display)
    message: str  # one line naming the file and the problem


def inspect_files(
    settings: Settings, names: list[str], paths: list[Path]
) -> tuple[list[SourceDocument], list[RefusedFile]]:
    """Every file judged by its content; the refused ones all named, not only the first."""
    documents: list[SourceDocument] = []
    refused: list[RefusedFile] = []
    for position, (name, path) in enumerate(zip(names, paths, strict=True)):
        document, error = steps.inspect_file(settings, path, name)
        if document is not None:
            documents.append(document)
            continue
        message = error or ""
        refused.append(
            RefusedFile(position, name, message if name in message else f"{name}: {message}")
        )
    return documents, refused


def store_originals(
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
        earlier = steps.earlier_holder(
            meta, document.sha256, agency_code=batch.agency_code, dossier_id=dossier_id, seen=seen
        )
        key = None
        if earlier is None:
            media_type = str(document.media_type)
            key = keys.original_key(dossier_id, media_type)
            # Hashed by the inspection, as it read the upload: the store keeps that digest.
            kept = objects.put_file(
                key, document.path, media_type, write_once=True, sha256=document.sha256
            )
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


def receive_upload(settings: Settings, batch: BatchInfo, documents: list[SourceDocument]) -> None:
    """Store every inspected original, then record the batch and its dossiers last, in one
    transaction: a failure before that records nothing at all.

    The look-up in ``store_originals`` is only a shortcut: two uploads of the same bytes
    at the same moment both miss each other there, and the claim taken when recording
    (a unique key, ``storage.metadata.claims``) makes the later one a duplicate."""
    stored = store_originals(settings, batch, documents)
    losers = metadata_store(settings).receive_upload(batch, stored)
    for dossier_id in losers:
        log.info(
            "dossier %s: the same file was recorded at the same moment; a duplicate", dossier_id
        )
