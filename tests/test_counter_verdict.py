"""The counter's verdict (issue 26): every defect named in the clerk's words with what to do,
no alarm on a clean dossier, the procedure's papers checked from the catalogue."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.counter_words import verdict_view
from app.i18n import load_messages
from config.catalogue import load_catalogue
from models import DossierInfo, DossierStatus, PageInfo
from models.dossier import FieldInfo
from models.pagerecord import OcrWord, colour_warning
from pipeline.counter import ProblemCode, Verdict, counter_verdict
from pipeline.edges import cut_off_warning, edge_cut_off
from pipeline.reasons import ReasonCode, ReviewReason

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
WORDS = load_messages("vi")
CATALOGUE = load_catalogue()
# What no clerk should read: the pipeline's English and internal keys.
ENGLISH = re.compile(
    r"\b(page|receipt|application_form|id_copy|colour|dpi required|blank|cut_off|"
    r"missing_paper|procedure_unknown|field|scan it again|None)\b"
)


def _page(index: int, kind: str, **changes: Any) -> PageInfo:
    return replace(
        PageInfo(index=index, width_px=1654, height_px=2339, dpi=200.0, ocr_confidence=91.0),
        kind=kind,
        **changes,
    )


def _dossier(pages: list[PageInfo], **changes: Any) -> DossierInfo:
    info = DossierInfo(
        dossier_id="20261204-090000-abcdef-001",
        batch_id="20261204-090000-abcdef",
        source_name="hoso.pdf",
        status=DossierStatus.ARCHIVED,
        page_count=len(pages),
        created_at=NOW,
        updated_at=NOW,
        dossier_code="000.00.00.H49-261204-0001",
        pages=tuple(pages),
        procedure="lltp",
    )
    return replace(info, **changes)


def _complete() -> list[PageInfo]:
    return [_page(0, "receipt"), _page(1, "application_form"), _page(2, "id_copy")]


def _said(info: DossierInfo) -> dict[str, Any]:
    view = verdict_view(counter_verdict(info, CATALOGUE), WORDS, file=info.source_name)
    everything = " ".join([view["headline"], view["found"], *(x["text"] for x in view["lines"])])
    assert not ENGLISH.search(everything), everything
    return view


def _rescans(view: dict[str, Any]) -> list[str]:
    return [line["text"] for line in view["lines"] if line["severity"] == "rescan"]


def test_clean_complete_dossier_raises_no_alarm() -> None:
    view = _said(_dossier(_complete()))
    assert view["verdict"] == "complete"
    assert view["headline"] == "Đủ giấy tờ và đọc rõ"
    assert view["found"] == (
        "Đã có: Giấy tiếp nhận (trang 1); Đơn đề nghị (trang 2); Bản sao căn cước (trang 3)"
    )
    assert view["lines"] == [] and view["missing"] == []


def test_missing_paper_is_named_from_the_procedure_catalogue() -> None:
    view = _said(_dossier(_complete()[:2]))
    assert view["verdict"] == "incomplete"
    assert _rescans(view) == [
        "Thiếu Bản chụp căn cước hoặc hộ chiếu: đề nghị công dân bổ sung, quét thêm vào hồ sơ này"
    ]
    assert view["missing"] == [
        {"name": "Bản chụp căn cước hoặc hộ chiếu", "kind": "id_copy", "code": None}
    ]


def test_a_paper_no_page_kind_recognises_is_left_to_the_clerk_not_judged() -> None:
    gplx = [replace(p, index=i) for i, p in enumerate(_complete())]
    view = _said(_dossier(gplx, procedure="doi-gplx"))
    assert view["verdict"] == "complete"
    assert [x["name"] for x in view["check_by_eye"]] == ["Giấy khám sức khỏe của người lái xe"]
    assert view["lines"] == [
        {
            "severity": "note",
            "text": "Máy không tự nhận ra, hãy kiểm tra bằng mắt: "
            "Giấy khám sức khỏe của người lái xe",
        }
    ]


@pytest.mark.parametrize(
    ("warning", "said"),
    [
        (
            colour_warning("bilevel").text,
            "Trang 2: bản quét không phải màu (đen trắng) — quét lại bằng màu",
        ),
        (
            colour_warning("grey").text,
            "Trang 2: bản quét không phải màu (ảnh xám) — quét lại bằng màu",
        ),
        (
            "scanned at about 68 dpi (measured from the letters), under the 200 dpi required",
            "Trang 2: độ phân giải khoảng 68 dpi, dưới 200 dpi — quét lại ở 200 dpi trở lên",
        ),
        (
            cut_off_warning("left").text,
            "Trang 2: chữ bị cắt ở mép trái — đặt lại giấy ngay ngắn và quét lại trang",
        ),
    ],
)  # fmt: skip
def test_each_page_defect_is_named_with_what_to_do(warning: str, said: str) -> None:
    pages = _complete()
    pages[1] = replace(pages[1], warnings=(warning,), dpi=68.0)
    view = _said(_dossier(pages))
    assert view["verdict"] == "incomplete"
    assert _rescans(view) == [said]


def test_blurred_page_is_rescanned_blank_and_turned_pages_are_notes() -> None:
    pages = [*_complete(), _page(3, "blank", blank=True, ocr_confidence=None)]
    pages[1] = replace(pages[1], rotation=180)
    view = _said(_dossier(pages))
    assert view["verdict"] == "complete"  # notes alone are no alarm
    assert [line["text"] for line in view["lines"]] == [
        "Trang 2: bị ngược hoặc xoay ngang, đã tự xoay lại",
        "Trang 4: trang trắng — kiểm tra đã quét đúng mặt giấy chưa",
    ]
    pages[2] = replace(pages[2], ocr_confidence=31.0)
    assert _rescans(_said(_dossier(pages))) == [
        "Trang 3: chữ mờ, máy đọc rất kém — quét lại cho rõ"
    ]


def test_unknown_procedure_is_said_not_guessed() -> None:
    view = _said(_dossier(_complete()[:1], procedure=None))
    assert view["verdict"] == "check"
    assert view["missing"] == [] and not view["procedure_known"]
    assert [line["text"] for line in view["lines"]] == [
        "Không nhận ra thủ tục: chưa kiểm tra được thành phần hồ sơ"
    ]


def test_fields_that_need_a_person_are_named_in_words() -> None:
    reason = ReviewReason("full_name", ReasonCode.MISSING, "application_form")
    field = FieldInfo("date_of_birth", "01/01/1990", "ocr", 0.4, True)
    view = _said(
        _dossier(
            _complete(), review_reasons=(reason.line(),), field_details=(field,), needs_review=True
        )
    )
    # Named, but no reason to hold the citizen: the papers are all there and legible.
    assert view["verdict"] == "complete"
    assert view["headline"] == "Đủ giấy tờ và đọc rõ; vài thông tin sẽ được người kiểm tra lại"
    assert view["fields_to_check"] == ["full_name", "date_of_birth"]
    assert [line["text"] for line in view["lines"]] == [
        "Cần kiểm tra Họ và tên: không tìm thấy họ và tên trên tờ khai / đơn đề nghị",
        "Cần kiểm tra: Ngày sinh",
    ]


def test_a_file_not_taken_in_says_why_and_to_send_it_again() -> None:
    error = (
        "hoso.pdf: truncated file: only 1 of 3 pages can be read "
        "(the end of the file is missing); send the file again"
    )
    view = _said(_dossier([], status=DossierStatus.FAILED, error=error, procedure=None))
    assert view["verdict"] == "failed" and view["headline"] == "Không nhận được tệp"
    assert _rescans(view) == ["hoso.pdf: tệp bị cắt cụt: chỉ đọc được 1/3 trang — gửi lại tệp"]


def test_every_problem_code_has_words_in_every_catalogue() -> None:
    for locale in ("vi", "en"):
        section = load_messages(locale).sections["counter"]
        for code in ProblemCode:
            if code not in (ProblemCode.MISSING_PAPER, ProblemCode.FIELD):
                assert str(code) in section, (locale, code)
        for verdict in Verdict:
            assert f"verdict_{verdict}" in section, (locale, verdict)


def _word(text: str, left: int, top: int, width: int = 120, height: int = 30) -> OcrWord:
    return OcrWord(text, left, top, width, height, 90.0, 1, 1, 1)


def test_text_running_off_an_edge_is_a_cut_off_page() -> None:
    inside = [_word("Họ", 150, 200 + 50 * i) for i in range(20)]
    assert edge_cut_off(inside, 1654, 2339) is None
    # Line starts cut by the left edge: the halves of words sit at x = 0.
    cut = inside + [_word("ên:", 0, 200 + 50 * i) for i in range(4)]
    assert edge_cut_off(cut, 1654, 2339) == "left"
    # A page number or a speck near an edge is not a cut.
    near = [*inside, _word("12", 1654 - 40, 2300, 40, 30), _word("·", 0, 10, 5, 5)]
    assert edge_cut_off(near, 1654, 2339) is None
    bottom = inside + [_word("dòng", 200 + 130 * i, 2339 - 20, 120, 20) for i in range(5)]
    assert edge_cut_off(bottom, 1654, 2339) == "bottom"


def test_catalogue_papers_are_checked_when_loaded(tmp_path: Path) -> None:
    from config.catalogue import parse_catalogue

    with pytest.raises(ValueError, match="paper kind 'passport'"):
        parse_catalogue('[[procedures.x.papers]]\nname = "Hộ chiếu"\nkind = "passport"\n')


def test_cut_edge_is_judged_on_the_scan_not_on_the_straightened_image() -> None:
    """A sheet straightened before OCR: the image grew and the scan's cut edge now sits
    inside it (here 25 px from the border), where the words' boxes no longer touch it."""
    import numpy as np

    inside = [_word("Họ", 175, 200 + 50 * i) for i in range(20)]
    cut = inside + [_word("ên:", 25, 200 + 50 * i) for i in range(4)]
    assert edge_cut_off(cut, 1700, 2339) is None  # against the straightened image's border
    to_cleaned = np.array([[1.0, 0.0, 25.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert edge_cut_off(cut, 1654, 2339, np.linalg.inv(to_cleaned)) == "left"
