"""Tesseract's reading, mended line by line by the neural reader where Tesseract is weak.

Tesseract keeps the layout and the reading order; the neural reader (``pipeline.linereader``)
re-reads only the lines Tesseract reads with little confidence, or every line of a page the
caller judges hard (a seal over the text, a badly degraded scan). Per line, the reading with
more valid Vietnamese syllables wins, the engines' confidences breaking ties; where the neural
text wins it is laid over the line's box (Tesseract's own word boxes when the word count
agrees), so the text layer keeps boxes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from pipeline.clean import COLOURED_CHROMA, MIN_COLOURED_SHARE
from pipeline.linereader import LineReader, LineReading, NeuralLineReader, shared_reader
from pipeline.neural_engine import neural_words
from pipeline.ocr import OcrWord, PageOcr
from pipeline.vietnamese import load_syllables, syllable_key, words_of
from pipeline.weights import ModelFileMissingError
from pipeline.words import Box, line_crop, lines_of, reading_text

# A line is re-read when its mean word confidence is under LOW_LINE_CONFIDENCE or any of its
# words is under LOW_WORD_CONFIDENCE (Tesseract 0-100). Calibrated on bench/second_reader.py.
LOW_LINE_CONFIDENCE = 88.0
LOW_WORD_CONFIDENCE = 60.0
# A neural reading much shorter or longer than Tesseract's of the same box read something
# else (two lines in one box, a picture): it never wins.
MAX_LENGTH_RATIO = 1.6


@dataclass(frozen=True)
class LineChoice:
    tesseract: str
    neural: str
    neural_won: bool


@dataclass(frozen=True)
class MendedReading:
    ocr: PageOcr
    lines_read: int  # lines the neural reader read
    lines_replaced: int  # of which its reading won
    choices: tuple[LineChoice, ...]


def doubtful_line(words: list[OcrWord]) -> bool:
    mean = sum(w.confidence for w in words) / len(words)
    return mean < LOW_LINE_CONFIDENCE or min(w.confidence for w in words) < LOW_WORD_CONFIDENCE


def reading_score(text: str, syllables: frozenset[tuple[str, int]]) -> float:
    """Valid syllables minus half the words that are none (0 without a syllable list)."""
    if not syllables:
        return 0.0
    words = words_of(text)
    valid = sum(1 for word in words if syllable_key(word) in syllables)
    return valid - 0.5 * (len(words) - valid)


def neural_wins(
    tesseract_text: str,
    tesseract_confidence: float,
    neural: LineReading,
    syllables: frozenset[tuple[str, int]],
    *,
    tie_below: float = 100.0,
) -> bool:
    """Does the neural reading of a line beat Tesseract's? Confidences are 0-100 / 0-1.

    When both readings are equally good Vietnamese, the neural one wins only if Tesseract's
    confidence is under ``tie_below`` and the neural reader is surer: its own language sense
    swaps tones ("Đồng" for "Đông") as readily as it mends them.
    """
    if not neural.text:
        return False
    shorter, longer = sorted((len(neural.text), len(tesseract_text)))
    if longer > MAX_LENGTH_RATIO * max(1, shorter):
        return False
    ours, theirs = reading_score(neural.text, syllables), reading_score(tesseract_text, syllables)
    if ours != theirs:
        return ours > theirs
    return tesseract_confidence < tie_below and 100.0 * neural.confidence > tesseract_confidence


def mend_reading(
    reading: PageOcr,
    image: np.ndarray,
    reader: LineReader,
    *,
    every_line: bool,
    judge_syllables: bool = True,
    always_neural: bool = False,
    also: Callable[[Box], bool] | None = None,
    tie_below: float = 100.0,
) -> MendedReading:
    """``reading`` (Tesseract's, of ``image``) with its weak lines re-read by ``reader``.

    ``always_neural`` keeps the neural text wherever it read anything (the bench's "neural
    reader alone", on Tesseract's line boxes). ``also`` picks further lines by their box
    (those under a seal)."""
    syllables = load_syllables() if judge_syllables else frozenset()
    words: list[OcrWord] = []
    choices: list[LineChoice] = []
    for line in lines_of(reading.words):
        box = Box.of_words(line)
        if not (every_line or doubtful_line(line) or (also is not None and also(box))):
            words.extend(line)
            continue
        neural = reader.read_line(line_crop(image, box))
        tesseract_text = " ".join(w.text for w in line)
        confidence = sum(w.confidence for w in line) / len(line)
        won = (
            bool(neural.text)
            if always_neural
            else neural_wins(tesseract_text, confidence, neural, syllables, tie_below=tie_below)
        )
        choices.append(LineChoice(tesseract_text, neural.text, won))
        words.extend(neural_words(line, neural, box) if won else line)
    if not any(choice.neural_won for choice in choices):
        return MendedReading(reading, len(choices), 0, tuple(choices))
    mended = replace(reading, words=tuple(words), text=reading_text(words))
    replaced = sum(1 for choice in choices if choice.neural_won)
    return MendedReading(mended, len(choices), replaced, tuple(choices))


_log = logging.getLogger(__name__)
_missing_warned = threading.Event()


def available_reader(models_dir: Path | None) -> NeuralLineReader | None:
    """The shared neural reader, or None (warned once) when its model files are not there.

    A file that is there but fails its hash check is an error, never silently skipped."""
    try:
        return shared_reader(models_dir)
    except ModelFileMissingError as missing:
        if not _missing_warned.is_set():
            _missing_warned.set()
            _log.warning("second reader off, pages are read by Tesseract alone: %s", missing)
        return None


# The coloured-ink map is made at a quarter of the scan's size: enough to tell which lines a
# seal or signature crosses, and 16 times cheaper. Downscaling dilutes thin strokes' colour,
# hence the lower threshold.
INK_MAP_FACTOR = 0.25
SMALL_COLOURED_CHROMA = COLOURED_CHROMA // 2
MIN_INK_MAP_PIXELS = 4  # coloured pixels in a line's box (on the map) for it to count


def coloured_ink_test(
    original: np.ndarray, to_cleaned: np.ndarray, cleaned_shape: tuple[int, int]
) -> Callable[[Box], bool] | None:
    """A test telling whether coloured ink (a seal, a signature) crosses a line box of the
    cleaned image; None when the scan has no coloured ink to speak of."""
    if original.ndim != 3:
        return None
    f = INK_MAP_FACTOR
    small = cv2.resize(original, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    blue, green, red = cv2.split(small)
    chroma = cv2.subtract(cv2.max(cv2.max(blue, green), red), cv2.min(cv2.min(blue, green), red))
    _, coloured = cv2.threshold(chroma, SMALL_COLOURED_CHROMA, 255, cv2.THRESH_BINARY)
    if cv2.countNonZero(coloured) < MIN_COLOURED_SHARE * coloured.size:
        return None
    scale = np.diag([f, f, 1.0])
    to_map = scale @ to_cleaned @ np.linalg.inv(scale)
    height, width = cleaned_shape
    size = (max(1, round(width * f)), max(1, round(height * f)))
    ink = cv2.warpPerspective(coloured, to_map, size, flags=cv2.INTER_NEAREST)

    def crosses(box: Box) -> bool:
        top, left = int(box.top * f), int(box.left * f)
        bottom = int(np.ceil((box.top + box.height) * f))
        right = int(np.ceil((box.left + box.width) * f))
        return cv2.countNonZero(ink[top:bottom, left:right]) >= MIN_INK_MAP_PIXELS

    return crosses
