"""A reading's words, whichever engine read them: grouped into lines, joined into the page's
text, and the box of a line cut out of the image it was read from.

Every engine behind :mod:`pipeline.engines` returns :class:`~models.pagerecord.OcrWord`
in reading order, numbered by block, paragraph and line as Tesseract numbers them; this
module is what the rest of the pipeline knows about that structure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.pagerecord import OcrWord


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

    @staticmethod
    def around(boxes: Sequence[Box]) -> Box:
        left = min(b.left for b in boxes)
        top = min(b.top for b in boxes)
        right = max(b.left + b.width for b in boxes)
        bottom = max(b.top + b.height for b in boxes)
        return Box(left, top, right - left, bottom - top)

    @staticmethod
    def of_words(words: Sequence[OcrWord]) -> Box:
        return Box.around([Box(w.left, w.top, w.width, w.height) for w in words])


def lines_of(words: Sequence[OcrWord]) -> list[list[OcrWord]]:
    """The words grouped into their lines, in reading order."""
    lines: list[list[OcrWord]] = []
    last: tuple[int, int, int] | None = None
    for word in words:
        if word.line_key != last:
            lines.append([])
            last = word.line_key
        lines[-1].append(word)
    return lines


def reading_text(words: Sequence[OcrWord]) -> str:
    """The page's text: words joined by spaces, lines by "\\n", paragraphs by a blank line."""
    paragraphs: list[list[list[str]]] = []
    last_para: tuple[int, int] | None = None
    last_line: tuple[int, int, int] | None = None
    for word in words:
        para_key = (word.block, word.paragraph)
        if para_key != last_para:
            paragraphs.append([])
            last_para = para_key
            last_line = None
        if word.line_key != last_line:
            paragraphs[-1].append([])
            last_line = word.line_key
        paragraphs[-1][-1].append(word.text)
    return "\n\n".join("\n".join(" ".join(line) for line in para) for para in paragraphs)


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
