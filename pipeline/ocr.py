"""OCR: read a cleaned page with Tesseract, keeping every word's box and confidence."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

from models.pagerecord import OcrWord
from pipeline import tesseract
from pipeline.clean import CleanedPage
from pipeline.context import PageContext
from pipeline.formmarks import without_form_marks


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


def parse_tsv(tsv: str) -> tuple[tuple[OcrWord, ...], str]:
    words: list[OcrWord] = []
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        if row.get("level") != "5":
            continue
        text = without_form_marks(unicodedata.normalize("NFC", (row.get("text") or "").strip()))
        if not text:  # nothing read, or only a dot leader or a check box
            continue
        words.append(
            OcrWord(
                text=text,
                left=int(row["left"]),
                top=int(row["top"]),
                width=int(row["width"]),
                height=int(row["height"]),
                confidence=max(0.0, float(row["conf"])),
                block=int(row["block_num"]),
                paragraph=int(row["par_num"]),
                line=int(row["line_num"]),
            )
        )
    return tuple(words), _reading_text(words)


def _reading_text(words: list[OcrWord]) -> str:
    paragraphs: list[list[list[str]]] = []
    last_para: tuple[int, int] | None = None
    last_line: tuple[int, int, int] | None = None
    for word in words:
        para_key = (word.block, word.paragraph)
        line_key = (word.block, word.paragraph, word.line)
        if para_key != last_para:
            paragraphs.append([])
            last_para = para_key
            last_line = None
        if line_key != last_line:
            paragraphs[-1].append([])
            last_line = line_key
        paragraphs[-1][-1].append(word.text)
    return "\n\n".join("\n".join(" ".join(line) for line in para) for para in paragraphs)


def ocr_page(page: CleanedPage, context: PageContext, *, tell_dpi: bool = True) -> PageOcr:
    """Read ``page``; ``tell_dpi`` False lets Tesseract judge the letters' size itself."""
    height, width = page.image.shape[:2]
    if page.blank:
        return PageOcr(page.index, (), "", width, height, page.dpi)
    tsv = tesseract.recognise_tsv(
        page.image,
        lang=context.lang,
        dpi=page.dpi if tell_dpi else None,
        timeout_s=context.ocr_timeout_s,
        label=context.label,
    )
    words, text = parse_tsv(tsv)
    return PageOcr(
        index=page.index,
        words=words,
        text=text,
        image_width=width,
        image_height=height,
        dpi=page.dpi,
    )
