from __future__ import annotations

import subprocess
from pathlib import Path

import pikepdf
import pytest

from models.errors import OcrEngineError
from pipeline.assemble import DocumentInfo, assemble_searchable_pdf
from pipeline.clean import clean_page
from pipeline.context import PageContext
from pipeline.load import inspect_source, load_page
from pipeline.ocr import ocr_page
from pipeline.page import process_page
from pipeline.tesseract import check_languages
from pipeline.tesseract_engine import parse_tsv
from tests import synth


def pdftotext(path: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-enc", "UTF-8"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(path), "-"], capture_output=True, check=True).stdout.decode()


def test_ocr_reads_vietnamese_with_boxes_and_confidences(
    samples_dir: Path, truth: list[str]
) -> None:
    source = inspect_source(samples_dir / "page.jpg")
    context = PageContext(source_name=source.name, page_index=0)
    result = ocr_page(clean_page(load_page(source, context), context), context)
    assert synth.char_error_rate(truth[0], result.text) < 0.02
    assert result.words and all(w.width > 0 and w.height > 0 for w in result.words)
    assert 0 < (result.mean_confidence or 0) <= 100
    assert "Nguyễn" in result.text or "hồ sơ" in result.text


def test_missing_language_is_a_clear_engine_error() -> None:
    with pytest.raises(OcrEngineError, match="not installed: klingon"):
        check_languages("vie+klingon")


def test_tsv_parsing_groups_lines_and_normalises() -> None:
    columns = "level page_num block_num par_num line_num word_num left top width height conf text"
    header = "\t".join(columns.split())
    decomposed = "Nguye\u0302\u0303n"
    rows = [
        header,
        "5\t1\t1\t1\t1\t1\t10\t10\t50\t20\t91.5\t" + decomposed,
        "5\t1\t1\t1\t1\t2\t70\t10\t40\t20\t88\tVăn",
        "5\t1\t1\t1\t2\t1\t10\t40\t30\t20\t-1\t ",
        "5\t1\t1\t1\t2\t2\t10\t40\t30\t20\t77\tA",
    ]
    words, text = parse_tsv("\n".join(rows))
    assert text == "Nguyễn Văn\nA"
    assert words[0].text == "Nguyễn" and len(words[0].text) == 6  # NFC


@pytest.mark.parametrize("name", ["three-pages.pdf", "two-pages.tiff", "page.png"])
def test_searchable_pdf_reads_back_in_order_over_untouched_images(
    tmp_path: Path, samples_dir: Path, truth: list[str], name: str
) -> None:
    source = inspect_source(samples_dir / name)
    outcomes = [
        process_page(source, PageContext(source_name=name, page_index=i), tmp_path / "work")
        for i in range(source.page_count)
    ]
    output = tmp_path / "out.pdf"
    assemble_searchable_pdf(source, [o.layer for o in outcomes], output, DocumentInfo(title="t"))
    expected = [truth[2]] if name == "page.png" else truth[: source.page_count]
    for number, reference in enumerate(expected, start=1):
        assert synth.char_error_rate(reference, pdftotext(output, number)) < 0.02
    with pikepdf.open(output) as pdf:
        assert len(pdf.pages) == source.page_count
        assert pdf.pdf_version >= "1.4"
        rotations = [int(p.obj.get("/Rotate", 0)) for p in pdf.pages]
        assert rotations == [o.layer.rotation for o in outcomes]
        if name == "page.png":
            # lossless source stays lossless, at its own pixel size
            image = next(iter(pdf.pages[0].get_images().values()))
            assert image.Filter == pikepdf.Name.FlateDecode
            assert (int(image.Width), int(image.Height)) == (
                outcomes[0].layer.width_px,
                outcomes[0].layer.height_px,
            )


def test_jpeg_scan_is_embedded_byte_for_byte(tmp_path: Path, samples_dir: Path) -> None:
    source = inspect_source(samples_dir / "page.jpg")
    outcome = process_page(source, PageContext(source_name="page.jpg", page_index=0), tmp_path)
    output = tmp_path / "out.pdf"
    assemble_searchable_pdf(source, [outcome.layer], output, DocumentInfo(title="t"))
    with pikepdf.open(output) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        assert image.read_raw_bytes() == (samples_dir / "page.jpg").read_bytes()


def test_pdf_input_pages_are_copied_not_re_encoded(tmp_path: Path, samples_dir: Path) -> None:
    path = samples_dir / "three-pages.pdf"
    source = inspect_source(path)
    outcomes = [
        process_page(source, PageContext(source_name="x", page_index=i), tmp_path)
        for i in range(source.page_count)
    ]
    output = tmp_path / "out.pdf"
    assemble_searchable_pdf(source, [o.layer for o in outcomes], output, DocumentInfo(title="t"))
    with pikepdf.open(path) as original, pikepdf.open(output) as result:
        for before, after in zip(original.pages, result.pages, strict=True):
            a = next(iter(before.get_images().values())).read_raw_bytes()
            b = next(iter(after.get_images().values())).read_raw_bytes()
            assert a == b


def test_mixed_pdf_keeps_typed_text_and_ocrs_the_scan(tmp_path: Path, samples_dir: Path) -> None:
    """A typed page is not OCRed again (no doubled text); the scanned page gets a text layer."""
    mixed = tmp_path / "mixed.pdf"
    with pikepdf.open(samples_dir / "three-pages.pdf") as scans:
        pdf = pikepdf.new()
        typed = pdf.add_blank_page(page_size=(595, 842))
        font = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        typed.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        typed.obj.Contents = pdf.make_stream(
            b"BT /F1 14 Tf 72 700 Td (Typed cover letter with plenty of real text on it.) Tj ET"
        )
        pdf.pages.append(scans.pages[0])
        pdf.save(mixed)
    source = inspect_source(mixed)
    outcomes = [
        process_page(source, PageContext(source_name="mixed.pdf", page_index=i), tmp_path / "w")
        for i in range(2)
    ]
    assert [o.record.text_source for o in outcomes] == ["pdf", "ocr"]
    output = tmp_path / "out.pdf"
    assemble_searchable_pdf(source, [o.layer for o in outcomes], output, DocumentInfo(title="t"))
    first = pdftotext(output, 1)
    assert first.count("Typed cover letter") == 1
    truth = (samples_dir / "truth" / "0.txt").read_text(encoding="utf-8")
    assert synth.char_error_rate(truth, pdftotext(output, 2)) < 0.02


def test_image_pages_are_assembled_in_chunks_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large image batches are written part by part; order and pixels survive the merge."""
    import numpy as np
    from PIL import Image

    import pipeline.assemble as assemble
    from pipeline.assemble import PageLayer

    monkeypatch.setattr(assemble, "CHUNK_PAGES", 3)
    frames = [Image.new("L", (80 + i, 60), color=30 * i) for i in range(7)]
    tiff = tmp_path / "seven.tif"
    frames[0].save(tiff, save_all=True, append_images=frames[1:], dpi=(200, 200))
    source = inspect_source(tiff)
    identity = tuple(float(v) for v in np.eye(3).ravel())
    layers = [PageLayer(i, 200.0, 80 + i, 60, 0, identity) for i in range(7)]
    output = tmp_path / "out.pdf"
    assemble_searchable_pdf(source, layers, output, DocumentInfo(title="seven"))
    with pikepdf.open(output) as pdf:
        widths = [int(next(iter(p.get_images().values())).Width) for p in pdf.pages]
        assert widths == [80 + i for i in range(7)]
        assert str(pdf.docinfo["/Title"]) == "seven"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf", "seven.tif"]


def test_png_pixels_are_embedded_without_re_encoding(tmp_path: Path, samples_dir: Path) -> None:
    import zlib

    source = inspect_source(samples_dir / "page.png")
    outcome = process_page(source, PageContext(source_name="page.png", page_index=0), tmp_path)
    output = tmp_path / "out.pdf"
    assemble_searchable_pdf(source, [outcome.layer], output, DocumentInfo(title="t"))
    data = (samples_dir / "page.png").read_bytes()
    with pikepdf.open(output) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        raw = image.read_raw_bytes()
        idat, position = b"", 8
        while position < len(data):
            length = int.from_bytes(data[position : position + 4], "big")
            if data[position + 4 : position + 8] == b"IDAT":
                idat += data[position + 8 : position + 8 + length]
            position += 12 + length
        assert raw == idat  # the PNG's own compressed stream, not re-encoded
        assert zlib.decompress(raw)
        decoded = pikepdf.PdfImage(image).as_pil_image()
    from PIL import Image

    with Image.open(samples_dir / "page.png") as original:
        assert decoded.convert("RGB").tobytes() == original.convert("RGB").tobytes()


def test_page_is_read_inside_its_ink_and_boxes_stay_on_the_page() -> None:
    """Only the inked part of the page goes to the engine (its layout pass costs by the
    pixel); the words come back where they are on the whole page, reading the same."""
    import numpy as np

    from pipeline.clean import CleanedPage
    from pipeline.ocr import ink_bounds

    text = synth.render_page(["Giấy đề nghị cấp đổi", "Nguyễn Văn An, Hà Nội"], dpi=200)
    block = np.asarray(text.image.convert("L"))[:400, :1200]
    page = np.full((2339, 1654), 255, np.uint8)
    page[1500:1900, 300:1500] = block  # the text low on an A4 page, wide margins round it
    left, top, right, bottom = ink_bounds(page, 200.0) or (0, 0, 0, 0)
    rows, cols = np.nonzero(block < 224)
    assert (left, top) == (300 + cols.min() - 50, 1500 + rows.min() - 50)
    assert (right, bottom) == (300 + cols.max() + 51, 1500 + rows.max() + 51)
    assert ink_bounds(np.full((100, 100), 255, np.uint8), 200.0) is None
    inked = np.ascontiguousarray(page[top:bottom, left:right])
    assert ink_bounds(inked, 200.0) is None  # nothing worth cutting off

    def cleaned(image: np.ndarray) -> CleanedPage:
        return CleanedPage(0, image, 200.0, 0, 0.0, np.eye(3), False, 0.1, 1.0)

    context = PageContext(source_name="a4.png", page_index=0)
    whole = ocr_page(cleaned(page), context)
    alone = ocr_page(cleaned(inked), context)
    assert "Nguyễn" in whole.text and whole.text == alone.text
    assert (whole.image_width, whole.image_height) == (1654, 2339)
    for on_page, in_block in zip(whole.words, alone.words, strict=True):
        assert (on_page.left, on_page.top) == (in_block.left + left, in_block.top + top)
