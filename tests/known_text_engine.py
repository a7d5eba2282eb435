"""An OCR engine for fast tests: it "reads" a text the test gave it, in no time.

It lives in tests/, not pipeline/: registered only by the tests that use it, so no setting
in production can name it and give pages a made-up text. It shows what an engine is: one
file with ``read`` and ``orient``, and one line registering it
(``register_engine(KnownTextEngine.name, KnownTextEngine.for_page)``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from models.pagerecord import OcrWord
from pipeline.context import PageContext

CONFIDENCE = 95.0


class KnownTextEngine:
    name = "known-text"
    # The text of each page, by (source name, page index): a blank line starts a paragraph.
    texts: ClassVar[dict[tuple[str, int], str]] = {}

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def for_page(cls, context: PageContext) -> KnownTextEngine:
        return cls(cls.texts.get((context.source_name, context.page_index), ""))

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        """The text's words on a grid over the image: a row per line, a column per
        character, so boxes stay inside the image and in reading order."""
        lines = [" ".join(self.text.split())] if one_line else self.text.split("\n")
        height, width = image.shape[:2]
        row = max(1, height // (len(lines) + 2))
        column = max(1, width // (max((len(line) for line in lines), default=0) + 2))
        words: list[OcrWord] = []
        paragraph, line_number = 1, 0
        for y, line in enumerate(lines, start=1):
            if not line.strip():
                paragraph += 1
                continue
            line_number += 1
            start = 0
            for text in line.split():
                start = line.index(text, start)
                words.append(
                    OcrWord(
                        text=text,
                        left=column * (1 + start),
                        top=row * y,
                        width=column * len(text),
                        height=row,
                        confidence=CONFIDENCE,
                        block=1,
                        paragraph=paragraph,
                        line=line_number,
                    )
                )
                start += len(text)
        return tuple(words)

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return None  # it cannot tell: the page's own ink decides which way is up
