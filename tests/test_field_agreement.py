"""Values chosen by agreement with provenance; required fields follow the papers; agency check."""

from __future__ import annotations

import numpy as np

from config.catalogue import load_catalogue
from models.dossier import FieldState
from pipeline.barcodes import Barcode
from pipeline.classify import PageKind
from pipeline.fields import PageEvidence, extract_dossier_fields
from pipeline.handwriting import CropReading, HandwrittenArea
from pipeline.reasons import ReasonCode, parse_reason

CATALOGUE = load_catalogue()
R, F, ID = PageKind.RECEIPT, PageKind.APPLICATION_FORM, PageKind.ID_COPY
CODE = "000.00.00.H49-251103-0042"

RECEIPT_TEXT = f"""GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ
Mã hồ sơ: {CODE}
Tiếp nhận hồ sơ của: Nguyễn Văn An
Địa chỉ: Phường Hồng Hải, thành phố Hạ Long, tỉnh Quảng Ninh
Số điện thoại: 0912 345 678
Nội dung yêu cầu giải quyết: Đổi giấy phép lái xe"""
FORM_TEXT = """ĐỀ NGHỊ ĐỔI (CẤP LẠI) GIẤY PHÉP LÁI XE
Tôi là: NGUYỄN VĂN AN
Ngày tháng năm sinh: 12/03/1990
Số định danh cá nhân hoặc số Hộ chiếu: 022090012345"""
ID_TEXT = """CĂN CƯỚC CÔNG DÂN
Số / No.: 022090012345
Họ và tên / Full name: NGUYỄN VĂN AN
Ngày sinh / Date of birth: 12/03/1990
Giới tính / Sex: Nam"""
ID_QR = "022090012345|123456789|Nguyễn Văn An|12031990|Nam|Phường Hồng Hải, Hạ Long|15042021"


def qr(text: str) -> Barcode:
    return Barcode(text, "QRCode", 0.05, 0.05, 0.2, 0.15)


def test_one_wrong_source_against_three_agreeing_ones_is_outvoted_and_sent_to_review() -> None:
    # The chip QR (the strongest single source) reads another name; the receipt,
    # the form and the ID copy's printed text all read Nguyễn Văn An.
    wrong_qr = ID_QR.replace("Nguyễn Văn An", "Nguyễn Văn Bình")
    pages = [
        PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0),
        PageEvidence(1, F, FORM_TEXT, (), "doi-gplx", 90.0),
        PageEvidence(2, ID, ID_TEXT, (qr(wrong_qr),), None, 88.0),
    ]
    result = extract_dossier_fields(pages, CATALOGUE)
    name = result.fields["full_name"]
    assert name.value == "Nguyễn Văn An"  # the agreeing value is pre-selected
    assert name.needs_review and result.needs_review  # never archived silently
    # Every candidate is kept with its source: three for the value, one against it.
    by_value: dict[str, set[str]] = {}
    for candidate in name.candidates:
        by_value.setdefault(candidate.value, set()).add(candidate.paper)
    assert by_value["Nguyễn Văn Bình"] == {"citizen_id_qr"}
    agreeing = {v: p for v, p in by_value.items() if v != "Nguyễn Văn Bình"}
    assert set().union(*agreeing.values()) == {"receipt", "application_form", "id_copy"}
    conflict = [r for r in result.reasons if r.code is ReasonCode.CONFLICT]
    assert [r.field for r in conflict] == ["full_name"]
    # Places in the reader's words (the reason is shown as it is, on Vietnamese pages).
    assert "'Nguyễn Văn Bình' theo mã QR trên căn cước trang 3" in conflict[0].detail
    field, code, text = parse_reason(next(r for r in result.review_reasons if "full_name" in r))
    assert (field, code) == ("full_name", ReasonCode.CONFLICT) and "khác nhau" in text


def test_lone_wrong_ocr_reading_does_not_overrule_the_chip_qr_and_two_papers() -> None:
    form = FORM_TEXT.replace("12/03/1990", "12/08/1990")
    pages = [
        PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0),
        PageEvidence(1, F, form, (), "doi-gplx", 90.0),
        PageEvidence(2, ID, ID_TEXT, (qr(ID_QR),), None, 88.0),
    ]
    result = extract_dossier_fields(pages, CATALOGUE)
    birth = result.fields["date_of_birth"]
    assert birth.value == "1990-03-12" and birth.needs_review
    assert {c.value for c in birth.candidates} == {"1990-03-12", "1990-08-12"}


