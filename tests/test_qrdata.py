from __future__ import annotations

import json
import unicodedata
from datetime import date

import pytest

from pipeline.qrdata import (
    SEPARATOR_PAYLOAD,
    CitizenIdQr,
    ReceiptQr,
    is_separator,
    parse_citizen_id_qr,
    parse_receipt_qr,
)
from pipeline.validate import check_citizen_id

ADDRESS = "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh"
CODE = "000.17.22.H56-210531-0001"
PROCEDURE = "1.011442.000.00.00.H38"
EXPECTED = CitizenIdQr(
    id_number="001090123456",
    old_id_number="012345678",
    full_name="Nguyễn Văn A",
    date_of_birth=date(1990, 1, 1),
    sex="Nam",
    address=ADDRESS,
    issue_date=date(2021, 4, 15),
)

# --- citizen ID QR ----------------------------------------------------------------------------


def test_seven_field_card_qr() -> None:
    text = f"001090123456|012345678|Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021"
    parsed = parse_citizen_id_qr(text)
    assert parsed == EXPECTED
    assert parsed is not None
    assert not check_citizen_id(
        parsed.id_number, date_of_birth=parsed.date_of_birth, sex=parsed.sex
    )


def test_seven_field_card_qr_with_empty_cmnd() -> None:
    text = f"001090123456||Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021"
    parsed = parse_citizen_id_qr(text)
    assert parsed is not None
    assert parsed.old_id_number is None
    assert parsed.full_name == "Nguyễn Văn A" and parsed.address == ADDRESS
    assert parsed.issue_date == date(2021, 4, 15)


def test_six_field_card_qr_without_cmnd() -> None:
    text = f"079301000123|Trần Thị Bích Ngọc|02052001|Nữ|{ADDRESS}|10102022"
    assert parse_citizen_id_qr(text) == CitizenIdQr(
        id_number="079301000123",
        old_id_number=None,
        full_name="Trần Thị Bích Ngọc",
        date_of_birth=date(2001, 5, 2),
        sex="Nữ",
        address=ADDRESS,
        issue_date=date(2022, 10, 10),
    )


def test_extra_whitespace_and_line_endings_are_tolerated() -> None:
    text = (
        "  001090123456 | 012345678 |  Nguyễn   Văn A |01011990 | Nam |  "
        "Phường Bến Nghé,  Quận 1, TP. Hồ Chí Minh |15042021\r\n"
    )
    assert parse_citizen_id_qr(text) == EXPECTED


def test_decomposed_unicode_is_returned_as_nfc() -> None:
    text = unicodedata.normalize(
        "NFD", f"001090123456|012345678|Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021"
    )
    assert parse_citizen_id_qr(text) == EXPECTED


def test_address_without_digits_is_not_taken_for_the_name() -> None:
    address = "Xã Yên Sở Huyện Hoài Đức Hà Nội"
    parsed = parse_citizen_id_qr(f"001090123456||Lê Thị Hoa|01011990|Nữ|{address}|15042021")
    assert parsed is not None
    assert parsed.full_name == "Lê Thị Hoa"
    assert parsed.address == address


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "012345678|Nguyễn Văn A|01011990|Nam|Hà Nội|15042021",  # no 12-digit CCCD
        "001090123456",  # number only
        "001090123456|Nguyễn Văn A|Nam|Hà Nội",  # no birth date
        "001090123456|01011990|Nam|15042021",  # no name
        "000.17.22.H56-210531-0001",
        "https://dichvucong.gov.vn/",
        "0010901234567|Nguyễn Văn A|01011990|Nam|Hà Nội|15042021",  # 13 digits
        # Identity-looking data outside the card's layout is not read as a card (it used to
        # be, "by content"; a receipt in Art. 26 order was then taken for one).
        f"Nam|15042021|{ADDRESS}|Nguyễn Văn A|01011990|012345678|001090123456",  # reordered
        f"001090123456|Nguyễn Văn A|01011990|{ADDRESS}",  # no sex, no issue date
        f"001090123456|012345678|Nguyễn Văn A|15042021|Nam|{ADDRESS}|01011990",  # issued first
        f"001090123456|012345678|Nguyễn Văn A|01/01/1990|Nam|{ADDRESS}|15042021",  # not ddmmyyyy
        f"001090123456|012345678|Nguyễn Văn A|01011990|Ông|{ADDRESS}|15042021",  # no sex
        "001090123456|012345678|Nguyễn Văn A|01011990|Nam||15042021",  # no address
        f"001090123456|0123|Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021",  # CMND not 9 digits
        f"001090123456|012345678|Nguyễn Văn A 2|01011990|Nam|{ADDRESS}|15042021",  # digit in name
        f"001090123456|012345678|Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021|extra",  # 8 fields
        f"{CODE}|{PROCEDURE}|001090123456|Giấy tiếp nhận hồ sơ|DVC|25052023",  # Art. 26 receipt
    ],
)
def test_garbage_is_not_a_citizen_id_qr(text: str) -> None:
    assert parse_citizen_id_qr(text) is None


