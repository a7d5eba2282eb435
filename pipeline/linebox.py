"""A line of OCR words as the text layer draws it: its words' x extents, box and baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.pagerecord import OcrWord
from pipeline.glyphless import DESCENT


@dataclass(frozen=True)
class LineBox:
    """One OCR line in cleaned-image pixels: words in reading order with their x extents."""

    words: tuple[tuple[str, float, float], ...]  # (text, left, right)
    top: float
    bottom: float
    paragraph: tuple[int, int] = (0, 0)  # Tesseract's (block, paragraph)
    # Where most of its letters stand: the median of its words' bottoms. The box's bottom
    # is its lowest word's, which a descender or a dot below (g, y, ị, ạ) pulls down by a
    # fifth of the line or not at all, so lines drawn from it moved against each other
    # with what they held, and pdftotext's joining of lines into blocks (baselines at most
    # 1.5 text sizes apart) came and went with a 3 % change of scan resolution.
    baseline: float | None = None

    @property
    def base(self) -> float:
        """The baseline to draw on: the words' own, or (no words' bottoms known) a fifth of
        the line's height above its box's bottom."""
        if self.baseline is not None:
            return self.baseline
        return self.bottom + DESCENT / 1000.0 * max(self.bottom - self.top, 1.0)


def lines_from_words(words: Sequence[OcrWord]) -> list[LineBox]:
    """Group consecutive words by their (block, paragraph, line) into lines."""
    lines: list[LineBox] = []
    current: list[OcrWord] = []

    def flush() -> None:
        if not current:
            return
        key = current[0].line_key
        lines.append(
            LineBox(
                words=tuple((w.text, float(w.left), float(w.left + w.width)) for w in current),
                top=float(min(w.top for w in current)),
                bottom=float(max(w.top + w.height for w in current)),
                paragraph=(key[0], key[1]),
                baseline=float(np.median([w.top + w.height for w in current])),
            )
        )

    for word in words:
        if current and word.line_key != current[0].line_key:
            flush()
            current = []
        current.append(word)
    flush()
    return lines
