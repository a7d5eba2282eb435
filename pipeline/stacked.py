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

The same numbers are lost another way: a list's "1." ... "5." hanging left of their lines'
text, a gap away, are cut off by the page layout and read alone as nonsense ("la", "..",
".") or not at all (a real notice at 0.97x and 1.03x its scan resolution lost all five). A
line whose text starts right of ink that no word of another line covers, or right of such a
stray mark, is read again as one line from the ink's left edge; an item number found there
("1.", "12.", "a)", "(3)") is put at the line's start and the stray mark dropped.
"""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import pairwise

import numpy as np

from models.pagerecord import OcrWord
from pipeline.deadline import time_left
from pipeline.engines import OcrEngine
from pipeline.regions import Region
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


# An item number: digits or one letter, closed by "." or ")" (or bracketed).
ITEM_NUMBER = re.compile(r"^(?:\d{1,2}|[a-zđ])[.)]$|^\(\d{1,2}\)$")
MARK_REACH_HEIGHTS = 1.5  # a hanging number ends within this many letter heights of its text
MAX_MARK_CHARS = 3  # a stray mark read alone: a line of one word this short ...
STRAY_CONFIDENCE = 70.0  # ... read less surely than this
MIN_MARK_INK = 0.04  # of the zone left of a line's text: ink enough for a digit and a dot
MARK_INK_LEVEL = 128
MAX_LINES_READ_AGAIN = 30  # a page's budget of lines read again for their numbers


def restore_item_numbers(
    words: tuple[OcrWord, ...],
    image: np.ndarray,
    engine: OcrEngine,
    *,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> tuple[OcrWord, ...]:
    """``words`` with each line that lost its hanging item number read again from the
    number's ink, and the number put back at the line's start."""
    lines = lines_of(words)
    boxes = [Box.of_words(line) for line in lines]
    # A line of one short word read unsurely is a mark read alone (a number cut off from
    # its line: "1." as "la", 48).
    stray_words = [
        line[0]
        for line in lines
        if len(line) == 1
        and len(line[0].text) <= MAX_MARK_CHARS
        and line[0].confidence < STRAY_CONFIDENCE
    ]
    strays = {id(w) for w in stray_words}
    changed: dict[int, list[OcrWord]] = {}
    dropped: set[int] = set()
    for at, line in enumerate(lines):
        if len(changed) >= MAX_LINES_READ_AGAIN:
            break
        text = [w for w in line if not _dots(w.text)]
        if len(text) < 2 or id(line[0]) in strays:
            continue
        first = min(text, key=lambda w: w.left)
        if ITEM_NUMBER.match(first.text):
            continue  # read with its number
        box = boxes[at]
        height = int(np.median([w.height for w in text]))
        zone_left = max(0, round(first.left - MARK_REACH_HEIGHTS * height))
        if any(
            _crosses(boxes[i], zone_left, first.left, box)
            for i in range(len(lines))
            if i != at and id(lines[i][0]) not in strays
        ):
            continue  # another line's text stands there: a column, not a number
        zone = Region(zone_left, box.top, first.left, box.top + box.height)
        marks = [
            w for w in (*stray_words, *line) if zone.holds(w) and (id(w) in strays or _dots(w.text))
        ]
        ink = _ink_left(image, zone_left, first.left, box)
        starts = [m.left for m in marks] + ([ink] if ink is not None else [])
        if not starts:
            continue
        found = _read_numbers(
            box, height, min(starts), first.left, image, engine, dpi, timeout_s, label
        )
        numbers = [n for n in found if ITEM_NUMBER.match(n.text)]
        if len(numbers) != 1:
            continue
        key = first.line_key
        number = replace(numbers[0], block=key[0], paragraph=key[1], line=key[2])
        marked = {id(m) for m in marks}
        changed[at] = [number, *(w for w in line if id(w) not in marked)]
        dropped.update(marked)
    if not changed:
        return words
    out: list[OcrWord] = []
    for at, line in enumerate(lines):
        out.extend(changed.get(at) or [w for w in line if id(w) not in dropped])
    return tuple(out)


def _dots(text: str) -> bool:
    """Whether a word is punctuation alone: a number's dot read without its digit."""
    return not any(ch.isalnum() for ch in text) and text not in ("-", "+", "•", "*")


def _crosses(other: Box, left: int, right: int, box: Box) -> bool:
    """Whether ``other`` reaches into the zone ``left``..``right`` of the line in ``box``."""
    across = other.left < right and other.left + other.width > left
    return across and other.top < box.top + box.height and other.top + other.height > box.top


def _ink_left(image: np.ndarray, left: int, right: int, box: Box) -> int | None:
    """The left edge of the ink between ``left`` and ``right`` in the line's band, when
    there is enough of it for a number; else None."""
    if right - left < 4:
        return None
    zone = image[box.top : box.top + box.height, left:right]
    dark = zone < MARK_INK_LEVEL
    if dark.mean() < MIN_MARK_INK:
        return None
    columns = np.flatnonzero(dark.any(axis=0))
    return left + int(columns[0])


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
    timeout_s = time_left(timeout_s, "reading a line's numbers again")
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
