from __future__ import annotations

import numpy as np
import pytest

from pipeline.clean import clean_page, normalise_background, ocr_scale, percentile_u8
from pipeline.context import PageContext
from pipeline.load import ColourMode, LoadedPage
from tests import synth
from tests.conftest import bgr

CTX = PageContext(source_name="synthetic", page_index=0)


def _page(spec: synth.Degradation, *, seed: int = 0, lines: int = 18, dpi: int = 200) -> LoadedPage:
    base = synth.render_page(synth.corpus_lines(lines, seed), dpi=dpi, font_pt=11)
    scan = synth.degrade(base, spec, seed)
    return LoadedPage(0, bgr(scan), float(dpi), ColourMode.COLOUR)


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
@pytest.mark.parametrize("skew", [-6.0, 0.0, 3.5])
def test_orientation_and_skew_are_undone(turn: int, skew: float) -> None:
    page = _page(synth.Degradation(rotation=turn, skew_deg=skew, noise_sigma=8), seed=turn)
    cleaned = clean_page(page, CTX)
    assert cleaned.rotation == (-turn) % 360
    assert cleaned.skew_deg == pytest.approx(-skew, abs=0.3)
    assert not cleaned.blank


def test_dark_borders_and_uneven_light_are_flattened() -> None:
    page = _page(synth.Degradation(dark_border_px=60, gradient=0.45, background=215, noise_sigma=5))
    cleaned = clean_page(page, CTX)
    image = cleaned.image
    # Paper is white again everywhere, including the former border and the dark side.
    assert np.median(image[:, :40]) >= 245
    assert np.median(image[:, -200:]) >= 245
    assert cleaned.rotation == 0


def test_original_pixels_are_not_modified() -> None:
    page = _page(synth.Degradation(rotation=180, skew_deg=2))
    before = page.image.copy()
    clean_page(page, CTX)
    assert np.array_equal(page.image, before)


def test_ocr_resolution_policy() -> None:
    assert ocr_scale(200, 300) == 1.0  # legal scans are read as they are
    assert ocr_scale(300, 300) == 1.0
    assert ocr_scale(150, 300) == pytest.approx(200 / 150)  # up to 200, read best on real paper
    assert ocr_scale(600, 300) == pytest.approx(0.5)


def test_low_resolution_is_upsampled_for_ocr() -> None:
    page = _page(synth.Degradation(), dpi=150)
    cleaned = clean_page(page, PageContext(source_name="x", page_index=0, ocr_dpi=300))
    assert cleaned.dpi == pytest.approx(200)  # UPSAMPLE_DPI, whatever ocr_dpi says
    assert cleaned.image.shape[1] == pytest.approx(page.width * 200 / 150, abs=3)
    # the transform maps the original's corners into the cleaned image
    corner = cleaned.to_cleaned @ np.array([page.width, page.height, 1.0])
    assert corner[0] == pytest.approx(cleaned.image.shape[1], abs=3)


def test_blank_back_with_scanner_noise_is_blank_and_a_short_note_is_not() -> None:
    blank = synth.degrade(
        synth.SynthPage(synth.render_page([], dpi=200).image, [], 200),
        synth.Degradation(noise_sigma=10, speckles=25, background=235),
    )
    result = clean_page(LoadedPage(0, bgr(blank), 200.0, ColourMode.COLOUR), CTX)
    assert result.blank
    note = _page(synth.Degradation(noise_sigma=10), lines=1)
    assert not clean_page(note, CTX).blank


def test_background_normalisation_keeps_ink_dark() -> None:
    grey = np.full((400, 400), 180, np.uint8)
    grey[200:204, 50:350] = 40  # a stroke
    out = normalise_background(grey, 200)
    assert out[100, 100] >= 250
    assert out[202, 200] < 80


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 4_000_000, 1 << 24])
def test_percentile_of_a_grey_image_is_numpys(size: int) -> None:
    """The histogram percentile used on every page gives numpy's value, large pages too."""
    rng = np.random.default_rng(size)
    image = rng.integers(0, 256, size, dtype=np.uint8)
    if size == 1 << 24:  # one value in most pixels: past float32's exact counts
        image[: size - 1000] = 250
    for q in (0, 25, 75, 99.5, 100):
        assert percentile_u8(image, q) == pytest.approx(float(np.percentile(image, q)), abs=1e-9)