# --- receipt QR -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"MaHoSo": CODE, "MaTTHC": PROCEDURE, "SoCCCD": "001090123456"},
        {"maHoSo": CODE, "maTTHC": PROCEDURE, "soDinhDanh": "001090123456"},
        {"ma_ho_so": CODE, "ma_tthc": PROCEDURE, "cccd": "001090123456"},
        {"dossierCode": CODE, "procedureCode": PROCEDURE, "citizenId": "001090123456"},
        {"data": {"MaHoSo": CODE, "ThuTuc": {"MaTTHC": PROCEDURE}}, "ids": ["001090123456"]},
        {"Mã hồ sơ": CODE, "Mã TTHC": PROCEDURE, "Số định danh": "001090123456"},
    ],
)
def test_json_receipts(payload: dict[str, object]) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    assert parse_receipt_qr(text) == ReceiptQr(CODE, PROCEDURE, "001090123456", text)


def test_json_key_wins_over_another_code_in_the_text() -> None:
    other = "000.00.14.H56-200203-0118"
    text = json.dumps({"GhiChu": f"thay cho {other}", "MaHoSo": CODE})
    parsed = parse_receipt_qr(text)
    assert parsed is not None and parsed.dossier_code == CODE


def test_json_with_timestamp_and_appointment_fields() -> None:
    text = json.dumps(
        {
            "MaHoSo": CODE,
            "MaTTHC": PROCEDURE,
            "TenGiayTo": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
            "HeThong": "DVC tỉnh",
            "ThoiGian": "202305251430",
            "NgayHenTra": "2023-06-05",
            "MaDinhDanh": "001090123456",
        },
        ensure_ascii=False,
    )
    parsed = parse_receipt_qr(text)
    assert parsed is not None
    assert (parsed.dossier_code, parsed.procedure_code, parsed.id_number) == (
        CODE,
        PROCEDURE,
        "001090123456",
    )


@pytest.mark.parametrize(
    "text",
    [
        f"MaHoSo={CODE};MaTTHC={PROCEDURE};CCCD=001090123456",
        f"MaHoSo={CODE}&MaTTHC={PROCEDURE}&CCCD=001090123456",
        f"MaHoSo: {CODE}\nMaTTHC: {PROCEDURE}\nCCCD: 001090123456\n",
        f"https://dichvucong.gov.vn/tra-cuu?maHoSo={CODE}&maTTHC={PROCEDURE}&cccd=001090123456",
        f"  ma_ho_so = {CODE} ;  ma_tthc = {PROCEDURE} ; so_cccd = 001 090 123 456 ",
    ],
)
def test_key_value_receipts(text: str) -> None:
    assert parse_receipt_qr(text) == ReceiptQr(CODE, PROCEDURE, "001090123456", text)


@pytest.mark.parametrize(
    "text",
    [
        f"{CODE}|{PROCEDURE}|001090123456",
        f"{CODE}|{PROCEDURE}|001090123456|Giấy tiếp nhận|DVC|25/05/2023 14:30",
        f"001090123456|{PROCEDURE}|{CODE}",
        f" {CODE} | {PROCEDURE} | 001090123456 ",
    ],
)
def test_pipe_separated_receipts(text: str) -> None:
    assert parse_receipt_qr(text) == ReceiptQr(CODE, PROCEDURE, "001090123456", text)


def test_bare_dossier_code() -> None:
    assert parse_receipt_qr(CODE) == ReceiptQr(CODE, None, None, CODE)
    assert parse_receipt_qr(f"  {CODE}\n") == ReceiptQr(CODE, None, None, f"  {CODE}\n")


def test_old_nine_digit_id_is_found() -> None:
    parsed = parse_receipt_qr(f"{CODE}|{PROCEDURE}|012345678")
    assert parsed is not None and parsed.id_number == "012345678"


def test_twelve_digit_timestamps_are_not_ids() -> None:
    parsed = parse_receipt_qr(f"{CODE}|{PROCEDURE}|202305251430")
    assert parsed is not None and parsed.id_number is None
    parsed = parse_receipt_qr(f"{CODE}|202305251430|012345678")
    assert parsed is not None and parsed.id_number == "012345678"


def test_procedure_code_needs_its_full_shape() -> None:
    parsed = parse_receipt_qr(f"{CODE}|1.011442.000.00.H38|21.011442.000.00.00.H38")
    assert parsed is not None and parsed.procedure_code is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "001090123456",
        PROCEDURE,
        json.dumps({"MaHoSo": "", "MaTTHC": PROCEDURE}),
        json.dumps({"MaHoSo": "000.17.22.H56-211331-0001"}),  # month 13
        "{not json at all",
        "000.17.22.56-210531-0001",
        SEPARATOR_PAYLOAD,
    ],
)
def test_receipt_garbage_is_none(text: str) -> None:
    assert parse_receipt_qr(text) is None


# --- separator sheets -------------------------------------------------------------------------


def test_separator_payload() -> None:
    assert SEPARATOR_PAYLOAD == "SOHOA:SEPARATOR:v1"
    assert is_separator(SEPARATOR_PAYLOAD)
    assert is_separator(f"  {SEPARATOR_PAYLOAD}\r\n")
    assert is_separator("\ufeffsohoa:separator:V1")


@pytest.mark.parametrize(
    "text", ["", "SOHOA:SEPARATOR", "SOHOA:SEPARATOR:v2", "SOHOA:SEPARATOR:v1 extra", CODE]
)
def test_not_separators(text: str) -> None:
    assert not is_separator(text)
