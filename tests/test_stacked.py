"""A column of item numbers that Tesseract read as a line of vertical text (pipeline/stacked.py).

The boxes are the ones Tesseract gave on a generated LLTP form scanned at 300 dpi
(bench/forms.py, lltp-12): the digits "1." to "9." at x 238-278, read turned as six stacked
words of nonsense, and the labels' lines starting with a lone "." or with their first word.
"""

from __future__ import annotations

import numpy as np

from models.pagerecord import OcrWord
from pipeline.stacked import restack_numbers, restore_item_numbers, stacked_lines


def _word(
    text: str, left: int, top: int, width: int, height: int, conf: float, key: tuple[int, int, int]
) -> OcrWord:
    return OcrWord(text, left, top, width, height, conf, *key)


COLUMN = [  # the turned reading: bottom to top, one box above the other
    _word("(©", 238, 1078, 40, 40, 88.0, (8, 1, 1)),
    _word("CO", 238, 1007, 40, 42, 0.0, (8, 1, 1)),
    _word("ƠŒ›", 238, 928, 40, 44, 29.0, (8, 1, 1)),
    _word("CI", 238, 860, 40, 46, 69.0, (8, 1, 1)),
    _word("C)", 238, 785, 40, 47, 84.0, (8, 1, 1)),
    _word("t2)", 238, 701, 40, 55, 13.0, (8, 1, 1)),
]
LABELS = [  # (number the line lost, its words)
    (
        "1.",
        [
            _word(".", 275, 667, 6, 6, 92.0, (7, 1, 2)),
            _word("Họ", 303, 637, 66, 43, 96.0, (7, 1, 2)),
        ],
    ),
    (
        "2.",
        [
            _word(".", 275, 741, 6, 6, 92.0, (7, 1, 3)),
            _word("Tên", 300, 708, 88, 40, 97.0, (7, 1, 3)),
        ],
    ),
    (
        "3.",
        [
            _word(".", 275, 815, 6, 6, 92.0, (7, 1, 4)),
            _word("Giới", 303, 782, 94, 40, 97.0, (7, 1, 4)),
        ],
    ),
    (
        "9.",
        [
            _word(".", 275, 1111, 6, 6, 92.0, (7, 1, 8)),
            _word("Nơi", 302, 1082, 83, 37, 95.0, (7, 1, 8)),
        ],
    ),
]
FAR_RIGHT = [
    _word("Kính", 509, 577, 93, 40, 96.0, (6, 1, 1)),
    _word("gửi:", 617, 574, 71, 50, 96.0, (6, 1, 1)),
]


class LineReader:
    """Reads a band again as Tesseract does with the label beside it: the number, then the
    label. Counts its calls."""

    name = "line-reader"

    def __init__(self) -> None:
        self.bands: list[tuple[int, int]] = []

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        assert one_line
        # The band's place on the page is not given; the test's image codes it in its pixels.
        top = int(image[0, 0]) * 10
        self.bands.append((top, image.shape[0]))
        for number, words in LABELS:
            first = words[1]
            if top <= first.top <= top + image.shape[0]:
                return (
                    OcrWord(number, 20, 10, 40, 37, 96.0, 1, 1, 1),
                    OcrWord(
                        first.text, first.left - 234, 10, first.width, first.height, 96.0, 1, 1, 1
                    ),
                )
        return ()

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return None


