"""Ruled tables whose cells the page reading ran together (pipeline/tables.py).

The page is a drawn table at 200 dpi: a header row of three cells two lines tall, a row of
one-line cells under it. The first reading is what Tesseract gave on a real list of
students: the header's lines run across the cells, unsurely read, and the one-line row read
across as one line. Each cell carries a grey patch whose level names it, so the test's
engine can tell which cell it was handed.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.pagerecord import OcrWord
from pipeline.tables import read_crossed_cells, ruled_cells

DPI = 200.0
COLUMNS = (100, 400, 750, 1150)
ROWS = (300, 450, 550)
CELL_TEXT = {  # the cell's lines as read alone, by (row, column)
    (0, 0): ["Chuyên", "ngành"],
    (0, 1): ["Điểm TBC", "học tập HK"],
    (0, 2): ["Sinh viên mô tả", "hoàn cảnh"],
    (1, 0): ["1"],
    (1, 1): ["Nguyễn Văn A"],
    (1, 2): ["Hà Nội"],
}


def _page(frame: bool = False) -> np.ndarray:
    page = np.full((2200, 1700), 255, np.uint8)
    for x in COLUMNS:
        cv2.line(page, (x, ROWS[0]), (x, ROWS[-1]), 0, 3)
    for y in ROWS:
        cv2.line(page, (COLUMNS[0], y), (COLUMNS[-1], y), 0, 3)
    for row, column in CELL_TEXT:
        x = (COLUMNS[column] + COLUMNS[column + 1]) // 2
        y = (ROWS[row] + ROWS[row + 1]) // 2
        page[y - 4 : y + 4, x - 20 : x + 20] = _level(row, column)
    if frame:  # a frame round the whole text of the page
        cv2.rectangle(page, (40, 40), (1660, 2160), 0, 3)
    return page


def _level(row: int, column: int) -> int:
    return 40 + 10 * (3 * row + column)


def _word(text: str, left: int, top: int, conf: float, key: tuple[int, int, int]) -> OcrWord:
    return OcrWord(text, left, top, 18 * len(text), 30, conf, *key)


def _first_reading(header_confidence: float) -> tuple[OcrWord, ...]:
    c = header_confidence
    return (
        _word("DANH", 600, 150, 96.0, (1, 1, 1)),
        _word("SÁCH", 720, 150, 96.0, (1, 1, 1)),
        # the header's lines, across its three cells
        _word("Chuyên", 150, 320, c, (2, 1, 1)),
        _word("HeoTRrHK", 450, 330, c, (2, 1, 1)),
        _word("Sinh", 800, 320, c, (2, 1, 1)),
        _word("ngành", 150, 390, c, (2, 1, 2)),
        _word("NGỦ", 450, 390, c, (2, 1, 2)),
        _word("hoàn", 800, 390, c, (2, 1, 2)),
        # the one-line row, read across as one line
        _word("1", 200, 485, 95.0, (2, 1, 3)),
        _word("Nguyễn", 450, 485, 95.0, (2, 1, 3)),
        _word("A", 600, 485, 95.0, (2, 1, 3)),
        _word("Hà", 800, 485, 95.0, (2, 1, 3)),
        _word("Nội", 860, 485, 95.0, (2, 1, 3)),
        _word("KHOA", 300, 700, 96.0, (3, 1, 1)),
    )


class CellReader:
    """Reads a cell as Tesseract reads it alone: its lines, surely; none for an empty crop.
    The crop's darkest patch says which cell it is."""

    name = "cell-reader"

    def __init__(self, *, blank: bool = False, confidence: float = 93.0) -> None:
        self.cells: list[tuple[int, int]] = []
        self.blank = blank
        self.confidence = confidence

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        assert not one_line
        level = int(image.min())
        cell = next(key for key in CELL_TEXT if _level(*key) == level)
        self.cells.append(cell)
        if self.blank:
            return ()
        words = []
        for number, line in enumerate(CELL_TEXT[cell], start=1):
            left = 10
            for text in line.split():
                # a second block for the second line: the cell is still drawn as one block
                words.append(
                    OcrWord(text, left, 20 + 40 * number, 60, 30, self.confidence, number, 1, 1)
                )
                left += 70
        return tuple(words)

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return None


