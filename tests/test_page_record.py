"""The page record's one codec: records already archived decode, new ones round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.pagerecord import (
    Barcode,
    HandwrittenNote,
    OcrWord,
    PageRecord,
    PageWarning,
    RereadValue,
    WarningCode,
    colour_warning,
    decode_page_record,
    encode_page_record,
)

# Written by main's page step (commit 4308bff, before this codec) on a grey generated
# driver's-licence form with a handwritten name, its word list cut to three words.
FORM_BEFORE_CODEC = (
    '{"index": 0, "text_source": "ocr", "text": "Phụ lục XII\\n\\nTôi là:", '
    '"image_width": 1654, "image_height": 2339, "dpi": 199.9996, '
    '"mean_confidence": 83.99359406306307, "words": [["Phụ", 1367, 75, 44, 24, 96.0, 1, 1, 1], '
    '["lục", 1420, 75, 33, 24, 93.3, 1, 1, 1], ["Tôi", 140, 460, 38, 24, 95.1, 2, 1, 1]], '
    '"rotation": 0, "skew_deg": 0.0, "to_cleaned": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], '
    '"dpi_source": "file", "warnings": ["scan is grey, colour is required for the archive"], '
    '"barcodes": [], "kind": "application_form", "kind_confidence": 1.0, '
    '"procedure_id": "doi-gplx", "reread": [], "handwritten": [{"field": "full_name", '
    '"box": [0.15901, 0.19496, 0.60459, 0.21419], "suggestion": "Phạm Diệu Thanh Oanh", '
    '"suggestion_confidence": 0.988}]}'
)
# The same writer on a colour receipt: its QR, no warning.
RECEIPT_BEFORE_CODEC = (
    '{"index": 0, "text_source": "ocr", "text": "CỘNG HÒA", "image_width": 1165, '
    '"image_height": 1654, "dpi": 200.0, "mean_confidence": 93.73604105992509, '
    '"words": [["CỘNG", 561, 82, 64, 24, 41.5, 1, 1, 1], ["HÒA", 632, 78, 40, 32, 96.6, 1, 1, 1]], '
    '"rotation": 0, "skew_deg": 0.0, "to_cleaned": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], '
    '"dpi_source": "file", "warnings": [], "barcodes": [{"text": "MHS=000.00.00.H38-250519-0275;'
    'CCCD=022300039317", "format": "QR Code", "box": [0.0627, 0.0466, 0.2197, 0.1572]}], '
    '"kind": "receipt", "kind_confidence": 0.99, "procedure_id": "doi-gplx", "reread": [], '
    '"handwritten": []}'
)


def test_a_record_written_before_the_codec_decodes_to_typed_values() -> None:
    record = decode_page_record(FORM_BEFORE_CODEC.encode("utf-8"))
    assert record.words[1] == OcrWord("lục", 1420, 75, 33, 24, 93.3, 1, 1, 1)
    assert record.words[2].line_key == (2, 1, 1)
    assert (record.image_width, record.image_height, record.dpi) == (1654, 2339, 199.9996)
    assert record.kind == "application_form" and record.procedure_id == "doi-gplx"
    assert record.to_cleaned == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert record.handwritten == (
        HandwrittenNote(
            "full_name", (0.15901, 0.19496, 0.60459, 0.21419), "Phạm Diệu Thanh Oanh", 0.988
        ),
    )
    # Warnings had no codes then: the colour warning is still known for what it is.
    assert record.warnings == (
        PageWarning(WarningCode.COLOUR, "scan is grey, colour is required for the archive"),
    )
    receipt = decode_page_record(RECEIPT_BEFORE_CODEC)
    assert receipt.barcodes == (
        Barcode(
            "MHS=000.00.00.H38-250519-0275;CCCD=022300039317",
            "QR Code",
            0.0627,
            0.0466,
            0.2197,
            0.1572,
        ),
    )
    assert receipt.warnings == () and receipt.words[0].confidence == 41.5


@pytest.mark.parametrize("stored", [FORM_BEFORE_CODEC, RECEIPT_BEFORE_CODEC])
def test_re_encoding_an_old_record_keeps_every_key_and_value_in_order(stored: str) -> None:
    """Nothing archived is lost or reshaped: today's writer adds only the warnings' codes."""
    again = json.loads(encode_page_record(decode_page_record(stored)))
    codes = again.pop("warning_codes")
    old = json.loads(stored)
    assert list(again) == list(old) and again == old
    assert len(codes) == len(old["warnings"])


def test_a_new_record_round_trips_exactly() -> None:
    record = PageRecord(
        index=3,
        text="Họ và tên: Nguyễn Văn An",
        words=(OcrWord("Họ", 10, 20, 30, 24, 91.2, 1, 1, 1),),
        image_width=1000,
        image_height=1400,
        dpi=300.0,
        mean_confidence=91.2,
        rotation=90,
        skew_deg=-0.412,
        to_cleaned=(0.0, -1.0, 1399.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        dpi_source="estimated",
        warnings=(
            PageWarning(WarningCode.DPI_ESTIMATED, "resolution …; estimated"),
            colour_warning("bilevel"),
        ),
        kind="application_form",
        kind_confidence=0.874,
        procedure_id="lltp",
        reread=(RereadValue("phone", "0912345678", 88.5),),
        handwritten=(HandwrittenNote("sex", (0.1, 0.2, 0.3, 0.4)),),
        drop_page_text=True,
    )
    assert decode_page_record(encode_page_record(record)) == record
    # A page that carried its own text: no OCR geometry, none invented on reading.
    pdf_text = PageRecord(index=0, text="Quyết định", text_source="pdf")
    decoded = decode_page_record(encode_page_record(pdf_text))
    assert decoded == pdf_text and decoded.image_width is None and decoded.words == ()


def test_a_colour_warning_is_known_by_its_code_not_its_words() -> None:
    reworded = PageRecord(index=0, text="", warnings=(PageWarning(WarningCode.COLOUR, "xám"),))
    (warning,) = decode_page_record(encode_page_record(reworded)).warnings
    assert warning.code is WarningCode.COLOUR and warning.text == "xám"
    assert colour_warning("grey").text == "scan is grey, colour is required for the archive"
    assert "black and white (1-bit)" in colour_warning("bilevel").text


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (b"\xff\xfe not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"text": "x"}', "KeyError"),
        ('{"index": 0, "words": [["a", 1, 2]]}', "9-element"),
        ('{"index": 0, "to_cleaned": [1, 0]}', "not 9"),
        ('{"index": 0, "barcodes": {"a": 1}}', "'barcodes' is not a list"),
    ],
)
def test_a_malformed_record_is_a_value_error_saying_what_is_wrong(
    stored: str | bytes, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        decode_page_record(stored)


def test_the_page_step_writes_what_the_codec_reads(tmp_path: Path) -> None:
    """The record file a page leaves is the record its outcome carries."""
    from pipeline.context import PageContext
    from pipeline.load import inspect_source
    from pipeline.page import process_page
    from tests import synth

    page = synth.render_page(["Họ và tên: Nguyễn Văn An"], dpi=200, font_pt=12, page_mm=(105, 74))
    path = tmp_path / "page.png"
    page.image.convert("L").save(path, dpi=(200, 200))
    context = PageContext(source_name="page.png", page_index=0, colour_required=True)
    outcome = process_page(inspect_source(path), context, tmp_path / "w")
    assert decode_page_record(outcome.record_path.read_bytes()) == outcome.record
    assert outcome.record.words and outcome.layer.words == outcome.record.words
    assert [w.code for w in outcome.record.warnings] == [WarningCode.COLOUR]
