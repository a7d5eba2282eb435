"""Classification, splitting and field extraction on text and QR payloads (no OCR here)."""

from __future__ import annotations

from config.catalogue import DEFAULT_CATALOGUE, load_catalogue, parse_catalogue
from pipeline.barcodes import Barcode
from pipeline.classify import PageKind, classify_page
from pipeline.fields import PageEvidence, extract_dossier_fields, labelled_values
from pipeline.qrdata import SEPARATOR_PAYLOAD
from pipeline.reasons import ReasonCode
from pipeline.split import plan_dossiers

CATALOGUE = load_catalogue()
R, F, ID, S, B, OTHER = (
    PageKind.RECEIPT,
    PageKind.APPLICATION_FORM,
    PageKind.ID_COPY,
    PageKind.SEPARATOR,
    PageKind.BLANK,
    PageKind.OTHER,
)

RECEIPT_TEXT = """UBND TỈNH QUẢNG NINH
TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG
GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ
Mã hồ sơ: 000.00.00.H49-251103-0042
Tiếp nhận hồ sơ của: Nguyễn Văn An
Địa chỉ: Phường Hồng Hải, thành phố Hạ Long, tỉnh Quảng Ninh
Số điện thoại: 0912 345 678 Email: an.nguyen@example.vn
Nội dung yêu cầu giải quyết: Đổi giấy phép lái xe"""

