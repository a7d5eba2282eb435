from __future__ import annotations

import json

from models.pagerecord import PageRecord, decode_page_record
from pipeline.locate import locate_value


def _record(lines: list[tuple[str, int]]) -> PageRecord:
    """A page record as stored (words as positional arrays), decoded by the one codec."""
    words = []
    for line_no, (text, top) in enumerate(lines):
        left = 100
        for word in text.split():
            words.append([word, left, top, 20 * len(word), 30, 90.0, 1, 1, line_no])
            left += 20 * len(word) + 15
    stored = {"index": 0, "text": "", "image_width": 2000, "image_height": 3000, "words": words}
    return decode_page_record(json.dumps(stored, ensure_ascii=False))


def test_value_is_found_on_the_right_page_and_line_despite_tone_slips() -> None:
    pages = [
        _record([("GIẤY TIẾP NHẬN HỒ SƠ", 200)]),
        _record([("Họ và tên: Nguyễn Văn Ân", 600), ("Ngày sinh: 01/01/1990", 700)]),
    ]
    found = locate_value(pages, "Nguyễn Văn An")
    assert found is not None and found.page_position == 1
    assert abs(found.top - 600 / 3000) < 1e-6 and found.bottom > found.top
    assert locate_value(pages, "Trần Thị Bích") is None
    assert locate_value(pages, "  ") is None
    # A page whose record is missing is skipped, the others still searched.
    assert locate_value([None, *pages], "Nguyễn Văn An").page_position == 2  # type: ignore[union-attr]
