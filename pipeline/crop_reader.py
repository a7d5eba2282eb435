"""The neural line reader as a :class:`~pipeline.handwriting.CropReader`: a suggestion for a
handwritten field, read from its crop (one or a few lines, grey or colour)."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.handwriting import CropReading
from pipeline.linereader import LineReader, LineReading

# A row belongs to a line when this share of its pixels is ink; lines closer than
# MERGE_GAP of the crop's height are one line (a diacritic above its letters).
ROW_INK_SHARE = 0.01
MERGE_GAP = 0.04
MIN_LINE_PX = 6  # thinner bands are rules or specks, not writing


def line_bands(crop: np.ndarray) -> list[tuple[int, int]]:
    """The [top, bottom) rows of each line of writing in ``crop``, top to bottom."""
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    rows = ink.sum(axis=1) > ROW_INK_SHARE * grey.shape[1]
    bands: list[tuple[int, int]] = []
    start: int | None = None
    for y, inked in enumerate([*rows.tolist(), False]):
        if inked and start is None:
            start = y
        elif not inked and start is not None:
            gap = max(2, round(MERGE_GAP * grey.shape[0]))
            if bands and start - bands[-1][1] <= gap:
                bands[-1] = (bands[-1][0], y)
            else:
                bands.append((start, y))
            start = None
    return [(top, bottom) for top, bottom in bands if bottom - top >= MIN_LINE_PX]


class NeuralCropReader:
    """Reads each line of writing in a crop; None when the crop holds nothing legible."""

    def __init__(self, reader: LineReader) -> None:
        self.reader = reader

    def read_crop(self, crop: np.ndarray) -> CropReading | None:
        if crop.size == 0 or min(crop.shape[:2]) < MIN_LINE_PX:
            return None
        readings: list[LineReading] = []
        for top, bottom in line_bands(crop):
            margin = max(2, (bottom - top) // 5)
            band = crop[max(0, top - margin) : min(crop.shape[0], bottom + margin)]
            reading = self.reader.read_line(band)
            if reading.text:
                readings.append(reading)
        if not readings:
            return None
        letters = sum(len(r.text) for r in readings)
        confidence = sum(r.confidence * len(r.text) for r in readings) / letters
        return CropReading(text=" ".join(r.text for r in readings), confidence=confidence)
