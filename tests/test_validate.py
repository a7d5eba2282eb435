from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.validate import (
    PROVINCE_CODES,
    Check,
    check_citizen_id,
    normalise_id_number,
    normalise_phone,
    normalise_sex,
    parse_date,
    proper_case_name,
    strip_diacritics,
)

# --- province codes -------------------------------------------------------------------------


def test_province_codes_are_the_63_from_the_domain_reference() -> None:
    assert len(PROVINCE_CODES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCE_CODES)
    assert min(PROVINCE_CODES) == "001" and max(PROVINCE_CODES) == "096"
    assert {"001", "079", "038", "096"} <= PROVINCE_CODES
    assert not {"000", "003", "005", "097", "099"} & PROVINCE_CODES


# --- citizen ID -------------------------------------------------------------------------------


def test_valid_cccd_matching_birth_and_sex_has_no_problems() -> None:
    assert check_citizen_id("001090123456", date_of_birth=date(1990, 1, 1), sex="Nam") == []
    assert check_citizen_id("079301000123", date_of_birth=date(2001, 5, 2), sex="Nữ") == []
    assert check_citizen_id("038185000001", date_of_birth=date(1985, 7, 9), sex="nu") == []
    assert check_citizen_id("  001090123456\n") == []


def test_old_nine_digit_cmnd_only_checks_shape() -> None:
    assert check_citizen_id("012345678") == []
    assert check_citizen_id("012345678", date_of_birth=date(1990, 1, 1), sex="Nam") == []


def test_invalid_province_code_is_reported() -> None:
    problems = check_citizen_id("003090123456")
    assert len(problems) == 1
    assert "003" in problems[0] and "province" in problems[0]


def test_unassigned_century_digit_is_reported() -> None:
    for digit in "6789":
        problems = check_citizen_id(f"001{digit}90123456")
        assert len(problems) == 1, problems
        assert "digit 4" in problems[0]


def test_century_digit_must_match_date_of_birth() -> None:
    # digit 4 = 2 -> born 2000-2099, but the form says 1990
    problems = check_citizen_id("001290123456", date_of_birth=date(1990, 1, 1))
    assert len(problems) == 1
    assert "2000-2099" in problems[0] and "01/01/1990" in problems[0]


def test_birth_year_digits_must_match_date_of_birth() -> None:
    problems = check_citizen_id("001091123456", date_of_birth=date(1990, 1, 1))
    assert len(problems) == 1
    assert "91" in problems[0] and "birth year" in problems[0]


def test_sex_must_match_century_digit() -> None:
    problems = check_citizen_id("001090123456", sex="Nữ")
    assert len(problems) == 1
    assert "Nam" in problems[0] and "Nữ" in problems[0]
    assert check_citizen_id("001190123456", sex="Female") == []
    assert len(check_citizen_id("001190123456", sex="M")) == 1


def test_unrecognised_sex_is_a_problem() -> None:
    problems = check_citizen_id("001090123456", sex="khác")
    assert problems == ["sex 'khác' is neither Nam nor Nữ"]


def test_several_problems_are_all_reported() -> None:
    problems = check_citizen_id("003291123456", date_of_birth=date(1990, 1, 1), sex="Nữ")
    assert len(problems) == 4  # province, year digits, century, sex


@pytest.mark.parametrize(
    "number",
    ["", "   ", "00109012345", "0010901234567", "12345678", "00109012345A", "001-090-123456"],
)
def test_wrong_shapes_are_one_problem(number: str) -> None:
    problems = check_citizen_id(number)
    assert len(problems) == 1


def test_non_ascii_digits_are_rejected() -> None:
    assert check_citizen_id("٠٠١٠٩٠١٢٣٤٥٦")  # Arabic-Indic digits


def test_check_folds_problems_into_one_line() -> None:
    assert Check.of([]) == Check(ok=True, problem=None)
    folded = Check.of(check_citizen_id("003690123456"))
    assert not folded.ok
    assert folded.problem is not None and "; " in folded.problem and "\n" not in folded.problem


