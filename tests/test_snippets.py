"""Search snippets (issue 29): the page that matches best, the phrase marked as one."""

from __future__ import annotations

import pytest

from app.snippets import page_snippet
from models.codes import received_on
from models.search import MAX_TEXT_CHARS, parse_text_query

PAPER = (
    "Giấy tiếp nhận. Nội dung: cấp lại. Ngày hẹn trả 05/03\f"
    "Căn cước: 001090123456, nơi cấp: Cục Cảnh sát quản lý hành chính\f"
    "Trang ba"
)


def _marked(pieces: list[tuple[str, bool]]) -> list[str]:
    return [text for text, hit in pieces if hit]


def test_the_phrase_on_page_two_is_the_snippet() -> None:
    number, pieces = page_snippet(PAPER, parse_text_query("noi cap cuc canh sat"))
    assert number == 2
    assert _marked(pieces) == ["nơi cấp: Cục Cảnh sát"]
    number, pieces = page_snippet(PAPER, parse_text_query('"cuc canh sat" noi cap'))
    assert (number, _marked(pieces)) == (2, ["Cục Cảnh sát"])


def test_words_alone_mark_words_on_the_page_holding_most() -> None:
    number, pieces = page_snippet(PAPER, parse_text_query("cap"))
    assert (number, _marked(pieces)) == (1, ["cấp"])
    assert page_snippet(PAPER, parse_text_query("khong co")) == (0, [])
    assert page_snippet("", parse_text_query("cap")) == (0, [])
    # Whole words only: "ca" is not marked inside "cấp" or "Cảnh".
    assert page_snippet(PAPER, parse_text_query("ca")) == (0, [])


def test_query_parsing_is_bounded_and_plain() -> None:
    parsed = parse_text_query('nơi cấp "Cục  Cảnh-sát" "chưa đóng')
    assert parsed.words == ("noi", "cap", "cuc", "canh", "sat", "chua", "dong")
    assert parsed.phrases == (("cuc", "canh", "sat"), ("chua", "dong"))
    assert parsed.hint is None
    assert parse_text_query("noi cap").hint == ("noi", "cap")
    assert parse_text_query('"' * MAX_TEXT_CHARS).words == ()
    with pytest.raises(ValueError):
        parse_text_query("a" * (MAX_TEXT_CHARS + 1))


def test_the_day_in_a_dossier_code() -> None:
    from datetime import date

    assert received_on("000.00.00.H49-230101-0001") == date(2023, 1, 1)
    assert received_on("000.00.00.H49-230231-0001") is None  # no 31 February
    assert received_on("H49-230101") is None
    assert received_on(None) is None
