"""The OCR-engine seam: an image in, lines of words with boxes and confidences out.

Two engines sit behind it: Tesseract (layout and reading order, words with boxes) and the
neural line reader (better letters on degraded or stamped lines, but no layout of its own:
it reads one line, or the lines another engine found). The page pipeline combines them in
:mod:`pipeline.second_reader`; the bench compares them through this one protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from models.pagerecord import OcrWord
from pipeline import tesseract
from pipeline.linereader import LineReader, LineReading
from pipeline.ocr import parse_tsv


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

    @staticmethod
    def around(boxes: list[Box]) -> Box:
        left = min(b.left for b in boxes)
        top = min(b.top for b in boxes)
        right = max(b.left + b.width for b in boxes)
        bottom = max(b.top + b.height for b in boxes)
        return Box(left, top, right - left, bottom - top)


@dataclass(frozen=True)
class EngineWord:
    text: str  # NFC
    box: Box  # pixels of the image the engine was given
    confidence: float  # 0-100


@dataclass(frozen=True)
class EngineLine:
    words: tuple[EngineWord, ...]
    box: Box
    confidence: float  # 0-100, the mean of its words'

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


class OcrEngine(Protocol):
    name: str

    def read(self, image: np.ndarray, *, dpi: float | None, label: str) -> tuple[EngineLine, ...]:
        """Read a cleaned grey page (or one line); lines in reading order."""
        ...


def lines_of(words: tuple[OcrWord, ...]) -> list[list[OcrWord]]:
    """Tesseract's words grouped into its lines, in its reading order."""
    lines: list[list[OcrWord]] = []
    last: tuple[int, int, int] | None = None
    for word in words:
        key = (word.block, word.paragraph, word.line)
        if key != last:
            lines.append([])
            last = key
        lines[-1].append(word)
    return lines


class TesseractEngine:
    name = "tesseract"

    def __init__(self, *, lang: str, timeout_s: float = 180.0, psm: int = 3) -> None:
        self.lang, self.timeout_s, self.psm = lang, timeout_s, psm

    def read(self, image: np.ndarray, *, dpi: float | None, label: str) -> tuple[EngineLine, ...]:
        tsv = tesseract.recognise_tsv(
            image, lang=self.lang, dpi=dpi, psm=self.psm, timeout_s=self.timeout_s, label=label
        )
        words, _text = parse_tsv(tsv)
        return tuple(_engine_line(line) for line in lines_of(words))


def _engine_line(words: list[OcrWord]) -> EngineLine:
    engine_words = tuple(
        EngineWord(w.text, Box(w.left, w.top, w.width, w.height), w.confidence) for w in words
    )
    return EngineLine(
        words=engine_words,
        box=Box.around([w.box for w in engine_words]),
        confidence=sum(w.confidence for w in engine_words) / len(engine_words),
    )


# Room kept around a line box when cutting it out: Tesseract's word boxes hug the letters,
# and the recogniser misreads diacritics and descenders cut at the edge.
CROP_MARGIN_Y = 0.25  # of the line's height, above and below
CROP_MARGIN_X = 0.3  # of the line's height, left and right


def line_crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The part of ``image`` holding the line in ``box``, with a margin."""
    my = round(box.height * CROP_MARGIN_Y)
    mx = round(box.height * CROP_MARGIN_X)
    height, width = image.shape[:2]
    top, bottom = max(0, box.top - my), min(height, box.top + box.height + my)
    left, right = max(0, box.left - mx), min(width, box.left + box.width + mx)
    return image[top:bottom, left:right]


def spread_words(reading: LineReading, box: Box) -> tuple[EngineWord, ...]:
    """The words of a line reading laid over the line's box, each as wide as its share of
    the line's characters (the reader gives no boxes; the text layer needs some)."""
    texts = reading.text.split()
    if not texts:
        return ()
    total = len(reading.text)
    words: list[EngineWord] = []
    start = 0
    for text in texts:
        start = reading.text.index(text, start)
        left = box.left + round(box.width * start / total)
        right = box.left + round(box.width * (start + len(text)) / total)
        words.append(
            EngineWord(
                text,
                Box(left, box.top, max(1, right - left), box.height),
                100.0 * reading.confidence,
            )
        )
        start += len(text)
    return tuple(words)


class NeuralEngine:
    """The neural line reader behind the seam: the whole image as one line or, given a
    ``layout`` engine, each line that engine found."""

    name = "neural"

    def __init__(self, reader: LineReader, *, layout: OcrEngine | None = None) -> None:
        self.reader, self.layout = reader, layout

    def read(self, image: np.ndarray, *, dpi: float | None, label: str) -> tuple[EngineLine, ...]:
        height, width = image.shape[:2]
        boxes = (
            [line.box for line in self.layout.read(image, dpi=dpi, label=label)]
            if self.layout is not None
            else [Box(0, 0, width, height)]
        )
        lines: list[EngineLine] = []
        for box in boxes:
            crop = image if self.layout is None else line_crop(image, box)
            reading = self.reader.read_line(crop)
            words = spread_words(reading, box)
            if words:
                lines.append(EngineLine(words, box, 100.0 * reading.confidence))
        return tuple(lines)
