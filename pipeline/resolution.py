"""Resolution from the page itself, for files that record none (or an implausible one).

Phone captures, screenshots and web copies come as 576x960 JPEGs with no dpi, or with
the 72/96 "dpi" of a screen. Assuming 300 dpi there makes every later stage wrong: the
cleanup thinks 70-dpi letters are specks, and Tesseract is told the letters are a quarter
of their real size. What the page does show is the size of its letters: printed body text
(Vietnamese administrative papers: 12-14 pt, NĐ 30/2020) has a known height, so the median
height of letter-sized marks gives the scale, whatever the file says.

The estimate is recorded as estimated (never as if the file had said it), and the OCR
stage brings the letters to the size Tesseract reads best from it.

A scanner's file that lost its dpi still has the scanner's size: a standard sheet at one of
the resolutions scanners write (1700x2200 px is US Letter at 200 dpi, 2480x3508 A4 at 300).
Letters say less there (a balance sheet in 10 pt type measured 148 dpi, and the counter was
told to scan a 200 dpi page again), so a sheet's size the letters roughly agree with wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

# What an estimate may say: a phone photo of a page can be ~60 dpi, nothing reads below.
MIN_ESTIMATED_DPI, MAX_ESTIMATED_DPI = 50.0, 600.0


class DpiSource(StrEnum):
    FILE = "file"  # recorded in the file (or, for a PDF, the scan's size on the page)
    ESTIMATED = "estimated"  # measured from the letters on the page
    SHEET = "sheet"  # a standard sheet's size at a scanner's resolution, no letters to measure
    ASSUMED = "assumed"  # nothing to go on: the configured default


# Median height of letter marks on 13-14 pt Times body text (x-height letters, capitals and
# letters with ascenders mixed, diacritics apart): 0.075-0.093 in, median 0.088, on the 14
# real letters of bench/real_vn whose files record their dpi; i.e. 26 px at 300 dpi.
MEDIAN_LETTER_HEIGHT_IN = 0.088
ANTIALIAS_PX = 1.0
MIN_LETTERS = 40  # fewer letter-like marks than this: no estimate
ANALYSIS_MAX_SIDE = 4000  # estimate on at most this many pixels a side (memory, time)


# Sheets handed in at a counter (portrait, inches) and the resolutions scanners write.
SHEETS_IN = {
    "A4": (8.268, 11.693),
    "A5": (5.827, 8.268),
    "A3": (11.693, 16.535),
    "US Letter": (8.5, 11.0),
    "US Legal": (8.5, 14.0),
}
SCANNER_DPIS = (150, 200, 240, 300, 400, 600)
SHEET_TOLERANCE = 0.01  # of each side: scanners round, and some trim a few pixels
# A sheet's resolution is taken when the letters' estimate is within these shares of it:
# body type from 9 to 20 pt against the 13-14 pt the estimate assumes.
LETTERS_AGREE = (0.6, 1.5)


@dataclass(frozen=True)
class ScannedSheet:
    name: str  # "A4", "US Letter", ...
    dpi: float


def scanned_sheet(width_px: int, height_px: int, letters_dpi: float | None) -> ScannedSheet | None:
    """The standard sheet at a scanner's resolution that ``width_px`` x ``height_px`` is, when
    the letters' estimate (if any) roughly agrees; with several, the one nearest the letters'
    (A5 at 400 dpi is A3 at 200); none when they cannot tell them apart."""
    short, long = sorted((width_px, height_px))
    found = [
        ScannedSheet(name, float(dpi))
        for dpi in SCANNER_DPIS
        for name, (side, length) in SHEETS_IN.items()
        if abs(short / dpi - side) <= SHEET_TOLERANCE * side
        and abs(long / dpi - length) <= SHEET_TOLERANCE * length
    ]
    if letters_dpi is None:
        return found[0] if len(found) == 1 else None
    low, high = LETTERS_AGREE
    agreeing = [sheet for sheet in found if low <= letters_dpi / sheet.dpi <= high]
    if not agreeing:
        return None
    return min(agreeing, key=lambda sheet: abs(np.log(letters_dpi / sheet.dpi)))


@dataclass(frozen=True)
class TextScale:
    letter_height_px: float  # median height of letter-like marks, in the page's pixels
    letters: int  # how many marks the median was taken over

    @property
    def dpi(self) -> float:
        return self.letter_height_px / MEDIAN_LETTER_HEIGHT_IN


def _binarise(grey: np.ndarray) -> np.ndarray:
    """Ink (255) on paper (0), with the lighting flattened by a size-free estimate of it."""
    side = max(grey.shape)
    # The paper estimate needs a window wider than any letter: 1/25 of the page side is
    # wider than a heading's letters on a full page and still local for a phone's shadows.
    window = max(15, (side // 25) | 1)
    small_factor = min(1.0, 400.0 / side)
    small = cv2.resize(grey, None, fx=small_factor, fy=small_factor, interpolation=cv2.INTER_AREA)
    k = max(3, int(window * small_factor) | 1)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    paper = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = cv2.divide(grey, np.maximum(paper, 1), scale=255)
    _, ink = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, strict = cv2.threshold(flat, 210, 255, cv2.THRESH_BINARY_INV)
    return cv2.bitwise_and(ink, strict)


def estimate_text_scale(grey: np.ndarray) -> TextScale | None:
    """Median letter height of a grey page, or None when it shows too little text."""
    factor = 1.0
    if max(grey.shape) > ANALYSIS_MAX_SIDE:
        factor = ANALYSIS_MAX_SIDE / max(grey.shape)
        grey = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    ink = _binarise(grey)
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count <= 1:
        return None
    height, width = ink.shape
    x, y = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    area = stats[1:, cv2.CC_STAT_AREA]
    fill = area / np.maximum(w * h, 1)
    letter_like = (
        (h >= 4)  # smaller is a dot, a diacritic or noise at any resolution we can read
        & (h <= max(height, width) / 30)
        & (w <= 3 * h)  # not a rule or a run of touching letters
        & (h <= 4 * w)  # "l", "i" and "1" pass; vertical rules do not
        & (fill >= 0.12)
        & (fill <= 0.95)  # solid blocks are photos or redaction, not letters
        & (x > 0)
        & (y > 0)
        & (x + w < width)
        & (y + h < height)
    )
    heights = h[letter_like].astype(np.float64)
    if heights.size < MIN_LETTERS:
        return None
    # Heights cluster at the x-height and at the ascender height; the median sits between,
    # steady across fonts. Outliers (headings, merged lines) barely move it. Anti-aliased
    # edges add about a pixel to every mark: small at 300 dpi, a sixth of a letter at 70.
    median = max(float(np.median(heights)) - ANTIALIAS_PX, 1.0)
    return TextScale(median / factor, int(heights.size))


def page_dpi_from_text(
    pixels: np.ndarray, default_dpi: float
) -> tuple[float, DpiSource, float | None]:
    """The page's resolution to read it at, how it was found, and the scan's own when the
    page's size is a standard sheet at a scanner's resolution the letters roughly agree with.

    The letters' estimate is read at even then: it brings small type to the size the engine
    reads (a balance sheet in 10 pt type, 200 dpi by its size, read 8.5 % at the letters'
    148 dpi, 19.8 % at 200); the sheet's is what the archive's rule is judged on.
    """
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    scale = estimate_text_scale(grey)
    sheet = scanned_sheet(grey.shape[1], grey.shape[0], scale.dpi if scale else None)
    scan_dpi = sheet.dpi if sheet is not None else None
    if scale is None:
        if sheet is not None:
            return sheet.dpi, DpiSource.SHEET, scan_dpi
        return default_dpi, DpiSource.ASSUMED, None
    dpi = min(max(scale.dpi, MIN_ESTIMATED_DPI), MAX_ESTIMATED_DPI)
    return float(round(dpi)), DpiSource.ESTIMATED, scan_dpi


def resolution_found(dpi: float, source: DpiSource, scan_dpi: float | None) -> str:
    """How a page's resolution was found when its file did not say it, for its warning."""
    if source is DpiSource.SHEET:
        return f"{dpi:.0f} dpi from the page's size (a standard sheet scanned so)"
    found = f"estimated from the letters as {dpi:.0f} dpi"
    if scan_dpi is not None:
        found += f"; the page's size is a standard sheet at {scan_dpi:.0f} dpi"
    return found