# --- ID normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("001090123456", "001090123456"),
        ("001 090 123 456", "001090123456"),
        ("001.090.123.456", "001090123456"),
        ("OO1O9O123456", "001090123456"),
        ("0l2 345 678", "012345678"),
        ("I23456789", "123456789"),
        ("  012345678 ", "012345678"),
    ],
)
def test_id_numbers_are_normalised(text: str, expected: str) -> None:
    assert normalise_id_number(text) == expected


@pytest.mark.parametrize(
    "text", ["", "12345", "0010901234567", "Nguyễn Văn A", "OIl", "00109012345X", "0123-45678"]
)
def test_non_ids_are_none(text: str) -> None:
    assert normalise_id_number(text) is None


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "12/03/1990",
        "12-03-1990",
        "12.03.1990",
        "12031990",
        "1990-03-12",
        "12/3/1990",
        " 12/03/1990 ",
        "ngày 12 tháng 3 năm 1990",
        "ngày 12 tháng 03 năm 1990",
        "Ngày 12 Tháng 3 Năm 1990",
        "ngay 12 thang 3 nam 1990",
        "NGÀY 12 THÁNG 3 NĂM 1990",
        "Hà Nội, ngày 12 tháng 3 năm 1990",
        unicodedata.normalize("NFD", "ngày 12 tháng 3 năm 1990"),
    ],
)
def test_date_spellings(text: str) -> None:
    assert parse_date(text) == date(1990, 3, 12)


@pytest.mark.parametrize(
    "text",
    [
        "31/02/1990",
        "29/02/2023",
        "ngày 29 tháng 2 năm 2023",
        "00/01/1990",
        "12/13/1990",
        "31042021",
        "1990-02-30",
        "12/03-1990",  # mixed separators
        "12/03/90",
        "123456789",
        "",
        "hôm nay",
        "ngày tháng năm",
    ],
)
def test_impossible_or_unknown_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


def test_leap_day_only_in_leap_years() -> None:
    assert parse_date("ngày 29 tháng 2 năm 2024") == date(2024, 2, 29)
    assert parse_date("29022024") == date(2024, 2, 29)
    assert parse_date("29/02/2000") == date(2000, 2, 29)
    assert parse_date("29/02/1900") is None


@given(st.dates(min_value=date(1000, 1, 1)))
def test_every_date_round_trips_through_each_spelling(day: date) -> None:
    assert parse_date(day.strftime("%d/%m/%Y")) == day
    assert parse_date(day.strftime("%d%m%Y")) == day
    assert parse_date(day.isoformat()) == day
    assert parse_date(f"ngày {day.day} tháng {day.month} năm {day.year}") == day


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("091.234.5678", "0912345678"),
        ("091-234-5678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084 912 345 678", "0912345678"),
        ("+84 (0) 912 345 678", "0912345678"),
        ("0312345678", "0312345678"),
        ("0512345678", "0512345678"),
        ("0712345678", "0712345678"),
        ("0812345678", "0812345678"),
        ("024 3825 1234", "02438251234"),
        ("(024) 3825 1234", "02438251234"),
        ("+84 24 3825 1234", "02438251234"),
        ("0236 3822 222", "02363822222"),
    ],
)
def test_phone_numbers_are_normalised(text: str, expected: str) -> None:
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "091234567",  # 9 digits
        "09123456789",  # 11-digit mobile
        "0112345678",  # no such prefix
        "0412345678",
        "0612345678",
        "0243825123",  # landline one digit short
        "+1 650 253 0000",  # foreign
        "+65 6123 4567",
        "0912345678a",
        "Số điện thoại: 0912345678",
        "912345678",
    ],
)
def test_invalid_phone_shapes_are_none(text: str) -> None:
    assert normalise_phone(text) is None


# --- sex --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Nam", "nam", "NAM", " Nam ", "Male", "male", "M", "m", "Nam."])
def test_male_spellings(text: str) -> None:
    assert normalise_sex(text) == "Nam"


@pytest.mark.parametrize(
    "text",
    ["Nữ", "nữ", "NỮ", "nu", "Nu", "NU", "Female", "F", "f", unicodedata.normalize("NFD", "Nữ")],
)
def test_female_spellings(text: str) -> None:
    assert normalise_sex(text) == "Nữ"