def test_the_cells_of_a_ruled_table_are_found_row_by_row() -> None:
    cells = ruled_cells(_page(), DPI)
    assert len(cells) == 6
    found = [(round(c.left, -1), round(c.top, -1)) for c in cells]
    assert found == sorted(found, key=lambda xy: (xy[1], xy[0]))
    for cell, x, y in zip(cells, COLUMNS[:3] * 2, [ROWS[0]] * 3 + [ROWS[1]] * 3, strict=True):
        assert abs(cell.left - x) <= 8 and abs(cell.top - y) <= 8


def test_no_cells_on_a_page_without_rules_nor_in_a_frame_round_the_text() -> None:
    blank = np.full((2200, 1700), 255, np.uint8)
    cv2.putText(blank, "Khong co bang", (200, 400), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    assert ruled_cells(blank, DPI) == []
    framed = _page(frame=True)
    assert len(ruled_cells(framed, DPI)) == 6  # the frame itself is no cell


def test_cells_read_unsurely_across_are_read_again_each_as_a_block_in_row_order() -> None:
    reader = CellReader()
    out = read_crossed_cells(
        _first_reading(header_confidence=45.0),
        _page(),
        reader,
        page_dpi=DPI,
        dpi=DPI,
        timeout_s=5.0,
        label="list p1",
    )
    assert sorted(reader.cells) == [(0, 0), (0, 1), (0, 2)]  # the header row only
    texts = [w.text for w in out]
    assert "HeoTRrHK" not in texts and "NGỦ" not in texts
    # the title, then each header cell whole, left to right, then the row and the rest
    assert " ".join(texts) == (
        "DANH SÁCH Chuyên ngành Điểm TBC học tập HK Sinh viên mô tả hoàn cảnh"
        " 1 Nguyễn A Hà Nội KHOA"
    )
    header = [w for w in out if w.text in ["Chuyên", "ngành", "Điểm", "TBC", "học", "tập", "HK"]]
    assert len({w.block for w in header}) == 2  # a block a cell
    first_cell = [w for w in out if w.text in ("Chuyên", "ngành")]
    assert {w.paragraph for w in first_cell} == {1}
    assert [w.line for w in first_cell] == [1, 2]  # the engine's two blocks: two lines
    assert min(w.block for w in header) > 3  # new blocks, after the reading's own
    # moved back onto the page: inside their cells
    assert all(COLUMNS[0] < w.left < COLUMNS[1] and ROWS[0] < w.top < ROWS[1] for w in first_cell)


def test_a_table_read_surely_across_is_left_as_read() -> None:
    reader = CellReader()
    first = _first_reading(header_confidence=92.0)
    out = read_crossed_cells(
        first, _page(), reader, page_dpi=DPI, dpi=DPI, timeout_s=5.0, label="list p1"
    )
    assert out == first
    assert reader.cells == []


def test_a_cell_read_again_to_nothing_keeps_its_first_reading() -> None:
    reader = CellReader(blank=True)
    first = _first_reading(header_confidence=45.0)
    out = read_crossed_cells(
        first, _page(), reader, page_dpi=DPI, dpi=DPI, timeout_s=5.0, label="list p1"
    )
    assert len(reader.cells) == 3
    assert out == first


def test_cells_read_alone_no_more_surely_leave_the_table_in_the_engine_order() -> None:
    # a poor scan: the cells read alone as unsurely as the lines across them
    reader = CellReader(confidence=50.0)
    first = _first_reading(header_confidence=45.0)
    out = read_crossed_cells(
        first, _page(), reader, page_dpi=DPI, dpi=DPI, timeout_s=5.0, label="list p1"
    )
    assert len(reader.cells) == 3
    assert out == first
