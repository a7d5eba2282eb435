"""Words in coloured ink: print stamped or typed in colour, or a pen's handwriting.

A form is printed in black and filled in by pen, most often blue; a letter is typed in black
and signed, sealed and sometimes stamped with its signer's title and name in red or blue;
a form may also be typed in colour (a table of residences, a name under the signature).
Cleanup fades coloured ink so that seals and signatures do not garble the print
(``clean.ocr_grey``), which also fades coloured print; and where the pen is pale (a phone
photo, 25-45 of chroma against a scan's 80-90) it is not faded, and its words are read into
the text. Neither belongs in the text layer as it stands: the printed text is what a
digitised copy is searched by (the truth of bench/real_vn and bench/forms.py leaves
handwriting out), and a pen's values go to their field's crop (pipeline/handwriting.py).

What tells the two apart is how the engine reads them: coloured print reads as surely as
black print, line after line; handwriting gives a run of words where some read at 0-60 and
others by luck at 90+. So, on a colour page:

* every word's ink colour is measured on the original (the median chroma of its darkest
  pixels), against the page's own print (most words), so a colour cast does not count;
* in each line, a run of consecutive coloured words is *print* when it reads surely as a
  whole (:func:`reads_as_print`); other coloured runs are dropped from the reading;
* coloured print the first reading lost (faded by cleanup) is taken from the untouched
  scan's reading, when the guard made one, where it overlaps no word already read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from models.pagerecord import OcrWord
from pipeline.words import lines_of

# A word's ink is coloured when its chroma (max - min channel, of 255) is this far above the
# page's print (the median word), and at least MIN_COLOURED_CHROMA: black print on a scan is
# 0-10, a JPEG's colour noise on thin strokes 10-15, a blue ballpoint photographed 25-45 and
# scanned 75-95, a red seal 80+.
COLOURED_ABOVE_PRINT = 15.0
MIN_COLOURED_CHROMA = 22.0
# A coloured run reads as print when every word reads at least this surely and the run on the
# whole this surely. Typed blue table cells and a stamped name read at 93-97 on bench/forms.py's
# scans and photos; a pen's runs hold words read at 0-60 among its lucky 90+.
PRINT_MIN_CONFIDENCE = 85.0
PRINT_MEAN_CONFIDENCE = 92.0
# A coloured word alone in its run says too little to be trusted as print unless read this
# surely and this long: a pen's single value reads at 70-96 ("Nữ", a phone number).
LONE_WORD_CONFIDENCE = 96.0
LONE_WORD_CHARS = 4
# A word's strokes: the darkest pixels of its box (a printed word's ink covers 15-30 % of it).
DARKEST_SHARE = 12.0
MIN_CONTRAST = 24  # of 255 between a box's paper and its darkest channel: below, no ink
# A coloured run of fewer characters is left as it was read: its colour is measured on a few
# dozen pixels, and a stray mark's removal can regroup the blocks text extraction reads round
# it (on a real notice, dropping "/" and "7" from a signature moved the signer's block into
# the middle of the "Nơi nhận" list: 1.6 points better became 1.9 worse than bare Tesseract).
MIN_JUDGED_CHARS = 3
# A recovered word overlapping a word already read by more than this share of the smaller
# box is the same word: not added twice.
SAME_WORD_OVERLAP = 0.3


@dataclass(frozen=True)
class ColourSorting:
    """What sorting by ink colour did to a page's reading."""

    threshold: float  # chroma above which a word's ink counted as coloured
    coloured_kept: int  # coloured words kept as print
    coloured_dropped: int  # coloured words dropped as handwriting, seal or signature
    recovered: int  # coloured print words taken from the untouched scan's reading

    @property
    def changed(self) -> bool:
        return bool(self.coloured_dropped or self.recovered)


def word_chromas(
    original: np.ndarray, to_original: np.ndarray, words: Sequence[OcrWord]
) -> list[float]:
    """Each word's ink colour in the colour ``original`` (``to_original`` maps the reading's
    pixels to the original's): the median chroma of its darkest strokes.

    Darkest by the brightest channel: black print is dark in every channel, coloured ink in
    some only, so where black print crosses a seal or a pen's stroke its own strokes are the
    ones measured, and a word in coloured ink alone is measured on that ink."""
    height, width = original.shape[:2]
    chromas: list[float] = []
    for word in words:
        left, top, right, bottom = _box_in(to_original, word, width, height)
        if right - left < 1 or bottom - top < 1:
            chromas.append(0.0)
            continue
        crop = original[top:bottom, left:right].reshape(-1, 3).astype(np.int16)
        high = crop.max(axis=1)
        low = crop.min(axis=1)
        paper = float(np.percentile(high, 90))
        darkest = float(np.percentile(high, DARKEST_SHARE))
        if paper - float(low.min()) < MIN_CONTRAST:
            chromas.append(0.0)  # no contrast: no ink to judge
            continue
        strokes = high <= darkest
        chromas.append(float(np.median(high[strokes] - low[strokes])))
    return chromas


def _box_in(
    transform: np.ndarray, word: OcrWord, width: int, height: int
) -> tuple[int, int, int, int]:
    corners = np.array(
        [
            [word.left, word.top, 1.0],
            [word.left + word.width, word.top, 1.0],
            [word.left, word.top + word.height, 1.0],
            [word.left + word.width, word.top + word.height, 1.0],
        ]
    ).T
    mapped = transform @ corners
    xs, ys = mapped[0] / mapped[2], mapped[1] / mapped[2]
    left, right = max(0, int(np.floor(xs.min()))), min(width, int(np.ceil(xs.max())))
    top, bottom = max(0, int(np.floor(ys.min()))), min(height, int(np.ceil(ys.max())))
    return left, top, right, bottom


