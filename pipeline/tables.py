"""Ruled tables: a cell whose lines the page reading ran across its walls, read in its cell.

Tesseract's page layout does not take a table's rules for walls. A header row of cells two
to four lines tall becomes lines running across the whole row, the cells' words interleaved
at whatever heights they share; on a real list of students "Chuyên ngành", "Điểm TBC học
tập HK 2 năm học 2024-2025" and "Sinh viên mô tả hoàn cảnh gia đình" came out as "Chuyên
HeoTRrHK [ NGỦ LH uy soạn BU0Älểu rợn" (44 % CER). Read one by one, the cells read clean.

A table is found from its rules alone: long horizontal and vertical strokes, and the closed
cells between them. A row of one-line cells read as one line is left as the engine read it:
its order is the row's, and nothing is interleaved; so is a line across cells read surely
(pdftotext reads cells drawn as blocks of their own in an order of its choosing, column by
column where they stack, so a table read well is left alone). Only where lines of the
reading run across cells into a cell of more than one line, and were read unsurely, are
the cells those lines touch read again, each alone; a cell's new words become a block of
their own (the text layer draws a block's lines together) and replace its old ones when
they hold at least as much surely read text, and the cells are taken only when read
clearly more surely than the lines across them (a poor scan reads as unsurely either way,
and keeps the engine's row order).
"""

from __future__ import annotations

import cv2
import numpy as np

from models.pagerecord import OcrWord
from pipeline.engines import OcrEngine
from pipeline.regions import (
    Region,
    as_block,
    mean_confidence,
    put_in_place,
    read_region,
    sure_text,
)
from pipeline.words import lines_of

GRID_DPI = 100.0  # rules are found on a copy this fine: a rule of a 300 dpi scan still shows
RULE_LEVEL = 200  # darker than this (on the copy) may be a rule; a thin rule greys when shrunk
HORIZONTAL_RULE_IN = 0.6  # a horizontal rule is at least this long
VERTICAL_RULE_IN = 0.25  # a vertical rule at least this tall: taller than any letter of text
MIN_CELL_WIDTH_IN = 0.12
MIN_CELL_HEIGHT_IN = 0.1
MAX_CELL_SHARE = 0.25  # of the page: a frame round the whole text is no table's cell
MIN_FILLED = 0.8  # of its box, a cell's own area: a cell is a rectangle
CELL_INSET_PX = 3  # what of the walls' remains is left out of a cell read again
CELL_PAD_IN = 0.08  # paper round a cell read again: the engine finds lines better with some
# Lines across cells read this surely (their words' mean) are rows read in their order, or
# nearly (a real notice's table: 91-92, with one short line of 51 among them); lines of
# cells interleaved read far less surely (40-78 on a real list's header row), their words
# cut out of several cells' lines.
INTERLEAVED_CONFIDENCE = 85.0
# The cells read alone replace the first reading only when read this much more surely (mean
# confidence of their words): cells drawn as blocks are ordered by pdftotext as it likes
# (column by column where they stack), which only a much better reading is worth. The
# real list's header went from 40-66 to 90-93; a poor scan of a table reads as unsurely
# cell by cell as across, and keeps the engine's row order.
MIN_CONFIDENCE_GAIN = 10.0
MAX_CELLS_READ = 120  # a page's budget of cells read again (each costs a small page reading)


Cell = Region  # a table's cell: the rectangle inside its walls


