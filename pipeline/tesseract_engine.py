"""Tesseract behind the OCR-engine seam: layout, reading order and words with boxes.

:mod:`pipeline.tesseract` stays the one wrapper of the tesseract program (in process or as
a subprocess); this engine asks it for a page or one line and turns its TSV into words.
"""

from __future__ import annotations

import csv
import io
import unicodedata

import numpy as np

from models.pagerecord import OcrWord
from pipeline import tesseract
from pipeline.context import PageContext
from pipeline.formmarks import without_form_marks
from pipeline.words import reading_text

LINE_PSM = 7  # the image is one line of text


def parse_tsv(tsv: str) -> tuple[tuple[OcrWord, ...], str]:
    """Tesseract's TSV: its words (NFC; empty ones, dot leaders and check boxes dropped)
    and their reading text."""
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
    return tuple(words), reading_text(words)


class TesseractEngine:
    name = "tesseract"

    def __init__(self, *, lang: str) -> None:
        self.lang = lang

    @classmethod
    def for_page(cls, context: PageContext) -> TesseractEngine:
        return cls(lang=context.lang)

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        tsv = tesseract.recognise_tsv(
            image,
            lang=self.lang,
            dpi=dpi,
            psm=LINE_PSM if one_line else tesseract.PAGE_PSM,
            timeout_s=timeout_s,
            label=label,
        )
        return parse_tsv(tsv)[0]

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return tesseract.detect_rotation(image, timeout_s=timeout_s)
