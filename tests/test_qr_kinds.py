"""QR codes are classified before they are parsed, and only the card's own layout gives identity.

Issue 14: a receipt QR in TT 01/2023/TT-VPCP Art. 26 order (``dossier code | procedure code |
person's ID | paper name | issuing system | time``) was read "by content" as a chip-ID QR, and
the citizen's name became the issuing system, the birth date the receipt date.
"""

from __future__ import annotations

import json
import random
from datetime import date

import pytest

from config.catalogue import load_catalogue
from pipeline.barcodes import Barcode
from pipeline.classify import PageKind, classify_page
from pipeline.fields import PageEvidence, extract_dossier_fields
from pipeline.qrdata import SEPARATOR_PAYLOAD, QrKind, read_qr
from tests.dossiers import QR_STYLES, cccd_qr_payload, random_truth, receipt_qr_payload

CATALOGUE = load_catalogue()
CODE = "000.17.22.H56-210531-0001"
PROCEDURE = "1.011442.000.00.00.H38"
ADDRESS = "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh"
PAPER = "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"

# The failing payloads of the issue: Art. 26 order, issuing system "DVC", time as a date.
ART26_RECEIPTS = [
    f"{CODE}|{PROCEDURE}|001090123456|{PAPER}|DVC|25052023",
    f"{CODE}|{PROCEDURE}|001090123456|{PAPER}|DVC|25/05/2023",
    f"{CODE}|{PROCEDURE}|001090123456|{PAPER}|DVC|25052023|05062023",  # with appointment
    f"{CODE}|{PROCEDURE}|001090123456|{PAPER}|DVC|20230525143000",
]


def qr(text: str) -> Barcode:
    return Barcode(text, "QRCode", 0.05, 0.05, 0.2, 0.15)


# --- citizen ID --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"001090123456|012345678|Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021",  # 7 fields
        f"001090123456||Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021",  # 7, empty CMND
        f"001090123456|Nguyễn Văn A|01011990|Nam|{ADDRESS}|15042021",  # 6 fields
        f"001090123456|012345678|NGUYỄN VĂN A|01011990|NAM|{ADDRESS}|15042021\r\n",  # reader
    ],
)
def test_card_layouts_are_citizen_ids(text: str) -> None:
    reading = read_qr(text)
    assert reading.kind is QrKind.CITIZEN_ID and reading.receipt is None
    card = reading.citizen_id
    assert card is not None
    assert (card.id_number, card.date_of_birth, card.sex, card.address, card.issue_date) == (
        "001090123456",
        date(1990, 1, 1),
        "Nam",
        ADDRESS,
        date(2021, 4, 15),
    )
    assert card.full_name.casefold() == "nguyễn văn a"


def test_six_field_card_has_no_old_id() -> None:
    card = read_qr(f"079301000123|Trần Thị Bích Ngọc|02052001|Nữ|{ADDRESS}|10102022").citizen_id
    assert card is not None and card.old_id_number is None and card.sex == "Nữ"


# --- receipts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        *ART26_RECEIPTS,
        json.dumps({"maHoSo": CODE, "maTTHC": PROCEDURE, "soDinhDanh": "001090123456"}),
        json.dumps(
            {"MaHoSo": CODE, "TenGiay": PAPER, "HeThong": "DVC", "ThoiGian": "25/05/2023"},
            ensure_ascii=False,
        ),
        f"MHS={CODE};MTTHC={PROCEDURE};CCCD=001090123456;GIAY={PAPER};HT=DVC;TGCAP=25/05/2023",
        f"maHoSo={CODE}&cccd=001090123456&ngay=25052023",
        f"https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?maHoSo={CODE}&cccd=001090123456",
        f"https://motcua.quangninh.gov.vn/tra-cuu/{CODE}",
        CODE,
    ],
)
def test_receipts_are_receipts_and_never_citizen_ids(text: str) -> None:
    reading = read_qr(text)
    assert reading.kind is QrKind.RECEIPT
    assert reading.citizen_id is None
    assert reading.receipt is not None and reading.receipt.dossier_code == CODE


@pytest.mark.parametrize("text", ART26_RECEIPTS)
def test_art26_receipt_gives_dossier_code_and_id_only(text: str) -> None:
    receipt = read_qr(text).receipt
    assert receipt is not None
    assert (receipt.dossier_code, receipt.procedure_code, receipt.id_number) == (
        CODE,
        PROCEDURE,
        "001090123456",
    )
    pages = [PageEvidence(0, PageKind.RECEIPT, "", (qr(text),), None, None)]
    values = extract_dossier_fields(pages, CATALOGUE).values
    assert values.keys() <= {"dossier_code", "id_number", "procedure"}
    assert values["dossier_code"] == CODE and values["id_number"] == "001090123456"


@pytest.mark.parametrize("style", QR_STYLES)
def test_generated_dossier_qrs_are_read_by_kind(style: str) -> None:
    rng = random.Random(14)
    for _ in range(20):  # with and without an old CMND: both card layouts
        truth = random_truth(rng, qr_style=style)
        assert read_qr(receipt_qr_payload(truth)).kind is QrKind.RECEIPT
        assert read_qr(cccd_qr_payload(truth.person)).kind is QrKind.CITIZEN_ID


