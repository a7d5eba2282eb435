"""Where on a page a field's value was read: for showing a reviewer the image crop.

Works on the page OCR records (word boxes in the cleaned, upright image) and matches the
value against each OCR line with diacritics folded, so an OCR slip on a tone mark still
finds the line a reviewer must look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

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


def _lines(record: dict[str, Any]) -> list[tuple[str, tuple[int, int, int, int]]]:
    grouped: dict[tuple[int, int, int], list[list[Any]]] = {}
    for word in record.get("words") or []:
        grouped.setdefault((int(word[6]), int(word[7]), int(word[8])), []).append(word)
    lines = []
    for words in grouped.values():
        text = " ".join(str(w[0]) for w in words)
        left = min(int(w[1]) for w in words)
        top = min(int(w[2]) for w in words)
        right = max(int(w[1]) + int(w[3]) for w in words)
        bottom = max(int(w[2]) + int(w[4]) for w in words)
        lines.append((text, (left, top, right, bottom)))
    return lines


def locate_value(records: Sequence[dict[str, Any]], value: str) -> ValueLocation | None:
    """The OCR line that best contains ``value``, or None when nothing matches well."""
    wanted = " ".join(fold(value).split())
    if not wanted:
        return None
    best: ValueLocation | None = None
    for position, record in enumerate(records):
        width = float(record.get("image_width") or 0)
        height = float(record.get("image_height") or 0)
        if width <= 0 or height <= 0:
            continue
        for text, (left, top, right, bottom) in _lines(record):
            score = float(fuzz.partial_ratio(wanted, " ".join(fold(text).split())))
            if score >= MIN_SCORE and (best is None or score > best.score):
                best = ValueLocation(
                    position, left / width, top / height, right / width, bottom / height, score
                )
    return best
