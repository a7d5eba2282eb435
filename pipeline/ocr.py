"""OCR: read a cleaned page with the engine its context names, keeping every word's box and
confidence."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np

from models.pagerecord import OcrWord
from pipeline.clean import CleanedPage
from pipeline.context import PageContext
from pipeline.engines import engine_for
from pipeline.sidebyside import read_sides_apart
from pipeline.stacked import restack_numbers, restore_item_numbers
from pipeline.tables import read_crossed_cells
from pipeline.words import reading_text


@dataclass(frozen=True, eq=False)
class PageOcr:
    index: int
    words: tuple[OcrWord, ...]
    text: str  # lines joined with "\n", paragraphs with a blank line, NFC
    image_width: int  # of the cleaned image the boxes refer to
    image_height: int
    dpi: float

    @property
    def mean_confidence(self) -> float | None:
        if not self.words:
            return None
        return sum(w.confidence for w in self.words) / len(self.words)


# Tesseract's layout pass costs in proportion to the pixels it is handed, white or not: a
# page is read inside the box of its ink, with a margin of paper round it, and the words'
# boxes are moved back. Any pixel darker than this is ink here: faint pencil and faded seals
# too, so nothing the engine could have read is cut off.
INK_LEVEL = 224
READ_MARGIN_IN = 0.25  # paper left round the ink: the engine finds lines better with some
MIN_SAVING = 0.1  # of the page's pixels; below this the page is read whole


def ink_bounds(grey: np.ndarray, dpi: float) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the part of the grey page worth reading: its ink and a
    margin round it; None when that is (nearly) the whole page or there is no ink."""
    height, width = grey.shape
    # The darkest pixel of each row and column (numpy's vectorised minimum: cv2.reduce is
    # some 50 times slower at this).
    rows = np.flatnonzero(grey.min(axis=1) < INK_LEVEL)
    cols = np.flatnonzero(grey.min(axis=0) < INK_LEVEL)
    if rows.size == 0 or cols.size == 0:
        return None
    margin = max(16, round(READ_MARGIN_IN * dpi))
    left, right = max(0, int(cols[0]) - margin), min(width, int(cols[-1]) + 1 + margin)
    top, bottom = max(0, int(rows[0]) - margin), min(height, int(rows[-1]) + 1 + margin)
    if (right - left) * (bottom - top) > (1.0 - MIN_SAVING) * width * height:
        return None
    return left, top, right, bottom


class ReadAgain(TypedDict):
    """What every pass that reads parts of the page again is given besides the words."""

    dpi: float | None
    timeout_s: float
    label: str


def ocr_page(page: CleanedPage, context: PageContext, *, tell_dpi: bool = True) -> PageOcr:
    """Read ``page``; ``tell_dpi`` False lets the engine judge the letters' size itself."""
    height, width = page.image.shape[:2]
    if page.blank:
        return PageOcr(page.index, (), "", width, height, page.dpi)
    left, top, right, bottom = ink_bounds(page.image, page.dpi) or (0, 0, width, height)
    engine = engine_for(context)
    dpi = page.dpi if tell_dpi else None
    words = engine.read(
        page.image[top:bottom, left:right],
        dpi=dpi,
        timeout_s=context.ocr_timeout_s,
        label=context.label,
    )
    if left or top:
        words = tuple(replace(w, left=w.left + left, top=w.top + top) for w in words)
    # Parts of the page read again where the engine ran them together or cut them off, in
    # this order: stacked and hanging numbers (a cell or a side read again holds them), a
    # table's crossed cells, a letter foot's two sides.
    again = ReadAgain(dpi=dpi, timeout_s=context.ocr_timeout_s, label=context.label)
    words = restack_numbers(words, page.image, engine, **again)
    words = restore_item_numbers(words, page.image, engine, **again)
    words = read_crossed_cells(words, page.image, engine, page_dpi=page.dpi, **again)
    words = read_sides_apart(words, page.image, engine, **again)
    return PageOcr(
        index=page.index,
        words=words,
        text=reading_text(words),
        image_width=width,
        image_height=height,
        dpi=page.dpi,
    )
