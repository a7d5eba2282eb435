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

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from models.pagerecord import OcrWord
from pipeline.clean import MIN_COLOURED_SHARE, TINTED_CHROMA, brightest_and_chroma
from pipeline.vietnamese import load_syllables, plausible_print_word
from pipeline.words import lines_of, reading_text

if TYPE_CHECKING:  # the step is run by pipeline.page, which imports this module
    from pipeline.page import PageJob

_log = logging.getLogger(__name__)

# A word's ink is coloured when its chroma (max - min channel, of 255) is this far above the
# page's print (the median word), and at least MIN_COLOURED_CHROMA: black print on a scan is
# 0-10, a JPEG's colour noise on thin strokes 10-15, a blue ballpoint photographed 25-45 and
# scanned 75-95, a red seal 80+.
COLOURED_ABOVE_PRINT = 15.0
MIN_COLOURED_CHROMA = float(TINTED_CHROMA)
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
# A coloured run that does not read surely as a whole can still be print with a mark in it:
# a table's rule or a logo read as a word ("|03/1992" at 17 in a residence table typed in
# blue, "[HIẾU" at 0 for the "HLB" logo in "A member of HLB International"). It is print
# when most of its words read as surely as print and every one of those is a plausible
# printed word (pipeline/vietnamese.py); a pen's lucky 90+ readings mostly are not ("tñô",
# "t", "CÔng" among "Cẳn/ sá t giao tñô nợ CÔng an"). Of such a run the plausible words read
# at least MARKED_RUN_KEEP_CONFIDENCE are kept, the marks dropped.
MARKED_RUN_SURE_SHARE = 0.6
MARKED_RUN_MIN_SURE = 3
MARKED_RUN_KEEP_CONFIDENCE = 60.0
# A coloured run with fewer letters and digits is left as it was read: it holds no word to
# take out, its colour is measured on a few dozen pixels, and a stray mark's removal can
# regroup the blocks text extraction reads round it (on a real notice, dropping "/" and "7"
# from a signature moved the signer's block into the middle of the "Nơi nhận" list: 1.6
# points better became 1.9 worse than bare Tesseract; "&=:" on a handheld photo, 4 points).
MIN_JUDGED_CHARS = 3
MIN_JUDGED_LETTERS = 2  # letters and digits: a word has two at least, "&=:" none
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
    original: np.ndarray,
    to_original: np.ndarray,
    words: Sequence[OcrWord],
    *,
    brightest: np.ndarray | None = None,
) -> list[float]:
    """Each word's ink colour in the colour ``original`` (``to_original`` maps the reading's
    pixels to the original's): the median chroma of its darkest strokes.

    Darkest by the brightest channel: black print is dark in every channel, coloured ink in
    some only, so where black print crosses a seal or a pen's stroke its own strokes are the
    ones measured, and a word in coloured ink alone is measured on that ink. ``brightest``:
    the original's brightest channel, when the caller has it already."""
    height, width = original.shape[:2]
    high = brightest_and_chroma(original)[0] if brightest is None else brightest
    chromas: list[float] = []
    for word in words:
        left, top, right, bottom = _box_in(to_original, word, width, height)
        if right - left < 1 or bottom - top < 1:
            chromas.append(0.0)
            continue
        box_high = high[top:bottom, left:right].ravel()
        size = box_high.size
        darkest_at, paper_at = int(size * DARKEST_SHARE / 100), int(size * 0.9)
        ordered = np.partition(box_high, (darkest_at, paper_at))
        if int(ordered[paper_at]) - int(ordered[0]) < MIN_CONTRAST:
            chromas.append(0.0)  # no contrast: no ink to judge
            continue
        pixels = original[top:bottom, left:right].reshape(-1, 3)
        # The paper round the word, whatever the light's colour: its strokes are seen
        # against it (a warm lamp makes black print brown and white paper yellow alike).
        paper = pixels[box_high >= ordered[paper_at]].mean(axis=0) + 1.0
        strokes = pixels[box_high <= ordered[darkest_at]] * (255.0 / paper)
        chromas.append(float(np.median(strokes.max(axis=1) - strokes.min(axis=1))))
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


def print_within(run: Sequence[OcrWord]) -> list[OcrWord] | None:
    """The print of a coloured run with marks in it (see MARKED_RUN_SURE_SHARE), or None
    when the run is not print."""
    sure = [w for w in run if w.confidence >= PRINT_MIN_CONFIDENCE]
    if len(sure) < MARKED_RUN_MIN_SURE or len(sure) < MARKED_RUN_SURE_SHARE * len(run):
        return None
    if sum(w.confidence for w in sure) / len(sure) < PRINT_MEAN_CONFIDENCE:
        return None
    syllables = load_syllables()
    if not all(plausible_print_word(w.text, syllables) for w in sure):
        return None
    kept: list[OcrWord] = []
    marks_from: int | None = None  # the left edge of the marks dropped since the last word
    for word in run:
        if word.confidence < MARKED_RUN_KEEP_CONFIDENCE or not plausible_print_word(
            word.text, syllables
        ):
            marks_from = word.left if marks_from is None else marks_from
            continue
        if marks_from is not None and kept:
            # A mark inside the print (a logo in a footer's line) leaves no hole: the word
            # after it is laid from the mark's left edge. A hole wider than a gutter is
            # taken for one by the text layer, and the word was read as a block of its own
            # after the lines under it.
            word = replace(word, left=marks_from, width=word.left + word.width - marks_from)
        kept.append(word)
        marks_from = None
    return kept