def _page() -> np.ndarray:
    """A page whose every pixel row holds its own y / 10 (so a band tells where it was)."""
    rows = (np.arange(1400) // 10).clip(0, 255).astype(np.uint8)
    return np.repeat(rows[:, None], 1200, axis=1)


def test_a_column_of_numbers_read_turned_is_read_again_beside_its_labels() -> None:
    words = tuple(FAR_RIGHT + [w for _, line in LABELS for w in line] + COLUMN)
    assert stacked_lines(words) == [COLUMN]
    reader = LineReader()
    out = restack_numbers(words, _page(), reader, dpi=300.0, timeout_s=5.0, label="form p1")
    texts = [w.text for w in out]
    for garbage in ("(©", "CO", "ƠŒ›", "CI", "C)", "t2)"):
        assert garbage not in texts
    lines: dict[tuple[int, int, int], list[str]] = {}
    for w in out:
        lines.setdefault(w.line_key, []).append(w.text)
    # each label's line now starts with its number, the lone "." it had gone
    assert lines[(7, 1, 2)] == ["1.", "Họ"]
    assert lines[(7, 1, 3)] == ["2.", "Tên"]
    assert lines[(7, 1, 4)] == ["3.", "Giới"]
    assert lines[(7, 1, 8)] == ["9.", "Nơi"]
    assert lines[(6, 1, 1)] == ["Kính", "gửi:"]  # not beside the column: not read again
    assert len(reader.bands) == len(LABELS)
    number = next(w for w in out if w.text == "1.")
    assert 238 <= number.left <= 250 and 630 <= number.top <= 660  # in the page's frame


def test_real_vertical_text_and_plain_lines_are_left_as_read() -> None:
    """A side note set sideways reads surely: it stays, and nothing is read again."""
    side_note = tuple(
        _word(text, 60, 1000 - 120 * at, 40, 110, 93.0, (2, 1, 1))
        for at, text in enumerate(("Ký", "bởi:", "Sở", "Tư", "pháp"))
    )
    words = tuple(FAR_RIGHT) + side_note
    assert stacked_lines(words) == []
    reader = LineReader()
    assert restack_numbers(words, _page(), reader, dpi=300.0, timeout_s=5.0, label="p1") == words
    assert reader.bands == []


# A list whose hanging numbers the page layout cut off (a real notice at 1.03x its scan
# resolution, bench/real_vn epu-dl0008): "1." read alone as "la" on a line of its own, "2."
# not read at all, "3." read as ".." before its line's text. The numbers stand 70 px left of
# their text, in ink the test's page carries.
ITEM_LINES = {  # line top -> (its number, its words)
    1262: ("1.", ["Thời", "gian:"]),
    1455: ("2.", ["Địa", "điểm"]),
    1560: ("3.", ["..", "Địa", "điểm"]),
}


def _item_words() -> tuple[OcrWord, ...]:
    words = [_word("la", 447, 1262, 34, 42, 40.0, (10, 1, 1))]
    for line, (top, (_, texts)) in enumerate(ITEM_LINES.items(), start=1):
        left = 476 if texts[0] == ".." else 520
        for text in texts:
            width = 20 if text == ".." else 90
            words.append(_word(text, left, top, width, 50, 96.0, (11, 1, line)))
            left += width + 24
    return tuple(words)


def _item_page(*, column_left: bool = False) -> np.ndarray:
    page = np.full((2000, 1600), 255, np.uint8)
    for top in ITEM_LINES:
        page[top + 8 : top + 45, 450:490] = 0  # the number's ink
    if column_left:  # text of another column where the numbers would stand
        page[1200:1700, 300:500] = 0
    return page


class NumberReader:
    """Reads a band again as one line: its number, then its text (crop coordinates)."""

    name = "number-reader"

    def __init__(self) -> None:
        self.calls = 0

    def read(
        self,
        image: np.ndarray,
        *,
        dpi: float | None,
        one_line: bool = False,
        timeout_s: float,
        label: str,
    ) -> tuple[OcrWord, ...]:
        assert one_line
        self.calls += 1
        # One band a line, read top to bottom: the call's order says which line it is.
        number, texts = list(ITEM_LINES.values())[self.calls - 1]
        words = [OcrWord(number, 20, 10, 40, 37, 95.0, 1, 1, 1)]
        left = 90
        for text in texts:
            if text != "..":
                words.append(OcrWord(text, left, 10, 90, 37, 96.0, 1, 1, 1))
                left += 110
        return tuple(words)

    def orient(self, image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
        return None


def test_hanging_item_numbers_cut_off_by_the_layout_are_read_again_and_put_back() -> None:
    reader = NumberReader()
    out = restore_item_numbers(
        _item_words(), _item_page(), reader, dpi=300.0, timeout_s=5.0, label="notice p1"
    )
    lines: dict[tuple[int, int, int], list[str]] = {}
    for w in out:
        lines.setdefault(w.line_key, []).append(w.text)
    assert list(lines.values()) == [
        ["1.", "Thời", "gian:"],
        ["2.", "Địa", "điểm"],
        ["3.", "Địa", "điểm"],
    ]  # the stray "la" and the dots gone
    assert reader.calls == 3
    number = next(w for w in out if w.text == "2.")
    assert 440 <= number.left <= 460 and number.line_key == (11, 1, 2)


def test_a_line_beside_another_column_or_already_numbered_is_not_read_again() -> None:
    reader = NumberReader()
    column = tuple(  # a left column's lines reaching where the numbers would stand
        _word(text, 300, top, 190, 50, 95.0, (5, 1, n))
        for n, (top, text) in enumerate(((1262, "khoản"), (1455, "điều"), (1560, "mục")), 1)
    )
    words = column + _item_words()[1:]
    out = restore_item_numbers(
        words, _item_page(column_left=True), reader, dpi=300.0, timeout_s=5.0, label="p1"
    )
    assert reader.calls == 0 and out == words
    numbered = (
        _word("1.", 447, 1262, 34, 42, 96.0, (11, 1, 1)),
        _word("Thời", 520, 1262, 90, 50, 96.0, (11, 1, 1)),
        _word("-", 447, 1455, 20, 6, 93.0, (11, 1, 2)),  # a bullet is print
        _word("Website;", 520, 1455, 90, 50, 96.0, (11, 1, 2)),
    )
    blank = np.full((2000, 1600), 255, np.uint8)
    assert (
        restore_item_numbers(numbered, blank, reader, dpi=300.0, timeout_s=5.0, label="p1")
        == numbered
    )
    assert reader.calls == 0
