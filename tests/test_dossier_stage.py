"""The dossier stage as a plain function: page records in, fields, colour and signer out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.catalogue import load_catalogue, parse_catalogue
from config.signers import Signer, Signers
from models import PageInfo
from models.pagerecord import (
    Barcode,
    HandwrittenNote,
    OcrWord,
    PageRecord,
    PageWarning,
    WarningCode,
    colour_warning,
)
from pipeline.dossier import (
    DossierContext,
    DossierEvidence,
    DossierPage,
    choose_signer,
    decide_dossier,
)
from pipeline.load import ColourMode

CATALOGUE = load_catalogue()
QR = (
    "MHS=000.00.00.H38-250519-0275;MTTHC=1.002809.000.00.00.H38;CCCD=022300039317;"
    "GIAY=Giấy tiếp nhận hồ sơ và hẹn trả kết quả;HT=dichvucong.laocai.gov.vn;"
    "TGCAP=19/05/2025 14:14:41;HENTRA=26/05/2025 14:00"
)
GREY = colour_warning(ColourMode.GREY)
OTHER = PageWarning(WarningCode.DPI_ESTIMATED, "resolution estimated from the letters")
TURNED = (0.0, -1.0, 1399.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)


def _page(
    source_index: int,
    *,
    kind: str = "other",
    text: str = "",
    warnings: tuple[PageWarning, ...] = (),
    colour: str = ColourMode.COLOUR,
    **record: object,
) -> DossierPage:
    info = PageInfo(
        index=source_index,
        width_px=1400,
        height_px=1000,
        dpi=200.0,
        kind=kind,
        warnings=tuple(w.text for w in warnings),
        source_index=source_index,
    )
    page_record = PageRecord(
        index=source_index,
        text=text,
        kind=kind,
        warnings=warnings,
        **record,  # type: ignore[arg-type]
    )
    return DossierPage(page_record, info, colour)


def _context(catalogue: object = CATALOGUE, **kw: object) -> DossierContext:
    values: dict[str, object] = {
        "catalogue": catalogue,
        "colour_required": False,
        "refuse_non_colour": False,
        "signer": None,
    }
    values.update(kw)
    return DossierContext(**values)  # type: ignore[arg-type]


def _evidence(*pages: DossierPage, **kw: object) -> DossierEvidence:
    return DossierEvidence("b1-001", "scan.pdf", pages, **kw)  # type: ignore[arg-type]


def test_colour_warning_follows_the_procedure_the_papers_name_recognised_by_its_code() -> None:
    """The procedure's own flag wins over the global default, both ways; pages in colour
    never get the warning; a colour warning is recognised by its code, whatever its words."""
    catalogue = parse_catalogue(
        """
