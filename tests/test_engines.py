"""The OCR-engine seam: pages are read and turned by the engine their context names.

The known-text engine (tests/known_text_engine.py) is a third engine added as the seam
means engines to be added: one file and the one registration line below. A page and a
whole dossier go through the real page stage with it, and Tesseract is never asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from config import Settings
from flows import archiving, steps
from flows.runtime import metadata_store, object_store
from models import BatchInfo, DossierStatus
from models.errors import OcrEngineError
from pipeline import clean, tesseract
from pipeline.context import PageContext
from pipeline.engines import ENGINES, engine_for, register_engine
from pipeline.extract import find_dossier_codes
from pipeline.load import inspect_source, load_page
from pipeline.page import process_page
from pipeline.tesseract_engine import TesseractEngine
from storage import keys
from tests import synth
from tests.known_text_engine import KnownTextEngine

register_engine(KnownTextEngine.name, KnownTextEngine.for_page)


@pytest.fixture
def tesseract_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call that reached the tesseract wrapper (each also fails, so none goes unseen)."""
    calls: list[str] = []

    def refuse(name: str) -> object:
        def called(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"tesseract.{name} was called")

        return called

    monkeypatch.setattr(tesseract, "recognise_tsv", refuse("recognise_tsv"))
    monkeypatch.setattr(tesseract, "detect_rotation", refuse("detect_rotation"))
    yield calls
    KnownTextEngine.texts.clear()


def test_the_context_names_the_engine() -> None:
    context = PageContext(source_name="a.png", page_index=0)
    assert context.ocr_engine == "tesseract"
    assert isinstance(engine_for(context), TesseractEngine)
    english = engine_for(replace(context, lang="eng"))
    assert isinstance(english, TesseractEngine) and english.lang == "eng"
    assert {"tesseract", "neural", "known-text"} <= set(ENGINES)
    with pytest.raises(OcrEngineError, match=r"no OCR engine named 'abbyy'.*known-text"):
        engine_for(replace(context, ocr_engine="abbyy"))


def test_a_page_is_read_by_the_named_engine_without_tesseract(
    tmp_path: Path, tesseract_calls: list[str]
) -> None:
    page = synth.render_page(synth.corpus_lines(6, seed=3), dpi=200, font_pt=12)
    path = tmp_path / "page.png"
    page.image.save(path, dpi=(200, 200))
    text = "\n".join(page.lines[:3]) + "\n\n" + "\n".join(page.lines[3:])
    KnownTextEngine.texts[(path.name, 0)] = text
    context = PageContext(source_name=path.name, page_index=0, ocr_engine="known-text")

    outcome = process_page(inspect_source(path), context, tmp_path / "work")

    record = outcome.record
    assert record.text == text and outcome.text_path.read_text(encoding="utf-8") == text
    assert [w.text for w in record.words] == text.split()
    assert record.mean_confidence == pytest.approx(95.0)
    assert {w.paragraph for w in record.words} == {1, 2}
    assert record.image_width is not None and record.image_height is not None
    assert all(
        w.left >= 0 and w.left + w.width <= record.image_width for w in record.words
    ) and all(w.top >= 0 and w.top + w.height <= record.image_height for w in record.words)
    assert tesseract_calls == []


def test_a_weakly_oriented_page_asks_the_named_engine(
    tmp_path: Path, tesseract_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up or down unclear from the ink: the page's engine is asked, not Tesseract's OSD."""
    asked: list[int] = []

    def orient(self: KnownTextEngine, image: np.ndarray, *, timeout_s: float) -> tuple[int, float]:
        asked.append(image.shape[0])
        return 180, 9.0

    monkeypatch.setattr(KnownTextEngine, "orient", orient)
    monkeypatch.setattr(clean, "detect_orientation", lambda mask: clean.Orientation(0, 0.0, 0.0))
    page = synth.render_page(synth.corpus_lines(4, seed=1), dpi=200, font_pt=12)
    path = tmp_path / "page.png"
    page.image.save(path, dpi=(200, 200))
    context = PageContext(source_name=path.name, page_index=0, ocr_engine="known-text")
    cleaned = clean.clean_page(load_page(inspect_source(path), context), context)
    assert len(asked) == 1 and cleaned.rotation == 180
    assert tesseract_calls == []


def test_a_dossier_goes_through_the_page_stage_without_tesseract(
    settings: Settings,
    samples_dir: Path,
    truth: list[str],
    tesseract_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Received, read page by page, split and archived, every page read by the known-text
    engine the settings name (SOHOA_OCR_ENGINE)."""
    settings = settings.model_copy(update={"ocr_engine": "known-text"})
    for index in range(2):
        KnownTextEngine.texts[("two-pages.tiff", index)] = truth[index]
    metadata_store(settings).create_batch(BatchInfo("b1", datetime.now(UTC), "vie", 1))
    source = steps.SourceRef(path=str(samples_dir / "two-pages.tiff"), name="two-pages.tiff")
    received = steps.receive_source(settings, "b1", "b1-001", 0, source)

    pages = [steps.process_one_page(settings, received, i, "vie") for i in range(2)]
    parts = steps.split_stack(settings, received, pages)
    archiving.archive_dossier(settings, received, parts[0], pages)
    steps.finish_source(settings, received)

    info = metadata_store(settings).get_dossier("b1-001")
    assert info.status is DossierStatus.ARCHIVED
    assert info.dossier_code == find_dossier_codes("\f".join(truth[:2]))[0][0]
    text = object_store(settings).get_bytes(keys.text_key("b1-001")).decode()
    assert text.split("\f") == truth[:2]
    assert [p.ocr_confidence for p in info.pages] == [pytest.approx(95.0)] * 2
    assert tesseract_calls == []
