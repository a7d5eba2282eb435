"""Side-by-side blocks the page reading ran together, read again each on its own side.

The foot of an official letter holds two blocks side by side: the "Nơi nhận:" list in small
type on the left, the signer's title in bold capitals on the right, a seal and a signature
over it. Their lines do not line up, and Tesseract's page layout can still take them for one
column: each of its lines then runs across the gap, and the small type, cut at the heights
of the big one, reads as nonsense ("Nơi nhận: / - Hiệu trưởng (để b/c); / - Website;" came
out as "ĐI ng / ng 4" on a real notice, and bare Tesseract lost them too).

Such lines are found from the reading alone: consecutive lines with a gap wider than a few
of their letters' heights at the same place, read unsurely. The part of the page left of
the gap and the part right of it are read again, each alone; the new words replace every
old word on those parts when they are read clearly more surely, the left side first (a
letter's foot is read list first, then the signer).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from models.pagerecord import OcrWord
from pipeline.engines import OcrEngine
from pipeline.regions import (
    Region,
    as_block,
    mean_confidence,
    put_in_place,
    read_region,
    sure_text,
)
from pipeline.words import lines_of

GAP_HEIGHTS = 2.5  # a gap this many letter heights wide splits a line in two sides
MIN_LINES = 2  # lines in a row split at one gap: one line alone is a form's row
UNSURE_CONFIDENCE = 80.0  # the split lines' words read under this on average
MIN_CONFIDENCE_GAIN = 10.0  # a side read alone must read this much more surely
# ... and hold this much more surely read text (characters weighed by confidence): what
# the lines across the gap lost. A side read well already ("Kính gửi" beside a receiving
# stamp) reads alone much as it did, and is left as read: its block moved is all it gains.
MIN_TEXT_GAIN = 1.25
SURE_CONFIDENCE = 85.0  # ... and this surely at least: a stamp's handwriting is no better alone
PAD_HEIGHTS = 0.5  # paper round a side read again, in letter heights


@dataclass(frozen=True)
class Split:
    """A line of the reading cut at its widest gap."""

    words: list[OcrWord]
    left_end: int  # right edge of the last word before the gap
    right_start: int  # left edge of the first word after it
    height: int  # its letters' height (the median word's)


def _split(line: list[OcrWord]) -> Split | None:
    if len(line) < 2:
        return None
    height = int(np.median([w.height for w in line]))
    ordered = sorted(line, key=lambda w: w.left)
    gaps = [(b.left - (a.left + a.width), a, b) for a, b in pairwise(ordered)]
    gap, before, after = max(gaps, key=lambda g: g[0])
    if gap < GAP_HEIGHTS * max(height, 1):
        return None
    return Split(line, before.left + before.width, after.left, height)


def _runs(words: tuple[OcrWord, ...]) -> list[list[Split]]:
    """Consecutive split lines whose gaps overlap: one pair of sides each."""
    runs: list[list[Split]] = []
    current: list[Split] = []
    for line in lines_of(words):
        split = _split(line)
        joins = (
            split is not None
            and current
            and max(s.left_end for s in current) < split.right_start
            and split.left_end < min(s.right_start for s in current)
        )
        if joins:
            assert split is not None
            current.append(split)
            continue
        if len(current) >= MIN_LINES:
            runs.append(current)
        current = [split] if split is not None else []
    if len(current) >= MIN_LINES:
        runs.append(current)
    return runs


def read_sides_apart(
    words: tuple[OcrWord, ...],
    image: np.ndarray,
    engine: OcrEngine,
    *,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> tuple[OcrWord, ...]:
    """``words`` with each run of lines read unsurely across a gap read again side by side."""
    for run in _runs(words):
        run_words = [w for split in run for w in split.words]
        if mean_confidence(run_words) >= UNSURE_CONFIDENCE:
            continue
        words = _read_run_again(words, run, run_words, image, engine, dpi, timeout_s, label)
    return words


def _read_run_again(
    words: tuple[OcrWord, ...],
    run: list[Split],
    run_words: list[OcrWord],
    image: np.ndarray,
    engine: OcrEngine,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> tuple[OcrWord, ...]:
    pad = round(PAD_HEIGHTS * max(s.height for s in run))
    top = max(0, min(w.top for w in run_words) - pad)
    bottom = min(image.shape[0], max(w.top + w.height for w in run_words) + pad)
    gutter = (max(s.left_end for s in run) + min(s.right_start for s in run)) // 2
    left = max(0, min(w.left for w in run_words) - pad)
    right = min(image.shape[1], max(w.left + w.width for w in run_words) + pad)
    sides = (Region(left, top, gutter, bottom), Region(gutter, top, right, bottom))
    next_block = max(w.block for w in words) + 1
    taken: set[int] = set()
    new: list[OcrWord] = []
    for number, side in enumerate(sides):
        old = [w for w in words if side.holds(w)]
        found = read_region(side, image, engine, pad=pad, dpi=dpi, timeout_s=timeout_s, label=label)
        sure = mean_confidence(found) >= SURE_CONFIDENCE
        surer = mean_confidence(found) >= mean_confidence(old) + MIN_CONFIDENCE_GAIN
        recovers = sure_text(found) >= MIN_TEXT_GAIN * sure_text(old)
        if not (found and sure and surer and recovers):
            continue  # this side keeps its first reading
        new.extend(as_block(found, next_block + number))
        taken.update(id(w) for w in old)
    return put_in_place(words, taken, new) if new else words