def test_agreeing_sources_need_no_review_and_raise_confidence() -> None:
    pages = [
        PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0),
        PageEvidence(1, F, FORM_TEXT, (), "doi-gplx", 90.0),
        PageEvidence(2, ID, ID_TEXT, (qr(ID_QR),), None, 88.0),
    ]
    result = extract_dossier_fields(pages, CATALOGUE)
    assert not result.needs_review, result.review_reasons
    assert result.fields["full_name"].confidence >= 0.97
    assert len(result.fields["id_number"].candidates) == 3  # QR, form, ID copy


def test_receipt_alone_needs_no_birth_date_or_sex() -> None:
    result = extract_dossier_fields([PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0)], CATALOGUE)
    missing = {(r.field, r.paper) for r in result.reasons if r.code is ReasonCode.MISSING}
    assert result.values["procedure"] == "doi-gplx"
    assert not any(field in {"date_of_birth", "sex"} for field, _ in missing)
    # The receipt carries no ID number either: nothing the papers should hold is missing.
    assert missing == set()


def test_form_without_id_copy_must_give_birth_date_itself() -> None:
    form = FORM_TEXT.replace("Ngày tháng năm sinh: 12/03/1990\n", "")
    pages = [
        PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0),
        PageEvidence(1, F, form, (), "doi-gplx", 90.0),
    ]
    result = extract_dossier_fields(pages, CATALOGUE)
    missing = [r for r in result.reasons if r.code is ReasonCode.MISSING]
    assert [(r.field, r.paper) for r in missing] == [("date_of_birth", "application_form")]
    assert "tờ khai" in missing[0].text_vi
    # The same form beside an ID copy: the copy should have had it too, and is named.
    with_copy = [*pages, PageEvidence(2, ID, "CĂN CƯỚC CÔNG DÂN\nSố / No.: 022090012345", ())]
    missing = [
        r
        for r in extract_dossier_fields(with_copy, CATALOGUE).reasons
        if r.code is ReasonCode.MISSING
    ]
    assert [(r.field, r.paper) for r in missing] == [("date_of_birth", "application_form|id_copy")]


def test_dossier_code_of_another_unit_than_the_upload_agency_is_flagged() -> None:
    pages = [PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0)]
    same = extract_dossier_fields(pages, CATALOGUE, agency_code="000.00.00.H49")
    assert not any(r.code is ReasonCode.AGENCY_MISMATCH for r in same.reasons)
    other = extract_dossier_fields(pages, CATALOGUE, agency_code="000.17.22.H56")
    flagged = [r for r in other.reasons if r.code is ReasonCode.AGENCY_MISMATCH]
    assert len(flagged) == 1 and other.needs_review
    assert "000.00.00.H49" in flagged[0].text_vi and "000.17.22.H56" in flagged[0].text_vi
    # An agency not named by a unit code cannot be compared: no flag either way.
    named = extract_dossier_fields(pages, CATALOGUE, agency_code="SGTVT-HN")
    assert not any(r.code is ReasonCode.AGENCY_MISMATCH for r in named.reasons)


class FakeReader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.seen: list[tuple[int, ...]] = []

    def read_crop(self, crop: np.ndarray) -> CropReading | None:
        self.seen.append(crop.shape)
        return CropReading(self.text, 0.62)


def test_handwritten_field_is_marked_with_its_crop_and_the_reader_only_suggests() -> None:
    form = FORM_TEXT.replace("NGUYỄN VĂN AN", "")
    crop = np.full((40, 300, 3), 255, np.uint8)
    area = HandwrittenArea("full_name", (0.3, 0.1, 0.9, 0.12), "crops/p1-full_name.png", crop)
    pages = [PageEvidence(0, F, form, (), "doi-gplx", 90.0, handwritten=(area,))]
    reader = FakeReader("Nguyễn Văn An")
    result = extract_dossier_fields(pages, CATALOGUE, crop_reader=reader)
    name = result.fields["full_name"]
    assert name.state == FieldState.HANDWRITTEN and name.value == "" and name.needs_review
    assert name.crop_key == "crops/p1-full_name.png"
    assert (name.suggestion, name.suggestion_confidence) == ("Nguyễn Văn An", 0.62)
    assert reader.seen == [(40, 300, 3)]
    assert "full_name" not in result.values  # a suggestion is never the value
    assert any(r.code is ReasonCode.HANDWRITTEN for r in result.reasons)
    # Without a reader: the same, no suggestion.
    plain = extract_dossier_fields(pages, CATALOGUE).fields["full_name"]
    assert plain.state == FieldState.HANDWRITTEN and plain.suggestion is None


