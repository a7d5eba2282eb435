from __future__ import annotations

from pipeline.extract import extract_fields, find_dossier_codes


def test_dossier_code_found_in_receipt_text() -> None:
    text = "GIẤY TIẾP NHẬN HỒ SƠ\nMã hồ sơ: 000.17.22.H56-210531-0001\nTiếp nhận hồ sơ của: ..."
    fields = extract_fields(text)
    assert fields.dossier_code == "000.17.22.H56-210531-0001"
    assert not fields.fields["dossier_code"].needs_review


def test_ocr_lookalikes_are_corrected_and_flagged() -> None:
    fields = extract_fields("Mã hồ sơ: OOO.l7.22.H56 - 2lO531-OO01")
    assert fields.dossier_code == "000.17.22.H56-210531-0001"
    assert fields.fields["dossier_code"].needs_review


def test_invalid_dates_and_wrong_shapes_are_not_codes() -> None:
    assert find_dossier_codes("000.17.22.H56-211331-0001") == []  # month 13
    assert find_dossier_codes("000.17.22.56-210531-0001") == []  # no letter
    assert extract_fields("no code here").fields == {}


def test_conflicting_codes_need_review() -> None:
    fields = extract_fields("000.17.22.H56-210531-0001 ... 000.00.14.H56-200203-0118")
    code = fields.fields["dossier_code"]
    assert code.needs_review and "several" in (code.note or "")
