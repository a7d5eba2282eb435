"""Page images and field crops for the pages and the review desk (OpenCV)."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from fastapi import HTTPException

from config import Settings
from flows.runtime import object_store
from models import DossierInfo
from models.errors import ObjectNotFoundError
from pipeline.locate import ValueLocation, locate_value
from pipeline.turns import turn_clockwise
from storage import keys


def _page_owner_index(dossier: DossierInfo, number: int) -> tuple[str, int, int]:
    if not 1 <= number <= len(dossier.pages):
        raise HTTPException(404, "no such page")
    page = dossier.pages[number - 1]
    source_index = page.source_index if page.source_index is not None else page.index
    return dossier.file_owner, source_index, page.rotation


def upright_page(settings: Settings, dossier: DossierInfo, number: int) -> np.ndarray:
    owner, source_index, rotation = _page_owner_index(dossier, number)
    try:
        data = object_store(settings).get_bytes(keys.page_image_key(owner, source_index))
    except ObjectNotFoundError:
        raise HTTPException(404, "no page image") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(500, "unreadable page image")
    return turn_clockwise(image, rotation)


def field_locations(
    settings: Settings, dossier: DossierInfo, names: Iterable[str]
) -> dict[str, ValueLocation]:
    """Where each named field's value is on the dossier's upright pages (the OCR line that
    holds it); a value not found is left out. The pages' OCR records are read once for all
    the names: ask for the few fields a page shows, not for every field."""
    from models.pagerecord import PageRecord, decode_page_record

    values = {f.name: f.value for f in dossier.field_details}
    wanted = [name for name in names if values.get(name)]
    if not wanted or not dossier.pages:
        return {}
    objects = object_store(settings)
    records: list[PageRecord | None] = []
    for page in dossier.pages:
        source_index = page.source_index if page.source_index is not None else page.index
        try:
            raw = objects.get_bytes(keys.page_ocr_key(dossier.file_owner, source_index))
            records.append(decode_page_record(raw))
        except (ObjectNotFoundError, ValueError):
            records.append(None)
    found = {name: locate_value(records, values[name]) for name in wanted}
    return {name: where for name, where in found.items() if where is not None}


def field_crop(settings: Settings, dossier: DossierInfo, name: str) -> np.ndarray | None:
    found = field_locations(settings, dossier, [name]).get(name)
    if found is None:
        return None
    image = upright_page(settings, dossier, found.page_position + 1)
    height, width = image.shape[:2]
    margin_x, margin_y = 0.04 * width, 0.02 * height
    left = max(0, int(found.left * width - margin_x))
    right = min(width, int(found.right * width + margin_x))
    top = max(0, int(found.top * height - margin_y))
    bottom = min(height, int(found.bottom * height + margin_y))
    if right <= left or bottom <= top:
        return None
    return image[top:bottom, left:right]
