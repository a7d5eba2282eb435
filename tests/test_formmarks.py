"""Dot leaders and check boxes of forms are not text (issue 28); real punctuation is."""

from __future__ import annotations

import pytest

from pipeline.formmarks import without_form_marks
from pipeline.tesseract_engine import parse_tsv


@pytest.mark.parametrize(
    ("token", "kept"),
    [
        ("................", ""),
        ("____", ""),
        ("…………", ""),
        ("-----", ""),
        ("☐", ""),
        ("☒", ""),
        ("[]", ""),
        ("L]", ""),
        ("|", ""),
        ("||", ""),
        ("tên:..........", "tên:"),
        ("..........Nguyễn", "Nguyễn"),
        ("20......", "20"),
        # real punctuation and text stay
        ("...", "..."),
        ("nước,...;", "nước,...;"),
        (".", "."),
        ("-", "-"),
        ("—", "—"),
        ("0", "0"),
        ("O", "O"),
        ("08/02/1961", "08/02/1961"),
        ("L", "L"),
        ("|Thành", "|Thành"),
    ],
)
def test_leaders_and_boxes_are_dropped_punctuation_kept(token: str, kept: str) -> None:
    assert without_form_marks(token) == kept


def test_ocr_words_and_text_leave_out_leaders_and_boxes() -> None:
    columns = "level page_num block_num par_num line_num word_num left top width height conf text"
    header = columns.replace(" ", "\t")
    rows = [header]
    for index, text in enumerate(["Họ", "và", "tên:..........", "..............", "☐", "Nam"]):
        rows.append(f"5\t1\t1\t1\t1\t{index + 1}\t{index * 100}\t10\t90\t30\t95\t{text}")
    words, text = parse_tsv("\n".join(rows))
    assert [w.text for w in words] == ["Họ", "và", "tên:", "Nam"]
    assert text == "Họ và tên: Nam"