FORM_TEXT = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
ĐỀ NGHỊ ĐỔI (CẤP LẠI) GIẤY PHÉP LÁI XE
Kính gửi: Sở Xây dựng tỉnh Quảng Ninh
Tôi là: NGUYỄN VĂN AN
Ngày tháng năm sinh: 12/03/1990
Số định danh cá nhân hoặc số Hộ chiếu: 022090012345 ngày cấp: 15/04/2021 nơi cấp: Cục CS"""

ID_QR = (
    "022090012345|123456789|Nguyễn Văn An|12031990|Nam|"
    "Phường Hồng Hải, Hạ Long, Quảng Ninh|15042021"
)
RECEIPT_QR = '{"MaHoSo": "000.00.00.H49-251103-0042", "MaTTHC": "1.011442.000.00.00.H38"}'


def qr(text: str) -> Barcode:
    return Barcode(text, "QR Code", 0.05, 0.05, 0.2, 0.15)


def test_split_on_receipts_and_separators() -> None:
    assert plan_dossiers([R, F, ID, R, F, R, ID]) == [[0, 1, 2], [3, 4], [5, 6]]
    assert plan_dossiers([F, ID, S, F, S, S, OTHER]) == [[0, 1], [3], [6]]
    assert plan_dossiers([OTHER, F, B]) == [[0, 1, 2]]  # neither: one dossier
    assert plan_dossiers([B, R, F, B, R, F]) == [[0, 1, 2, 3], [4, 5]]  # blank back stays
    assert plan_dossiers([F, R, F]) == [[0], [1, 2]]  # nothing before a receipt is lost
    assert plan_dossiers([S]) == [[0]]


def test_classification_by_title_and_qr() -> None:
    assert classify_page(RECEIPT_TEXT, (), blank=False, catalogue=CATALOGUE).kind is R
    form = classify_page(FORM_TEXT, (), blank=False, catalogue=CATALOGUE)
    assert (form.kind, form.procedure_id) == (F, "doi-gplx")
    assert classify_page("", (qr(ID_QR),), blank=False, catalogue=CATALOGUE).kind is ID
    assert classify_page("", (qr(SEPARATOR_PAYLOAD),), blank=False, catalogue=CATALOGUE).kind is S
    assert classify_page("", (), blank=True, catalogue=CATALOGUE).kind is B
    # Body text that only mentions a receipt is not a receipt.
    mention = "Người nộp mang theo giấy tiếp nhận hồ sơ và hẹn trả kết quả khi đến nhận."
    assert classify_page(mention, (), blank=False, catalogue=CATALOGUE).kind is OTHER


def test_labelled_values_stop_at_the_next_label() -> None:
    values = labelled_values(RECEIPT_TEXT, CATALOGUE.receipt)
    assert values["full_name"] == "Nguyễn Văn An"
    assert values["phone"].startswith("0912 345 678")
    assert "Email" not in values["phone"]
    assert values["address"].startswith("Phường Hồng Hải")


def _dossier(*, form_text: str = FORM_TEXT, id_qr: str = ID_QR) -> list[PageEvidence]:
    return [
        PageEvidence(0, R, RECEIPT_TEXT, (qr(RECEIPT_QR),), None, 92.0),
        PageEvidence(1, F, form_text, (), "doi-gplx", 90.0),
        PageEvidence(2, ID, "", (qr(id_qr),), None, None),
    ]


def test_fields_from_qr_and_ocr_agree() -> None:
    result = extract_dossier_fields(_dossier(), CATALOGUE)
    assert result.values == {
        "dossier_code": "000.00.00.H49-251103-0042",
        "procedure": "doi-gplx",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "1990-03-12",
        "sex": "Nam",
        "id_number": "022090012345",
        "address": "Phường Hồng Hải, Hạ Long, Quảng Ninh",
        "phone": "0912345678",
    }
    assert result.fields["dossier_code"].source == "qr"
    assert result.fields["full_name"].source == "qr"
    assert result.fields["phone"].source == "ocr"
    assert not result.fields["id_number"].needs_review
    assert not result.needs_review, result.review_reasons


def test_contradictions_are_flagged_not_fixed() -> None:
    wrong_form = FORM_TEXT.replace("12/03/1990", "12/03/1991")
    result = extract_dossier_fields(_dossier(form_text=wrong_form), CATALOGUE)
    birth = result.fields["date_of_birth"]
    assert birth.value == "1990-03-12"  # the QR's reading, kept as read
    assert birth.needs_review and "1991-03-12" in (birth.note or "")
    assert result.needs_review


def test_citizen_id_that_contradicts_birth_year_and_sex_needs_review() -> None:
    # digit 4 = 3 (female, 2000s) and digits 5-6 = 05, but the card says male, born 1990
    bad_qr = ID_QR.replace("022090012345", "022305012345")
    form = FORM_TEXT.replace("022090012345", "022305012345")
    result = extract_dossier_fields(_dossier(form_text=form, id_qr=bad_qr), CATALOGUE)
    assert result.fields["id_number"].needs_review
    assert any("id_number" in reason for reason in result.review_reasons)


def test_unreadable_qr_and_missing_receipt_flag_review_without_crashing() -> None:
    pages = [PageEvidence(0, F, FORM_TEXT, (qr("garbage ###"),), "doi-gplx", 85.0)]
    result = extract_dossier_fields(pages, CATALOGUE)
    assert result.values["full_name"] == "Nguyễn Văn An"
    missing = [r for r in result.reasons if r.code is ReasonCode.MISSING]
    assert [(r.field, r.paper) for r in missing] == [("dossier_code", "receipt")]
    assert result.review_reasons[0].startswith("dossier_code: missing: ")


def test_a_new_procedure_needs_no_code() -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    text += """
[procedures.ho-chieu]
name = "Cấp hộ chiếu phổ thông"
keywords = ["hộ chiếu"]
form_titles = ["TỜ KHAI ĐỀ NGHỊ CẤP HỘ CHIẾU PHỔ THÔNG"]
required = ["full_name"]
[procedures.ho-chieu.labels]
full_name = ["Họ, chữ đệm và tên"]
"""
    catalogue = parse_catalogue(text)
    page_text = "TỜ KHAI ĐỀ NGHỊ CẤP HỘ CHIẾU PHỔ THÔNG\nHọ, chữ đệm và tên: LÊ THỊ BÌNH"
    page_class = classify_page(page_text, (), blank=False, catalogue=catalogue)
    assert (page_class.kind, page_class.procedure_id) == (F, "ho-chieu")
    page = PageEvidence(0, F, page_text, (), "ho-chieu", 90.0)
    result = extract_dossier_fields([page], catalogue)
    assert result.values["full_name"] == "Lê Thị Bình"
    assert result.values["procedure"] == "ho-chieu"
