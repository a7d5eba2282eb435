"""Object keys, deterministic from the dossier id and the artefact.

Re-running a dossier writes the same keys, so nothing is duplicated. No part of a key
ever comes from a user-supplied file name.
"""

from __future__ import annotations

import re

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


def dossier_prefix(dossier_id: str) -> str:
    return f"dossiers/{check_id(dossier_id)}/"


def original_key(dossier_id: str, media_type: str | None) -> str:
    return (
        f"{dossier_prefix(dossier_id)}original{ORIGINAL_EXTENSIONS.get(media_type or '', '.bin')}"
    )


def page_image_key(dossier_id: str, index: int) -> str:
    return f"{dossier_prefix(dossier_id)}pages/{index + 1:04d}.jpg"


def page_ocr_key(dossier_id: str, index: int) -> str:
    return f"{dossier_prefix(dossier_id)}ocr/{index + 1:04d}.json"


def text_key(dossier_id: str) -> str:
    return f"{dossier_prefix(dossier_id)}text.txt"


def pdf_key(dossier_id: str) -> str:
    return f"{dossier_prefix(dossier_id)}dossier.pdf"


def manifest_key(dossier_id: str) -> str:
    """Written last: a dossier without its manifest is not (yet) archived."""
    return f"{dossier_prefix(dossier_id)}manifest.json"


def fields_key(dossier_id: str) -> str:
    return f"{dossier_prefix(dossier_id)}fields.json"