# --- separator and unknown ---------------------------------------------------------------------


def test_separator_is_separator() -> None:
    assert read_qr(SEPARATOR_PAYLOAD).kind is QrKind.SEPARATOR
    assert read_qr(f"\ufeff{SEPARATOR_PAYLOAD}\n").kind is QrKind.SEPARATOR
    assert read_qr("SOHOA:SEPARATOR:v2").kind is QrKind.UNKNOWN  # a future sheet: not ours yet


UNKNOWN_QRS = [
    # Bank transfer VietQR (EMVCo): digits, a bank BIN, an account, an amount, a note.
    "00020101021238570010A00000072701270006970422011300123456789010208QRIBFTTA"
    "53037045405150005802VN62270823Thanh toan phi 25052023630439A1",
    "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
    "https://zalo.me/0912345678?name=Nguyen%20Van%20A&dob=01011990",
    "WIFI:T:WPA;S:UBND-Phuong;P:12345678;;",
    "Nguyễn Văn A|01011990|Nam",
    "001090123456|Nguyễn Văn A|01011990|Hà Nội",  # card-like, but not the card's layout
]


@pytest.mark.parametrize("text", UNKNOWN_QRS)
def test_unknown_qrs_are_kept_and_give_no_fields(text: str) -> None:
    reading = read_qr(text)
    assert reading.kind is QrKind.UNKNOWN and reading.text == text
    assert reading.citizen_id is None and reading.receipt is None
    page = PageEvidence(0, PageKind.OTHER, "", (qr(text),), None, None)
    assert extract_dossier_fields([page], CATALOGUE).values == {}
    assert classify_page("", (qr(text),), blank=True, catalogue=CATALOGUE).kind is PageKind.OTHER


# --- end to end through field extraction -------------------------------------------------------

RECEIPT_TEXT = """GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ
Mã hồ sơ: 000.00.00.H49-251103-0042
Tiếp nhận hồ sơ của: Nguyễn Văn An
Địa chỉ: Phường Hồng Hải, thành phố Hạ Long, tỉnh Quảng Ninh
Số điện thoại: 0912 345 678 Email: an.nguyen@example.vn
Nội dung yêu cầu giải quyết: Đổi giấy phép lái xe"""

FORM_TEXT = """ĐỀ NGHỊ ĐỔI (CẤP LẠI) GIẤY PHÉP LÁI XE
Tôi là: NGUYỄN VĂN AN
Ngày tháng năm sinh: 12/03/1990
Số định danh cá nhân hoặc số Hộ chiếu: 022090012345 ngày cấp: 15/04/2021 nơi cấp: Cục CS"""


def test_art26_receipt_qr_does_not_overrule_ocr_name_and_birth_date() -> None:
    art26 = f"000.00.00.H49-251103-0042|{PROCEDURE}|022090012345|{PAPER}|DVC|03112025"
    pages = [
        PageEvidence(0, PageKind.RECEIPT, RECEIPT_TEXT, (qr(art26),), None, 92.0),
        PageEvidence(1, PageKind.APPLICATION_FORM, FORM_TEXT, (), "doi-gplx", 90.0),
    ]
    result = extract_dossier_fields(pages, CATALOGUE)
    assert result.values["full_name"] == "Nguyễn Văn An"
    assert result.values["date_of_birth"] == "1990-03-12"
    assert result.values["address"].startswith("Phường Hồng Hải")
    assert result.values["dossier_code"] == "000.00.00.H49-251103-0042"
    assert result.values["id_number"] == "022090012345"
    for name in ("full_name", "date_of_birth", "address"):
        assert result.fields[name].source == "ocr"
        assert not result.fields[name].needs_review, result.fields[name].note
    assert result.fields["dossier_code"].source == "qr"


def test_the_codes_on_a_dossiers_paper_are_read_from_a_colour_page() -> None:
    """QR codes and Code 128 are looked for (nothing else, see barcodes.FORMATS)."""
    import numpy as np
    import zxingcpp

    from pipeline.barcodes import read_barcodes, render_qr

    page = np.full((900, 700, 3), 245, dtype=np.uint8)
    qr = render_qr("000.17.22.H56-210531-0001", module_px=6)
    page[40 : 40 + qr.shape[0], 40 : 40 + qr.shape[1]] = qr[:, :, None]
    linear = zxingcpp.create_barcode("H56-0001", zxingcpp.BarcodeFormat.Code128)
    bars = np.asarray(linear.to_image(scale=3, add_quiet_zones=True))
    bars = bars[:, :, 0] if bars.ndim == 3 else bars
    bars = np.repeat(bars[:1], 80, axis=0) if bars.shape[0] < 10 else bars
    page[600 : 600 + bars.shape[0], 40 : 40 + bars.shape[1]] = bars[:, :, None]
    found = read_barcodes(page)
    assert [(b.text, b.format) for b in found] == [
        ("000.17.22.H56-210531-0001", "QR Code"),
        ("H56-0001", "Code 128"),
    ]