@pytest.mark.parametrize("text", ["", "khác", "Nam Định", "x", "nữa"])
def test_unknown_sex_is_none(text: str) -> None:
    assert normalise_sex(text) is None


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NGUYỄN VĂN AN", "Nguyễn Văn An"),
        ("nguyễn văn an", "Nguyễn Văn An"),
        ("  TRẦN   THỊ\tBÍCH   NGỌC ", "Trần Thị Bích Ngọc"),
        ("ĐẶNG ĐÌNH ĐỨC", "Đặng Đình Đức"),
        ("đỗ thị ánh", "Đỗ Thị Ánh"),
        ("ÐẶNG ÐỨC", "Đặng Đức"),  # Icelandic Ð from OCR becomes Đ
        ("LƯU ƯU ƠN", "Lưu Ưu Ơn"),
        ("H'HEN NIÊ", "H'Hen Niê"),
        ("Y-MOAN ÊBAN", "Y-Moan Êban"),
        ("", ""),
    ],
)
def test_proper_case_names(text: str, expected: str) -> None:
    assert proper_case_name(text) == expected


def test_proper_case_composes_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "NGUYỄN VĂN AN")
    result = proper_case_name(decomposed)
    assert result == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", result)


# --- diacritics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nguyễn Văn A", "Nguyen Van A"),
        ("Đặng Đình Đức", "Dang Dinh Duc"),
        ("đường Lê Lợi", "duong Le Loi"),
        ("Phường Bến Nghé, Quận 1", "Phuong Ben Nghe, Quan 1"),
        ("ĂÂÊÔƠƯ ăâêôơư", "AAEOOU aaeoou"),
        ("plain ASCII 123", "plain ASCII 123"),
    ],
)
def test_strip_diacritics(text: str, expected: str) -> None:
    assert strip_diacritics(text) == expected
    assert strip_diacritics(unicodedata.normalize("NFD", text)) == expected


_VIETNAMESE_LETTERS = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)


@given(st.text(alphabet=_VIETNAMESE_LETTERS + _VIETNAMESE_LETTERS.upper() + " "))
def test_stripped_vietnamese_is_ascii_and_same_length(text: str) -> None:
    stripped = strip_diacritics(text)
    assert stripped.isascii()
    assert len(stripped) == len(text)


@given(st.text(alphabet=_VIETNAMESE_LETTERS + _VIETNAMESE_LETTERS.upper() + " "))
def test_proper_case_keeps_letters_and_is_idempotent(text: str) -> None:
    once = proper_case_name(text)
    assert proper_case_name(once) == once
    assert once.casefold() == " ".join(text.split()).casefold()


def test_corrections_are_checked_by_type() -> None:
    from pipeline.validate import CorrectionRefusal, check_correction

    assert check_correction("date_of_birth", "12/03/1990") == ("1990-03-12", None)
    assert check_correction("date_of_birth", "29/02/2023")[0] is None
    assert check_correction("date_of_birth", "01/01/1850")[0] is None
    assert check_correction("sex", "NU") == ("Nữ", None)
    assert check_correction("sex", "x")[0] is None
    assert check_correction("id_number", "022 090 012 345") == ("022090012345", None)
    assert check_correction("id_number", "012345678")[0] is None  # keyed IDs are CCCDs
    assert check_correction("id_number", "023090012345")[0] is None  # 023: no province
    born = date(1990, 3, 12)
    assert check_correction("id_number", "022090012345", date_of_birth=born, sex="Nam")[1] is None
    problem = check_correction("id_number", "022190012345", date_of_birth=born, sex="Nam")[1]
    assert problem is not None and problem.code == "id_invalid"
    assert any("sex" in detail for detail in problem.details)
    assert check_correction("date_of_birth", "1990")[1] == CorrectionRefusal("date_format")
    assert check_correction("phone", "091.234.5678") == ("0912345678", None)
    assert check_correction("phone", "1234")[0] is None
    assert check_correction("dossier_code", "000.00.00.h49-251103-0042") == (
        "000.00.00.H49-251103-0042",
        None,
    )
    assert check_correction("full_name", "nguyễn  văn an") == ("Nguyễn Văn An", None)
    assert check_correction("full_name", "An 2")[0] is None
    assert check_correction("address", "  ")[0] is None