def test_handwriting_beside_agreeing_papers_is_not_needed() -> None:
    form = FORM_TEXT.replace("NGUYỄN VĂN AN", "")
    area = HandwrittenArea("full_name", (0.3, 0.1, 0.9, 0.12), "k")
    pages = [
        PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0),
        PageEvidence(1, F, form, (), "doi-gplx", 90.0, handwritten=(area,)),
        PageEvidence(2, ID, ID_TEXT, (qr(ID_QR),), None, 88.0),
    ]
    result = extract_dossier_fields(pages, CATALOGUE)
    assert result.fields["full_name"].value == "Nguyễn Văn An"
    assert result.fields["full_name"].state != FieldState.HANDWRITTEN


def test_ocr_misreading_of_ink_gives_no_vote_but_is_kept() -> None:
    # OCR made "Tì canh" of the hand-written name: kept as a candidate, but it is the ink
    # the page step could not read, so it neither outvotes nor conflicts with the papers.
    form = FORM_TEXT.replace("NGUYỄN VĂN AN", "Tì canh")
    area = HandwrittenArea("full_name", (0.3, 0.1, 0.9, 0.12), "k")
    agreeing = [
        PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0),
        PageEvidence(1, F, form, (), "doi-gplx", 90.0, handwritten=(area,)),
        PageEvidence(2, ID, ID_TEXT, (qr(ID_QR),), None, 88.0),
    ]
    result = extract_dossier_fields(agreeing, CATALOGUE)
    name = result.fields["full_name"]
    assert name.value == "Nguyễn Văn An" and not name.needs_review
    assert name.candidates[-1].value == "Tì canh" and name.candidates[-1].confidence <= 0.2
    # With the receipt as the only other source, a person compares it with the crop.
    lone = extract_dossier_fields(agreeing[:2], CATALOGUE).fields["full_name"]
    assert (lone.value, lone.state, lone.crop_key, lone.needs_review) == (
        "Nguyễn Văn An",
        FieldState.HANDWRITTEN,
        "k",
        True,
    )


def test_values_read_again_from_the_unfaded_scan_replace_the_page_reading() -> None:
    form = FORM_TEXT.replace("NGUYỄN VĂN AN", "Tì canh").replace(": 022090012345", ": “")
    reread = (
        ("full_name", "Nguyễn Văn An", 96.0),
        ("id_number", "022090012345 ngày cấp: 15/04/2021", 93.0),  # cut at the next label
    )
    page = PageEvidence(1, F, form, (), "doi-gplx", 90.0, reread=reread)
    result = extract_dossier_fields(
        [PageEvidence(0, R, RECEIPT_TEXT, (), None, 92.0), page], CATALOGUE
    )
    assert (
        result.values["full_name"] == "Nguyễn Văn An"
        and not result.fields["full_name"].needs_review
    )
    assert result.values["id_number"] == "022090012345"
    assert all(c.value != "Tì canh" for c in result.fields["full_name"].candidates)


def test_the_english_half_of_a_card_label_is_never_a_value() -> None:
    """OCR misspells the card's English label ("/Ful Name"): it must not become a name that
    disagrees with every other paper; a value after it and a colon is kept."""
    from config.catalogue import load_catalogue
    from pipeline.fields import labelled_values

    form = load_catalogue().id_card
    found = labelled_values(
        "Họ và tên /Ful Name\nNơi thường trú /Phace of nesidence: Tổ 23, khu 1, Phường Kim",
        form,
    )
    assert "full_name" not in found
    assert found["address"] == "Tổ 23, khu 1, Phường Kim"
