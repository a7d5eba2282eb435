"""Object keys, deterministic from the dossier id and the artefact.

Re-running a dossier writes the same keys, so nothing is duplicated. No part of a key
ever comes from a user-supplied file name.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

ORIGINAL_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/tiff": ".tif",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}


def check_id(value: str) -> str:
    if not _ID.match(value) or ".." in value:
        raise ValueError(f"not a valid id: {value!r}")
    return value


def new_batch_id() -> str:
    """Sortable by time, unique across counters: ``20261122-014500-a1b2c3``."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def dossier_id(batch_id: str, position: int) -> str:
    """The dossier a batch's file (0-based ``position``) becomes; split stacks add -NN
    (``split_dossier_id``)."""
    return f"{check_id(batch_id)}-{position + 1:03d}"


def split_dossier_id(file_dossier_id: str, number: int) -> str:
    """The dossier part ``number`` (1-based) of a stack split apart becomes: the first part
    keeps the file's dossier id, each other one adds ``-NN`` to it."""
    return file_dossier_id if number == 1 else f"{file_dossier_id}-{number:02d}"


def is_from_file(dossier_id: str, file_dossier_id: str) -> bool:
    """Whether ``dossier_id`` is the file's own dossier or one split from it."""
    return dossier_id == file_dossier_id or dossier_id.startswith(f"{file_dossier_id}-")


def dossier_prefix(dossier_id: str) -> str:
    return f"dossiers/{check_id(dossier_id)}/"


def original_key(dossier_id: str, media_type: str | None) -> str:
    return (
        f"{dossier_prefix(dossier_id)}original{ORIGINAL_EXTENSIONS.get(media_type or '', '.bin')}"
    )


def submission_key(dossier_id: str, number: int, media_type: str | None) -> str:
    """A rescan's file as the counter handed it in (submission 1 is ``original_key``)."""
    extension = ORIGINAL_EXTENSIONS.get(media_type or "", ".bin")
    return f"{dossier_prefix(dossier_id)}submissions/{number:02d}{extension}"


def rescan_source_key(dossier_id: str, number: int) -> str:
    """The PDF the dossier's pages are read from after rescan ``number``: the pages kept
    from before, each rescanned one in the place of the page it replaces."""
    return f"{dossier_prefix(dossier_id)}submissions/{number:02d}-dossier.pdf"


def part_original_key(dossier_id: str, media_type: str | None) -> str:
    """A dossier split from a stack: its own pages of the stack, as a file of the same kind
    (the stack itself stays at the first dossier's ``original_key``)."""
    extension = ORIGINAL_EXTENSIONS.get(media_type or "", ".bin")
    return f"{dossier_prefix(dossier_id)}part-original{extension}"


def page_image_key(dossier_id: str, index: int) -> str:
    return f"{dossier_prefix(dossier_id)}pages/{index + 1:04d}.jpg"


def page_ocr_key(dossier_id: str, index: int) -> str:
    return f"{dossier_prefix(dossier_id)}ocr/{index + 1:04d}.json"


def field_crop_key(dossier_id: str, index: int, field: str) -> str:
    """The image of a handwritten value's area (page ``index`` of the scanned file)."""
    if not re.fullmatch(r"[a-z_]{1,64}", field):
        raise ValueError(f"not a field name: {field!r}")
    return f"{dossier_prefix(dossier_id)}crops/{index + 1:04d}-{field}.png"


def text_key(dossier_id: str) -> str:
    return f"{dossier_prefix(dossier_id)}text.txt"


def pdf_key(dossier_id: str) -> str:
    return f"{dossier_prefix(dossier_id)}dossier.pdf"


def manifest_key(dossier_id: str) -> str:
    """Written last: a dossier without its manifest is not (yet) archived."""
    return f"{dossier_prefix(dossier_id)}manifest.json"


def fields_key(dossier_id: str) -> str:
    return f"{dossier_prefix(dossier_id)}fields.json"


def paper_key(dossier_id: str, archive_sha256: str, number: int) -> str:
    """One submitted paper of the archived PDF, signed on its own (issue 27's handoff); the
    archive's hash in the name: a re-archived dossier (a rescan) gets its papers anew."""
    return f"{dossier_prefix(dossier_id)}papers/{archive_sha256[:16]}-{number:02d}.pdf"
