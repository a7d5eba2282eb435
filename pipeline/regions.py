"""A part of a page read again on its own, and what tells the new reading from the old.

Shared by the steps that read again what the page reading ran together (a table's cells,
pipeline/tables.py; a letter foot's two sides, pipeline/sidebyside.py): the part is cut out
with paper round it, read by the page's engine, its words moved back onto the page and made
one block of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from models.pagerecord import OcrWord
from pipeline.deadline import time_left
from pipeline.engines import OcrEngine


@dataclass(frozen=True)
class Region:
    """A rectangle of the page, in its pixels (right and bottom excluded)."""

    left: int
    top: int
    right: int
    bottom: int

    def holds(self, word: OcrWord) -> bool:
        """Whether the word's centre lies inside."""
        x = word.left + word.width / 2
        y = word.top + word.height / 2
        return self.left <= x < self.right and self.top <= y < self.bottom


def read_region(
    region: Region,
    image: np.ndarray,
    engine: OcrEngine,
    *,
    pad: int,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> list[OcrWord]:
    """The words of ``region`` read alone, with ``pad`` pixels of paper round it (the engine
    finds lines better with some), in the page's pixels; within what is left of the page's
    time budget (pipeline/deadline.py)."""
    if region.right <= region.left or region.bottom <= region.top:
        return []
    part = image[region.top : region.bottom, region.left : region.right]
    crop = cv2.copyMakeBorder(part, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    timeout_s = time_left(timeout_s, "reading part of the page again")
    found = engine.read(crop, dpi=dpi, timeout_s=timeout_s, label=label)
    return [
        replace(w, left=w.left + region.left - pad, top=w.top + region.top - pad) for w in found
    ]


def as_block(words: list[OcrWord], block: int) -> list[OcrWord]:
    """``words`` as one block of one paragraph, their lines numbered anew: the engine may
    find two blocks or paragraphs in a part, and the text layer sizes text by paragraph (a
    table cell's last line drawn smaller was cut from the cell by pdftotext)."""
    lines: dict[tuple[int, int, int], int] = {}
    return [
        replace(
            word, block=block, paragraph=1, line=lines.setdefault(word.line_key, len(lines) + 1)
        )
        for word in words
    ]


def put_in_place(
    words: tuple[OcrWord, ...], taken: set[int], new: list[OcrWord]
) -> tuple[OcrWord, ...]:
    """``words`` without those whose ``id`` is in ``taken``, ``new`` where the first of them
    stood."""
    at = next((i for i, w in enumerate(words) if id(w) in taken), len(words))
    before = [w for w in words[:at] if id(w) not in taken]
    after = [w for w in words[at:] if id(w) not in taken]
    return (*before, *new, *after)


def mean_confidence(words: list[OcrWord]) -> float:
    return sum(w.confidence for w in words) / len(words) if words else 0.0


def sure_text(words: list[OcrWord]) -> float:
    """Characters read, each weighed by its word's confidence."""
    return sum(len(w.text) * w.confidence / 100.0 for w in words)
