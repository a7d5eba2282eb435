from __future__ import annotations

from models.codes import receiving_unit
from pipeline.extract import find_dossier_codes


def test_dossier_code_found_in_receipt_text() -> None:
    text = "GIẤY TIẾP NHẬN HỒ SƠ\nMã hồ sơ: 000.17.22.H56-210531-0001\nTiếp nhận hồ sơ của: ..."
    assert find_dossier_codes(text) == [("000.17.22.H56-210531-0001", False)]


def test_ocr_lookalikes_are_corrected_and_flagged() -> None:
    found = find_dossier_codes("Mã hồ sơ: OOO.l7.22.H56 - 2lO531-OO01")
    assert found == [("000.17.22.H56-210531-0001", True)]


def test_invalid_dates_and_wrong_shapes_are_not_codes() -> None:
    assert find_dossier_codes("000.17.22.H56-211331-0001") == []  # month 13
    assert find_dossier_codes("000.17.22.56-210531-0001") == []  # no letter
    assert find_dossier_codes("no code here") == []


def test_every_code_is_found_in_order() -> None:
    found = find_dossier_codes("000.17.22.H56-210531-0001 ... 000.00.14.H56-200203-0118")
    assert [code for code, _ in found] == ["000.17.22.H56-210531-0001", "000.00.14.H56-200203-0118"]


def test_receiving_unit_is_the_code_prefix() -> None:
    assert receiving_unit("000.00.00.H49-230101-0001") == "000.00.00.H49"
    assert receiving_unit("not a code") is None and receiving_unit(None) is None
