"""Where on a page a field's value was read: for showing a reviewer the image crop.

Works on the page OCR records (word boxes in the cleaned, upright image) and matches the
value against each OCR line with diacritics folded, so an OCR slip on a tone mark still
finds the line a reviewer must look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from models.pagerecord import OcrWord, PageRecord
from models.textfold import fold

MIN_SCORE = 70.0


@dataclass(frozen=True)
class ValueLocation:
    page_position: int  # index into the records given
    left: float  # fractions of the upright page, 0..1
    top: float
    right: float
    bottom: float
    score: float


def _lines(record: PageRecord) -> list[tuple[str, tuple[int, int, int, int]]]:
    grouped: dict[tuple[int, int, int], list[OcrWord]] = {}
    for word in record.words:
        grouped.setdefault(word.line_key, []).append(word)
    lines = []
    for words in grouped.values():
        text = " ".join(w.text for w in words)
        left = min(w.left for w in words)
        top = min(w.top for w in words)
        right = max(w.left + w.width for w in words)
        bottom = max(w.top + w.height for w in words)
        lines.append((text, (left, top, right, bottom)))
    return lines


def locate_value(records: Sequence[PageRecord | None], value: str) -> ValueLocation | None:
    """The OCR line that best contains ``value``, or None when nothing matches well.

    ``records`` are the dossier's pages in order; None for a page whose record is missing.
    """
    wanted = " ".join(fold(value).split())
    if not wanted:
        return None
    best: ValueLocation | None = None
    for position, record in enumerate(records):
        if record is None:
            continue
        width = float(record.image_width or 0)
        height = float(record.image_height or 0)
        if width <= 0 or height <= 0:
            continue
        for text, (left, top, right, bottom) in _lines(record):
            score = float(fuzz.partial_ratio(wanted, " ".join(fold(text).split())))
            if score >= MIN_SCORE and (best is None or score > best.score):
                best = ValueLocation(
                    position, left / width, top / height, right / width, bottom / height, score
                )
    return best
