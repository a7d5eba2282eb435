"""The small frozen object every page stage receives alongside its input."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config.catalogue import Catalogue, load_catalogue


@dataclass(frozen=True)
class PageContext:
    source_name: str  # what the user calls the file: used in every error message
    page_index: int  # 0-based
    lang: str = "vie"
    ocr_engine: str = "tesseract"  # a name in pipeline.engines.ENGINES
    ocr_dpi: int = 300
    ocr_timeout_s: float = 180.0
    max_page_pixels: int = 200_000_000
    default_dpi: float = 300.0
    refuse_low_dpi: bool = False  # under the legal 200 dpi: refuse instead of warning
    # Grey or black-and-white scans where colour is required: warned about, or refused.
    colour_required: bool = True
    refuse_non_colour: bool = False
    # The neural second reader on doubtful lines (pipeline/second_reader.py), and where its
    # model files are (None: pipeline.weights.default_models_dir()).
    second_reader: bool = False
    models_dir: Path | None = None
    catalogue: Catalogue = field(default_factory=load_catalogue, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.source_name} page {self.page_index + 1}"
