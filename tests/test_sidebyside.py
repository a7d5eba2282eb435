"""A letter's foot whose two side-by-side blocks the page reading ran together
(pipeline/sidebyside.py).

The first reading is the shape Tesseract gave on a real notice (bench/real_vn epu-dl0008):
each line runs from the "Nơi nhận:" list on the left across the gap into the signer's title
on the right, and the list's small type, cut at the title's heights, reads as "ĐI ng".
The test's engine reads each side alone as Tesseract did there; the page image tells the
sides apart by a grey level painted on each half.
"""

from __future__ import annotations

import numpy as np

from models.pagerecord import OcrWord
from pipeline.sidebyside import read_sides_apart

LEFT_LEVEL, RIGHT_LEVEL = 40, 60
GUTTER_X = 935  # between the list's right edge (470) and the title's left (1400)


def _word(text: str, left: int, top: int, conf: float, key: tuple[int, int, int]) -> OcrWord:
    return OcrWord(text, left, top, 20 * len(text), 40, conf, *key)


BODY = (
    _word("ký", 500, 2030, 95.0, (8, 1, 1)),
    _word("tên", 580, 2030, 95.0, (8, 1, 1)),
)
FOOT = (
    _word("ĐI", 360, 2230, 31.0, (9, 1, 1)),
    _word("ng", 420, 2240, 40.0, (9, 1, 1)),
    _word("TL.", 1450, 2230, 93.0, (9, 1, 1)),
    _word("HIỆU", 1530, 2230, 93.0, (9, 1, 1)),
    _word("ng", 360, 2300, 35.0, (9, 1, 2)),
    _word("4", 420, 2300, 30.0, (9, 1, 2)),
    _word("KT.", 1400, 2300, 92.0, (9, 1, 2)),
    _word("TRƯỞNG", 1480, 2300, 92.0, (9, 1, 2)),
    _word("-", 360, 2380, 90.0, (9, 1, 3)),
    _word("Lưu:", 390, 2380, 91.0, (9, 1, 3)),
    _word("PHÓ", 1500, 2380, 90.0, (9, 1, 3)),
)
SIGNER = (_word("Nga", 1550, 2700, 96.0, (11, 1, 1)),)
LEFT_READ = ["Nơi nhận:", "- Hiệu trưởng (để b/c);", "- Website;", "- Lưu: VT."]
RIGHT_READ = ["TL. HIỆU", "KT. TRƯỞNG", "PHÓ"]


class SideReader:
    """Reads a side alone: the list clean on the left, the title as before on the right."""

    name = "side-reader"

    def __init__(self, *, confidence: float = 90.0) -> None:
        self.sides: list[str] = []
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
        side = "left" if int(image.min()) == LEFT_LEVEL else "right"
        self.sides.append(side)
        words = []
        for number, line in enumerate(LEFT_READ if side == "left" else RIGHT_READ, start=1):
            for column, text in enumerate(line.split()):
                words.append(
                    OcrWord(
                        text, 30 + 90 * column, 40 * number, 80, 30, self.confidence, 1, 1, number
                    )
                )
        return tuple(words)

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return None


def _page() -> np.ndarray:
    page = np.full((3000, 2300), 255, np.uint8)
    page[2300:2320, 600:620] = LEFT_LEVEL  # a mark on each side, for the engine
    page[2300:2320, 1580:1600] = RIGHT_LEVEL
    return page


def _read(reader: SideReader, words: tuple[OcrWord, ...]) -> tuple[OcrWord, ...]:
    return read_sides_apart(words, _page(), reader, dpi=300.0, timeout_s=5.0, label="notice p1")


def test_the_garbled_side_is_read_again_alone_and_the_sure_side_kept() -> None:
    reader = SideReader()
    out = _read(reader, BODY + FOOT + SIGNER)
    assert sorted(reader.sides) == ["left", "right"]
    texts = " ".join(w.text for w in out)
    # the list is back, whole, where the foot began; the title (read as surely as before,
    # nothing more of it recovered) stays as first read; the body and the name untouched
    assert texts.startswith("ký tên Nơi nhận: - Hiệu trưởng (để b/c); - Website; - Lưu: VT.")
    assert "ĐI" not in texts.split() and "4" not in texts.split()
    assert texts.endswith("TL. HIỆU KT. TRƯỞNG PHÓ Nga")
    listed = [w for w in out if w.text in ("Nơi", "Website;")]
    assert len({w.block for w in listed}) == 1 and listed[0].block > 11
    assert [w.line for w in listed] == [1, 3]
    # moved back onto the page, left of the gap
    assert all(w.left < GUTTER_X and 2150 < w.top < 2500 for w in listed)


def test_a_foot_read_surely_across_is_left_as_read() -> None:
    sure = tuple(
        OcrWord(w.text, w.left, w.top, w.width, w.height, 93.0, w.block, w.paragraph, w.line)
        for w in FOOT
    )
    reader = SideReader()
    words = BODY + sure + SIGNER
    assert _read(reader, words) == words
    assert reader.sides == []


def test_a_side_read_alone_no_more_surely_keeps_its_first_reading() -> None:
    reader = SideReader(confidence=60.0)  # a stamp's handwriting: nonsense either way
    words = BODY + FOOT + SIGNER
    assert _read(reader, words) == words
    assert len(reader.sides) == 2


def test_one_line_across_a_gap_is_a_form_row_not_two_blocks() -> None:
    row = (
        _word("Giới", 360, 600, 60.0, (3, 1, 1)),
        _word("tính:", 450, 600, 60.0, (3, 1, 1)),
        _word("Ngày", 1450, 600, 60.0, (3, 1, 1)),
        _word("sinh:", 1540, 600, 60.0, (3, 1, 1)),
    )
    reader = SideReader()
    assert _read(reader, row) == row
    assert reader.sides == []
