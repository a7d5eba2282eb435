"""OCR: read a cleaned page with the engine its context names, keeping every word's box and
confidence."""

from __future__ import annotations

from dataclasses import dataclass

from models.pagerecord import OcrWord
from pipeline.clean import CleanedPage
from pipeline.context import PageContext
from pipeline.engines import engine_for
from pipeline.words import reading_text


@dataclass(frozen=True, eq=False)
class PageOcr:
    index: int
    words: tuple[OcrWord, ...]
    text: str  # lines joined with "\n", paragraphs with a blank line, NFC
    image_width: int  # of the cleaned image the boxes refer to
    image_height: int
    dpi: float

    @property
    def mean_confidence(self) -> float | None:
        if not self.words:
            return None
        return sum(w.confidence for w in self.words) / len(self.words)


def ocr_page(page: CleanedPage, context: PageContext, *, tell_dpi: bool = True) -> PageOcr:
    """Read ``page``; ``tell_dpi`` False lets the engine judge the letters' size itself."""
    height, width = page.image.shape[:2]
    if page.blank:
        return PageOcr(page.index, (), "", width, height, page.dpi)
    words = engine_for(context).read(
        page.image,
        dpi=page.dpi if tell_dpi else None,
        timeout_s=context.ocr_timeout_s,
        label=context.label,
    )
    return PageOcr(
        index=page.index,
        words=words,
        text=reading_text(words),
        image_width=width,
        image_height=height,
        dpi=page.dpi,
    )