def too_small_to_judge(run: Sequence[OcrWord]) -> bool:
    characters = sum(len(w.text.strip()) for w in run)
    letters = sum(char.isalnum() for w in run for char in w.text)
    return characters < MIN_JUDGED_CHARS or letters < MIN_JUDGED_LETTERS


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
        elif reads_as_print(run):
            kept.extend(run)
            coloured_print.extend(run)
        elif too_small_to_judge(run):
            kept.extend(run)  # left as read, and not taken as print from another reading
        elif (within := print_within(run)) is not None:
            kept.extend(within)
            coloured_print.extend(within)
            dropped += len(run) - len(within)
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
    high = brightest_and_chroma(original)[0]  # once, for both readings
    chromas = word_chromas(original, to_original, words, brightest=high)
    threshold = coloured_threshold(chromas)
    kept, coloured_print, dropped = print_words(words, chromas, threshold)
    recovered: list[OcrWord] = []
    if untouched and to_reading is not None:
        untouched_chromas = word_chromas(original, np.eye(3), untouched, brightest=high)
        _, found, _ = print_words(untouched, untouched_chromas, threshold)
        recovered = _not_read_yet(found, kept, to_reading)
    sorting = ColourSorting(threshold, len(coloured_print), dropped, len(recovered))
    if recovered:
        kept = _insert_lines(kept, recovered)
    return kept, sorting


def _not_read_yet(
    found: Sequence[OcrWord], read: Sequence[OcrWord], to_reading: np.ndarray
) -> list[OcrWord]:
    """``found`` (original's pixels) moved into the reading's pixels, without those that
    overlap a word of ``read``."""
    boxes = np.array(
        [(w.left, w.top, w.left + w.width, w.top + w.height) for w in read], dtype=np.int64
    ).reshape(-1, 4)
    areas = np.maximum(1, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    out: list[OcrWord] = []
    for word in found:
        left, top, right, bottom = _box_in(to_reading, word, 1 << 30, 1 << 30)
        across = np.minimum(boxes[:, 2], right) - np.maximum(boxes[:, 0], left)
        down = np.minimum(boxes[:, 3], bottom) - np.maximum(boxes[:, 1], top)
        shared = np.maximum(0, across) * np.maximum(0, down)
        smaller = np.minimum(areas, max(1, (right - left) * (bottom - top)))
        if np.any(shared > SAME_WORD_OVERLAP * smaller):
            continue
        out.append(replace(word, left=left, top=top, width=right - left, height=bottom - top))
    return out


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


class ColourInkStep:
    """On a colour page: coloured words that do not read as print (a pen's values, a seal,
    a signature) leave the reading, and coloured print cleanup faded is taken back from the
    untouched scan's reading (pipeline/inkcolour.py)."""

    name = "colour-ink"

    def able_to_run(self, job: PageJob) -> bool:
        if job.ocr is None or not job.ocr.words or job.cleaned is None or job.loaded is None:
            return False
        # A page without tinted ink (most scans of black print, colour or not) has nothing
        # to sort: its words' colours are not measured.
        tinted = job.cleaned.tinted_share >= MIN_COLOURED_SHARE
        return tinted and job.loaded.image.ndim == 3 and not job.cleaned.blank

    def run(self, job: PageJob) -> None:
        assert job.ocr is not None and job.cleaned is not None and job.loaded is not None
        to_cleaned = job.cleaned.to_cleaned
        untouched = job.untouched_ocr
        words, sorting = sort_by_colour(
            job.ocr.words,
            original=job.loaded.image,
            to_original=np.linalg.inv(to_cleaned),
            untouched=untouched.words if untouched is not None else (),
            to_reading=to_cleaned,
        )
        _log.info(
            "colour %s p%d: threshold %.0f, %d coloured words kept as print, %d dropped,"
            " %d recovered from the untouched scan",
            job.context.source_name,
            job.context.page_index + 1,
            sorting.threshold,
            sorting.coloured_kept,
            sorting.coloured_dropped,
            sorting.recovered,
        )
        if sorting.changed:
            job.ocr = replace(job.ocr, words=tuple(words), text=reading_text(words))
            job.text = job.ocr.text