def ruled_cells(grey: np.ndarray, dpi: float) -> list[Cell]:
    """The closed cells of the page's ruled tables, in the grey page's pixels, row by row."""
    scale = min(1.0, GRID_DPI / dpi)
    small = (
        cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1.0
        else grey
    )
    small_dpi = dpi * scale
    _, ink = cv2.threshold(small, RULE_LEVEL, 255, cv2.THRESH_BINARY_INV)
    vertical = _strokes(ink, 1, max(8, round(VERTICAL_RULE_IN * small_dpi)))
    if not cv2.countNonZero(vertical):
        return []  # most pages: no vertical rule, no table (checked first: it is the cheap test)
    horizontal = _strokes(ink, max(16, round(HORIZONTAL_RULE_IN * small_dpi)), 1)
    walls = cv2.dilate(
        cv2.bitwise_or(horizontal, vertical), cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    _, _, stats, _ = cv2.connectedComponentsWithStats(cv2.bitwise_not(walls), connectivity=4)
    height, width = walls.shape
    found: list[Cell] = []
    for x, y, w, h, area in stats[1:].tolist():
        enclosed = x > 0 and y > 0 and x + w < width and y + h < height
        if not enclosed or area < MIN_FILLED * w * h or w * h > MAX_CELL_SHARE * width * height:
            continue
        if w < MIN_CELL_WIDTH_IN * small_dpi or h < MIN_CELL_HEIGHT_IN * small_dpi:
            continue
        found.append(
            Cell(
                left=int(x / scale),
                top=int(y / scale),
                right=int(-(-(x + w) // scale)),
                bottom=int(-(-(y + h) // scale)),
            )
        )
    return _row_by_row(found)


def _strokes(ink: np.ndarray, width: int, height: int) -> np.ndarray:
    """The ink of ``ink`` that a ``width`` x ``height`` bar fits in."""
    bar = cv2.getStructuringElement(cv2.MORPH_RECT, (width, height))
    return cv2.morphologyEx(ink, cv2.MORPH_OPEN, bar)


def _row_by_row(cells: list[Cell]) -> list[Cell]:
    """Cells in reading order: rows from the top, a row's cells from the left. A cell starts
    a new row when it begins below the middle of the row's first cell."""
    ordered: list[Cell] = []
    row: list[Cell] = []
    for cell in sorted(cells, key=lambda c: (c.top, c.left)):
        if row and cell.top >= (row[0].top + row[0].bottom) / 2:
            ordered.extend(sorted(row, key=lambda c: c.left))
            row = []
        row.append(cell)
    ordered.extend(sorted(row, key=lambda c: c.left))
    return ordered


def crossed_cells(words: tuple[OcrWord, ...], cells: list[Cell]) -> list[int]:
    """Indexes of the cells that lines of ``words`` ran across into a cell of several
    lines, when those lines were read unsurely (their words' mean confidence); none when
    they were read surely."""
    where = [_cell_of(word, cells) for word in words]
    lines_in: dict[int, set[tuple[int, int, int]]] = {}
    for word, at in zip(words, where, strict=True):
        if at is not None:
            lines_in.setdefault(at, set()).add(word.line_key)
    at_of = {id(word): at for word, at in zip(words, where, strict=True)}
    crossed: set[int] = set()
    confidences: list[float] = []
    for line in lines_of(words):
        touched = {at for at in (at_of[id(word)] for word in line) if at is not None}
        if len(touched) >= 2 and any(len(lines_in[at]) > 1 for at in touched):
            crossed.update(touched)
            confidences.extend(word.confidence for word in line)
    if not confidences or sum(confidences) / len(confidences) >= INTERLEAVED_CONFIDENCE:
        return []
    return sorted(crossed)


def _cell_of(word: OcrWord, cells: list[Cell]) -> int | None:
    for index, cell in enumerate(cells):
        if cell.holds(word):
            return index
    return None


def read_crossed_cells(
    words: tuple[OcrWord, ...],
    image: np.ndarray,
    engine: OcrEngine,
    *,
    page_dpi: float,
    dpi: float | None,
    timeout_s: float,
    label: str,
) -> tuple[OcrWord, ...]:
    """``words`` with the cells a line ran across read again, each as a block of its own,
    in the table's reading order where the first of their old words stood. ``page_dpi`` is
    the image's resolution (known or estimated); ``dpi`` what the engine is told of it."""
    if not words:
        return words
    cells = ruled_cells(image, page_dpi)
    if len(cells) < 2:
        return words
    crossed = crossed_cells(words, cells)[:MAX_CELLS_READ]
    if not crossed:
        return words
    next_block = max(w.block for w in words) + 1
    replaced: dict[int, list[OcrWord]] = {}
    before: list[OcrWord] = []
    for index in crossed:
        cell = cells[index]
        old = [w for w in words if cell.holds(w)]
        inside = Region(
            cell.left + CELL_INSET_PX,
            cell.top + CELL_INSET_PX,
            cell.right - CELL_INSET_PX,
            cell.bottom - CELL_INSET_PX,
        )
        pad = max(8, round(CELL_PAD_IN * page_dpi))
        new = read_region(inside, image, engine, pad=pad, dpi=dpi, timeout_s=timeout_s, label=label)
        if sure_text(new) >= sure_text(old):
            replaced[index] = as_block(new, next_block + index)
            before.extend(old)
    after = [w for cell_words in replaced.values() for w in cell_words]
    if not replaced or mean_confidence(after) < mean_confidence(before) + MIN_CONFIDENCE_GAIN:
        return words  # no clearly better reading: the engine's order is kept
    taken = {id(w) for w in before}
    in_cells = [w for index in sorted(replaced) for w in replaced[index]]
    return put_in_place(words, taken, in_cells)
