"""The neural line reader behind the OCR-engine seam, as far as its nature allows.

The reader (:mod:`pipeline.linereader`) reads one line of text and gives no boxes and no
layout. So this engine reads a page through a ``layout`` engine (Tesseract): every line
that engine found is cut out and read again, and the words take that engine's boxes and
block/paragraph/line numbers. A one-line image it reads alone. Which way a page stands is
the layout engine's to say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from models.pagerecord import OcrWord
from pipeline.context import PageContext
from pipeline.linereader import LineReader, LineReading, shared_reader
from pipeline.tesseract_engine import TesseractEngine
from pipeline.words import Box, line_crop, lines_of

if TYPE_CHECKING:  # the seam imports this engine to register it
    from pipeline.engines import OcrEngine


def spread_words(reading: LineReading, box: Box, like: OcrWord) -> list[OcrWord]:
    """The words of a line reading laid over the line's box, each as wide as its share of
    the line's characters (the reader gives no boxes; the text layer needs some), numbered
    as the word ``like``."""
    texts = reading.text.split()
    total = len(reading.text)
    words: list[OcrWord] = []
    start = 0
    for text in texts:
        start = reading.text.index(text, start)
        left = box.left + round(box.width * start / total)
        right = box.left + round(box.width * (start + len(text)) / total)
        words.append(
            replace(
                like,
                text=text,
                left=left,
                top=box.top,
                width=max(1, right - left),
                height=box.height,
                confidence=100.0 * reading.confidence,
            )
        )
        start += len(text)
    return words


def neural_words(line: Sequence[OcrWord], reading: LineReading, box: Box) -> list[OcrWord]:
    """The neural reading of a line another engine read as ``line`` (whose box is ``box``)."""
    texts = reading.text.split()
    confidence = 100.0 * reading.confidence
    if len(texts) == len(line):
        # Same word count: the layout engine's boxes, which hug each word, with the new text.
        return [
            replace(w, text=text, confidence=confidence)
            for w, text in zip(line, texts, strict=True)
        ]
    return spread_words(reading, box, like=line[0])


class NeuralEngine:
    name = "neural"

    def __init__(self, reader: LineReader, *, layout: OcrEngine) -> None:
        self.reader, self.layout = reader, layout

    @classmethod
    def for_page(cls, context: PageContext) -> NeuralEngine:
        """The shared reader (its model files must be there) over Tesseract's lines."""
        return cls(shared_reader(context.models_dir), layout=TesseractEngine.for_page(context))

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        if one_line:
            height, width = image.shape[:2]
            whole = OcrWord("", 0, 0, width, height, 0.0, block=1, paragraph=1, line=1)
            reading = self.reader.read_line(image)
            return tuple(spread_words(reading, Box(0, 0, width, height), like=whole))
        words: list[OcrWord] = []
        found = self.layout.read(image, dpi=dpi, timeout_s=timeout_s, label=label)
        for line in lines_of(found):
            box = Box.of_words(line)
            words.extend(neural_words(line, self.reader.read_line(line_crop(image, box)), box))
        return tuple(words)

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return self.layout.orient(image, timeout_s=timeout_s)
