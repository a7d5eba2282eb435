"""The OCR-engine seam: the one way a page is read and told which way up it stands.

An engine reads a grey image (a page, or one line) into words in reading order, each with
its box in the image's pixels, a confidence (0-100) and the block/paragraph/line numbers
the page record and the text layer group words by (:mod:`pipeline.words`). It also says
how far a page is turned from upright, when it can tell.

The engine a page is read with is named in its :class:`~pipeline.context.PageContext`
(``ocr_engine``) and made for that page from the registry below. Adding an engine is one
new file with a class that has ``read`` and ``orient``, plus its line in ``ENGINES`` (and
the import beside it), or one :func:`register_engine` call, as the tests' known-text engine
(tests/known_text_engine.py) is added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from models.errors import OcrEngineError
from models.pagerecord import OcrWord
from pipeline.context import PageContext
from pipeline.neural_engine import NeuralEngine
from pipeline.tesseract_engine import TesseractEngine


class OcrEngine(Protocol):
    name: str

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        """The words of a grey image in reading order; ``one_line``: the image is one line.

        ``dpi`` None lets the engine judge the letters' size itself; ``label`` names the
        page in errors; an engine that runs past ``timeout_s`` raises OcrTimeoutError."""
        ...

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        """(clockwise degrees that turn ``image`` upright, confidence), or None when the
        engine cannot tell (too little text). The confidence is Tesseract OSD's scale."""
        ...


EngineFactory = Callable[[PageContext], OcrEngine]

# Each engine by the name a page context gives, made for the page (its language, its
# model files) when the page is read.
ENGINES: dict[str, EngineFactory] = {
    "tesseract": TesseractEngine.for_page,
    "neural": NeuralEngine.for_page,
}


def register_engine(name: str, factory: EngineFactory) -> None:
    ENGINES[name] = factory


def engine_for(context: PageContext) -> OcrEngine:
    """The engine ``context`` names, made for its page."""
    factory = ENGINES.get(context.ocr_engine)
    if factory is None:
        known = ", ".join(sorted(ENGINES))
        # SOHOA_OCR_ENGINE is read as any text: a wrong name fails the page in words.
        raise OcrEngineError(f"no OCR engine named {context.ocr_engine!r} (known: {known})")
    return factory(context)
