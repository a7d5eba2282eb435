"""A column of item numbers read as a line of vertical text, and the numbers taken back.

On a form whose items are numbered in a column of their own ("1." ... "9." at the left
margin, the labels a gap to the right), Tesseract's page layout can take the column of
digits for one line of text set vertically. It then reads that line turned, as a few
stacked words of nonsense ("}Ö) C2) CI ©› Œœ ‹©", confidence 0 to 60), and the labels'
lines lose their numbers (". Họ và tên:"). A line of horizontal text never has its words
stacked one above the other, so such a line is found from its boxes alone. Its words are
dropped, and each line beside the column is read again as one line from the column's left
edge: read with the label after it, the number reads as surely as the label.

A line of real vertical text (a side note set sideways) is read with confidence and is left
as it is.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np

from models.pagerecord import OcrWord
from pipeline.engines import OcrEngine
from pipeline.words import Box, lines_of

MAX_CONFIDENCE = 70.0  # a stacked line read at least this surely is real vertical text
MIN_NUMBER_CONFIDENCE = 60.0  # a number read again is kept from this on
REACH_HEIGHTS = 3.0  # a line beside the column starts within this many of its heights
PAD_HEIGHTS = 0.4  # paper round a line read again, in its heights


def stacked_lines(words: tuple[OcrWord, ...]) -> list[list[OcrWord]]:
    """Lines whose words stand one above the other, read with little confidence."""
    found = []
    for line in lines_of(words):
        if len(line) < 2:
            continue
        stacked = sum(
            _shared_across(a, b) > 0.5 * min(a.width, b.width)
            and min(a.top + a.height, b.top + b.height) <= max(a.top, b.top)
            for a, b in pairwise(line)
        )
        mean = sum(w.confidence for w in line) / len(line)
        if stacked * 2 >= len(line) - 1 and mean < MAX_CONFIDENCE:
            found.append(line)
    return found


def restack_numbers(
    words: tuple[OcrWord, ...],
    image: np.ndarray,
    engine: OcrEngine,
    *,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> tuple[OcrWord, ...]:
    """``words`` without any stacked line, each line beside one read again from the
    column's left edge, and the numbers found there put at the lines' starts."""
    columns = stacked_lines(words)
    if not columns:
        return words
    dropped = {id(w) for column in columns for w in column}
    lines = {
        line[0].line_key: line for line in lines_of([w for w in words if id(w) not in dropped])
    }
    for column in columns:
        around = Box.of_words(column)
        for key, line in lines.items():
            box = Box.of_words(line)
            height = max(w.height for w in line)  # the tallest word's: a line's letter size
            middle = box.top + box.height / 2
            # The turned reading's boxes need not cover the first and last numbers (a pitch).
            within = around.top - 2 * height <= middle <= around.top + around.height + 2 * height
            right = around.left + around.width
            if not (within and around.left <= line[0].left <= right + REACH_HEIGHTS * height):
                continue
            numbers = _read_numbers(
                box, height, around.left, right, image, engine, dpi, timeout_s, label
            )
            if numbers:
                covered = [w for w in line if not any(_overlap(w, n) for n in numbers)]
                lines[key] = [
                    replace(n, block=key[0], paragraph=key[1], line=key[2]) for n in numbers
                ] + covered
    return tuple(w for line in lines.values() for w in line)


def _read_numbers(
    box: Box,
    height: int,
    left: int,
    right: int,
    image: np.ndarray,
    engine: OcrEngine,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> list[OcrWord]:
    """The words read between ``left`` and ``right`` when the line in ``box`` (its letters
    ``height`` tall) is read again whole, from ``left`` on."""
    pad = round(PAD_HEIGHTS * height)
    top = max(0, box.top - pad)
    bottom = min(image.shape[0], box.top + box.height + pad)
    x0 = max(0, left - pad)
    x1 = min(image.shape[1], box.left + box.width + pad)
    again = engine.read(
        image[top:bottom, x0:x1], dpi=dpi, one_line=True, timeout_s=timeout_s, label=label
    )
    return [
        replace(w, left=w.left + x0, top=w.top + top)
        for w in again
        if w.left + x0 + w.width / 2 <= right
        and w.confidence >= MIN_NUMBER_CONFIDENCE
        and any(ch.isalnum() for ch in w.text)
    ]


def _shared_across(word: OcrWord, other: OcrWord) -> int:
    """How far the two boxes overlap across the page (negative: the gap between them)."""
    return min(word.left + word.width, other.left + other.width) - max(word.left, other.left)


def _overlap(word: OcrWord, other: OcrWord) -> bool:
    """Whether ``word`` lies mostly inside ``other`` across the line."""
    return _shared_across(word, other) > 0.5 * max(word.width, 1)