[procedures.grey-ok]
name = "Accepts grey scans"
colour_required = false
[procedures.no-flag]
name = "Follows SOHOA_COLOUR_REQUIRED"
"""
    )
    reworded = PageWarning(WarningCode.COLOUR, "a colour warning worded some other way")
    grey = _page(4, warnings=(OTHER, reworded), colour=ColourMode.GREY)
    strict = _context(catalogue, colour_required=True, refuse_non_colour=True)

    kept = decide_dossier(_evidence(grey, procedure_hint="grey-ok"), strict)
    assert kept.pages[0].warnings == (OTHER.text,) and kept.refusal is None
    assert kept.procedure_id == "grey-ok" and kept.pages[0].index == 0

    refused = decide_dossier(_evidence(grey, procedure_hint="no-flag"), strict)
    assert refused.pages[0].warnings == (OTHER.text, GREY.text)
    # The page is named by its place in the scanned file, as the clerk sees it.
    assert refused.refusal == f"page 5 {GREY.text} (procedure no-flag): scan it again in colour"

    warned = decide_dossier(_evidence(grey, procedure_hint="no-flag"), _context(catalogue))
    assert warned.pages[0].warnings == (OTHER.text,) and warned.refusal is None

    in_colour = _page(0, warnings=(OTHER, GREY), colour=ColourMode.COLOUR)
    clean = decide_dossier(_evidence(in_colour, procedure_hint="no-flag"), strict)
    assert clean.pages[0].warnings == (OTHER.text,) and clean.refusal is None
    with pytest.raises(ValueError, match="colour_required must be true or false"):
        parse_catalogue('[procedures.x]\ncolour_required = "yes"\n')


def test_fields_layers_text_and_archive_metadata_come_from_the_records() -> None:
    receipt = _page(
        2,
        kind="receipt",
        text="GIẤY TIẾP NHẬN HỒ SƠ",
        barcodes=(Barcode(QR, "QR Code", 0.06, 0.05, 0.22, 0.16),),
        words=(OcrWord("GIẤY", 10, 20, 60, 24, 95.0, 1, 1, 1),),
        rotation=90,
        to_cleaned=TURNED,
    )
    form = _page(
        3,
        kind="application_form",
        text="Tôi là:",
        procedure_id="doi-gplx",
        handwritten=(HandwrittenNote("full_name", (0.1, 0.2, 0.6, 0.25), "Phạm Oanh", 0.9),),
        drop_page_text=True,
    )
    form = DossierPage(form.record, form.info, crop_keys=(("full_name", "crops/0004-name.png"),))
    made = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    verdict = decide_dossier(
        _evidence(receipt, form, counter_id="q1", uploaded_by="thu.ky"),
        _context(made_at=made, digitiser_name=""),
    )
    assert verdict.fields.dossier_code == "000.00.00.H38-250519-0275"
    name = verdict.fields.fields["full_name"]
    assert name.state == "handwritten" and name.crop_key == "crops/0004-name.png"
    assert name.suggestion == "Phạm Oanh" and verdict.crop_keys == ("crops/0004-name.png",)
    assert [p.index for p in verdict.pages] == [0, 1]
    assert [p.source_index for p in verdict.pages] == [2, 3]
    assert verdict.text == "GIẤY TIẾP NHẬN HỒ SƠ\fTôi là:"
    first, second = verdict.layers
    assert (first.index, first.rotation, first.to_cleaned) == (2, 90, TURNED)
    assert first.words == receipt.record.words and (first.width_px, first.dpi) == (1400, 200.0)
    assert second.words == () and second.drop_page_text and second.rotation == 0
    assert second.to_cleaned == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    meta = verdict.metadata
    assert meta.title == "Hồ sơ 000.00.00.H38-250519-0275" == verdict.document.title
    # Unsigned, nobody configured as the digitiser: whoever handed the files in.
    assert (meta.digitiser, meta.agency_code, meta.created_at) == ("thu.ky", "000.00.00.H38", made)
    assert dict(meta.extra) == {"DossierId": "b1-001", "CounterId": "q1"}
    assert verdict.procedure_id == "doi-gplx"

    signer = Signer("Nguyễn Thị Số Hóa", Path("/nonexistent.p12"))
    signed = decide_dossier(
        _evidence(receipt, dossier_agency="000.00.00.H49", uploaded_by="thu.ky"),
        _context(signer=signer, digitiser_name="Người khác"),
    )
    assert signed.metadata.digitiser == "Nguyễn Thị Số Hóa"
    assert signed.metadata.agency_code == "000.00.00.H49"  # routed: the dossier's agency


def test_a_dossier_without_a_code_is_titled_by_its_id() -> None:
    verdict = decide_dossier(_evidence(_page(0, text="trang trắng")), _context())
    assert verdict.fields.dossier_code is None
    assert verdict.document.title == "Hồ sơ b1-001" and verdict.document.keywords == ""
    assert verdict.metadata.keywords == () and verdict.metadata.dossier_code == ""


def test_the_signer_is_the_counters_then_the_default_else_a_reason_when_required() -> None:
    own, default = Signer("A", Path("a.p12")), Signer("B", Path("b.p12"))
    signers = Signers(default=default, counters=(("q1", own),), source="signers.toml")
    assert choose_signer(signers, "q1", required=True).signer is own
    assert choose_signer(signers, "q9", required=True).signer is default
    assert choose_signer(Signers(), "q1", required=False).refusal is None
    nothing = choose_signer(Signers(), "q1", required=True)
    assert nothing.signer is None and "no signer is configured" in (nothing.refusal or "")
    only_q1 = Signers(counters=(("q1", own),), source="signers.toml")
    assert "names no counter" in (choose_signer(only_q1, None, required=True).refusal or "")
    missing = choose_signer(only_q1, "q2", required=True).refusal or ""
    assert "signers.toml has no signer for counter q2" in missing
