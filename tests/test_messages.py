"""The message catalogue: every word the pages show, and nothing internal leaking through."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.i18n import MESSAGES_DIR, load_messages, parse_messages
from app.snippets import highlight, snippet
from config.catalogue import load_catalogue
from models import DossierStatus
from pipeline.classify import PageKind
from pipeline.fields import CANONICAL


def test_every_status_kind_and_canonical_field_has_its_words() -> None:
    messages = load_messages("vi")
    for status in DossierStatus:
        assert messages.status(status) != messages.text("unknown"), status
    for kind in PageKind:
        assert messages.kind(kind) != messages.text("unknown"), kind
    for name in CANONICAL:
        assert messages.field(name) != messages.text("unknown"), name
    assert messages.status("archived") == "Đã lưu trữ"
    assert messages.role("agency") == "Cơ quan"
    assert messages.procedure("lltp") == "Cấp phiếu lý lịch tư pháp"


def test_unknown_key_is_shown_as_the_generic_line_never_as_itself() -> None:
    messages = load_messages("vi")
    assert messages.field("blood_group") == messages.text("unknown") == "khác"
    assert messages.status("exploded") == "khác"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("scan.pdf: not a PDF, TIFF, JPEG or PNG file (HTML)", "scan.pdf: không phải tệp PDF"),
        (
            "scan.pdf: corrupt PDF (Syntax Error: Couldn't find trailer dictionary)",
            "scan.pdf: tệp PDF bị hỏng",
        ),
        ("scan.pdf: encrypted PDF: it needs a password to open", "scan.pdf: PDF có mật khẩu"),
        ("scan.pdf: page 3 cannot be rendered (poppler said x)", "scan.pdf: trang 3 bị hỏng"),
        ("scan.pdf: something nobody foresaw", "scan.pdf: không xử lý được"),
    ],
)
def test_errors_are_in_words_with_the_file_kept(raw: str, shown: str) -> None:
    text = load_messages("vi").error(raw, file="scan.pdf")
    assert text.startswith(shown), text
    assert "poppler" not in text and "Syntax" not in text


def test_review_reasons_and_notes_in_words() -> None:
    messages = load_messages("vi")
    assert messages.reason("phone: not found") == "Số điện thoại: không tìm thấy trên giấy tờ"
    assert messages.reason("procedure: not recognised") == "Thủ tục: không nhận ra thủ tục"
    note = messages.note("p2 reads 'Nguyễn Văn B'; receipt QR reads 'X'")
    assert note == "trang 2 đọc được «Nguyễn Văn B»; QR giấy tiếp nhận đọc được «X»"
    assert (
        messages.note('application form page 2 reads "Lò Thị Mẩy\'s"')
        == "Đơn đề nghị, trang 2 đọc được «Lò Thị Mẩy's»"
    )
    assert messages.note("something new") == messages.text("review_generic")
    assert messages.note("đối chiếu với CCCD") == "đối chiếu với CCCD"  # already words
    assert messages.event("field sex corrected: 'Nữ' -> 'Nam'") == "sửa Giới tính: 'Nữ' → 'Nam'"


def test_dates_are_day_month_year_in_vietnam_time() -> None:
    messages = load_messages("vi")
    assert messages.moment(datetime(2026, 3, 1, 20, 30, tzinfo=UTC)) == "02/03/2026 03:30"
    assert messages.moment("2026-03-01T20:30:00+00:00") == "02/03/2026 03:30"
    assert messages.day(date(1990, 1, 31)) == "31/01/1990"
    assert messages.field_value("date_of_birth", "1990-01-31") == "31/01/1990"
    assert messages.field_value("procedure", "lltp") == "Cấp phiếu lý lịch tư pháp"


def test_a_second_locale_is_a_second_catalogue(tmp_path: Path) -> None:
    text = (MESSAGES_DIR / "vi.toml").read_text(encoding="utf-8")
    english = text.replace('archived = "Đã lưu trữ"', 'archived = "Archived"')
    messages = parse_messages(english, locale="en", catalogue=load_catalogue())
    assert messages.status("archived") == "Archived"
    with pytest.raises(ValueError, match="no \\[status\\]"):
        parse_messages("[kind]\n", locale="xx", catalogue=load_catalogue())


def test_highlight_marks_folded_matches_in_the_original_text() -> None:
    assert highlight("Đặng Ngọc Hồng Lan", ["lan"]) == [("Đặng Ngọc Hồng ", False), ("Lan", True)]
    assert highlight("000.00.00.H49-250101-0007", ["0101-0007"]) == [
        ("000.00.00.H49-25", False),
        ("0101-0007", True),
    ]
    assert highlight("abc", [""]) == [("abc", False)]


def test_snippet_is_a_window_around_the_match_and_keeps_markup_as_text() -> None:
    text = "mở đầu " * 40 + "<b>Mẩy</b> kết thúc " + "đuôi " * 40
    pieces = snippet(text, ["may"])
    joined = "".join(p for p, _ in pieces)
    assert joined.startswith("… ") and joined.endswith(" …")
    assert len(joined) <= 170
    assert [p for p, hit in pieces if hit] == ["Mẩy"]
    assert "<b>" in joined  # text, for the template to escape
    assert snippet("nothing here", ["may"]) == []


def test_a_refused_correction_is_in_the_catalogues_words_with_the_id_checks_in_words() -> None:
    from pipeline.validate import check_correction

    _, refusal = check_correction(
        "id_number", "022190012345", date_of_birth=date(1990, 3, 12), sex="Nam"
    )
    assert refusal is not None
    vietnamese = load_messages("vi").correction(refusal)
    assert vietnamese.startswith("Số định danh không hợp lệ: số định danh 022190012345")
    assert "giới tính" in vietnamese and "citizen ID" not in vietnamese
    english = load_messages("en").correction(refusal)
    assert english.startswith("Not a valid citizen ID number")
    _, bad_date = check_correction("date_of_birth", "1990")
    assert bad_date is not None
    assert load_messages("vi").correction(bad_date).startswith("Ngày sinh không hợp lệ")
    assert load_messages("en").correction(bad_date).startswith("Not a valid date of birth")