def coloured_threshold(chromas: Sequence[float]) -> float:
    """The chroma above which a word's ink is coloured on this page: above its print."""
    typical = float(np.median(chromas)) if chromas else 0.0
    return max(MIN_COLOURED_CHROMA, typical + COLOURED_ABOVE_PRINT)


def reads_as_print(run: Sequence[OcrWord]) -> bool:
    """A run of coloured words read as surely as print is (see the module's doc)."""
    confidences = [w.confidence for w in run]
    if len(run) == 1:
        chars = len(run[0].text.strip(".,:;()"))
        return confidences[0] >= LONE_WORD_CONFIDENCE and chars >= LONE_WORD_CHARS
    mean = sum(confidences) / len(confidences)
    return min(confidences) >= PRINT_MIN_CONFIDENCE and mean >= PRINT_MEAN_CONFIDENCE


def too_small_to_judge(run: Sequence[OcrWord]) -> bool:
    return sum(len(w.text.strip()) for w in run) < MIN_JUDGED_CHARS


def coloured_runs(
    words: Sequence[OcrWord], coloured: Sequence[bool]
) -> list[tuple[list[OcrWord], bool]]:
    """The reading cut into runs, each with whether its words are coloured: within a line,
    consecutive words of the same kind."""
    is_coloured = {id(w): c for w, c in zip(words, coloured, strict=True)}
    runs: list[tuple[list[OcrWord], bool]] = []
    for line in lines_of(words):
        for word in line:
            kind = is_coloured[id(word)]
            if runs and runs[-1][1] == kind and runs[-1][0][-1].line_key == word.line_key:
                runs[-1][0].append(word)
            else:
                runs.append(([word], kind))
    return runs


def print_words(
    words: Sequence[OcrWord], chromas: Sequence[float], threshold: float
) -> tuple[list[OcrWord], list[OcrWord], int]:
    """(the words kept, the coloured print among them, how many coloured words dropped)."""
    kept: list[OcrWord] = []
    coloured_print: list[OcrWord] = []
    dropped = 0
    for run, coloured in coloured_runs(words, [c > threshold for c in chromas]):
        if not coloured:
            kept.extend(run)
        elif reads_as_print(run) or too_small_to_judge(run):
            kept.extend(run)
            coloured_print.extend(run)
        else:
            dropped += len(run)
    return kept, coloured_print, dropped


def sort_by_colour(
    words: Sequence[OcrWord],
    *,
    original: np.ndarray,
    to_original: np.ndarray,
    untouched: Sequence[OcrWord] = (),
    to_reading: np.ndarray | None = None,
) -> tuple[list[OcrWord], ColourSorting]:
    """The reading ``words`` with coloured ink sorted: coloured runs that do not read as
    print dropped, and coloured print from the ``untouched`` scan's reading (in the
    original's pixels; ``to_reading`` maps them to the reading's) added where nothing was
    read. ``original`` is the colour page (BGR)."""
    chromas = word_chromas(original, to_original, words)
    threshold = coloured_threshold(chromas)
    kept, coloured_print, dropped = print_words(words, chromas, threshold)
    recovered: list[OcrWord] = []
    if untouched and to_reading is not None:
        untouched_chromas = word_chromas(original, np.eye(3), untouched)
        _, found, _ = print_words(untouched, untouched_chromas, threshold)
        recovered = _not_read_yet(found, kept, to_reading, original.shape[:2])
    sorting = ColourSorting(threshold, len(coloured_print), dropped, len(recovered))
    if recovered:
        kept = _insert_lines(kept, recovered)
    return kept, sorting


def _not_read_yet(
    found: Sequence[OcrWord],
    read: Sequence[OcrWord],
    to_reading: np.ndarray,
    original_shape: tuple[int, ...],
) -> list[OcrWord]:
    """``found`` (original's pixels) moved into the reading's pixels, without those that
    overlap a word of ``read``."""
    big = 1 << 30
    boxes = [(w.left, w.top, w.left + w.width, w.top + w.height) for w in read]
    out: list[OcrWord] = []
    for word in found:
        left, top, right, bottom = _box_in(to_reading, word, big, big)
        area = max(1, (right - left) * (bottom - top))
        if any(
            _overlap((left, top, right, bottom), box)
            > SAME_WORD_OVERLAP * min(area, max(1, (box[2] - box[0]) * (box[3] - box[1])))
            for box in boxes
        ):
            continue
        out.append(replace(word, left=left, top=top, width=right - left, height=bottom - top))
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)


def _insert_lines(words: list[OcrWord], added: list[OcrWord]) -> list[OcrWord]:
    """``added`` words, their lines numbered as new blocks, placed among ``words``' lines by
    height on the page (each before the first line whose middle lies below its own)."""
    next_block = max((w.block for w in words), default=0) + 1
    new_lines: list[list[OcrWord]] = []
    for line in lines_of(added):
        new_lines.append([replace(w, block=next_block, paragraph=1, line=1) for w in line])
        next_block += 1
    lines = lines_of(words)

    def middle(line: Sequence[OcrWord]) -> float:
        return sum(w.top + w.height / 2 for w in line) / len(line)

    merged: list[list[OcrWord]] = []
    pending = sorted(new_lines, key=middle)
    for line in lines:
        while pending and middle(pending[0]) < middle(line):
            merged.append(pending.pop(0))
        merged.append(line)
    merged.extend(pending)
    return [w for line in merged for w in line]
