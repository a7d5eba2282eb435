"""What real paper taught us, as generated pages that reproduce each trap.

Each test here stands for a failure seen on real Vietnamese documents (bench/real_vn.py):
low-resolution captures with no dpi, PDFs carrying someone else's diacritic-less OCR layer
and e-signature stamps, seals and blue ink over the text, two-column letter heads, and a
cleanup that makes a page worse than the engine alone would read it.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image

from models.pagerecord import decode_page_record
from pipeline import page as page_module
from pipeline.assemble import DocumentInfo, assemble_searchable_pdf
from pipeline.clean import MAX_OCR_PIXELS, CleanedPage, ocr_grey, ocr_scale, to_grey
from pipeline.context import PageContext
from pipeline.glyphless import make_font
from pipeline.load import DpiSource, inspect_source, load_page
from pipeline.page import process_page
from pipeline.pdfa import ArchiveMetadata, make_pdfa
from pipeline.resolution import ScannedSheet, estimate_text_scale, scanned_sheet
from pipeline.textlayer import LineBox, text_layer_content
from pipeline.vietnamese import syllable_key, text_quality, trusted_vietnamese
from tests import synth

LETTER = [
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015",
    "Ủy ban nhân dân tỉnh đề nghị các sở, ban, ngành thực hiện nghiêm túc",
    "Thời gian nhận hồ sơ: mười giờ ba mươi phút, ngày mười lăm tháng sáu",
    "Nơi thường trú: thôn Đông, xã Hưng Đạo, huyện Tiên Lữ, tỉnh Hưng Yên",
    "Người nhận hồ sơ phải kiểm tra kỹ thông tin trước khi ký nhận",
    "Đề nghị cho tôi được đổi giấy phép lái xe hạng B hai",
] * 3


def pdftotext(path: Path) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True)
    return done.stdout.decode("utf-8")


# Official letters are set in Times New Roman 13-14 pt (NĐ 30/2020); Liberation Serif has
# its metrics.
TIMES = next(
    (f for f in synth.available_fonts() if "LiberationSerif" in f), synth.find_font("serif")
)


def ctx(name: str) -> PageContext:
    return PageContext(source_name=name, page_index=0)


# --- Vietnamese text judged by its syllables ---------------------------------------------


def test_tone_mark_position_does_not_change_the_syllable() -> None:
    assert syllable_key("hoà") == syllable_key("hòa") == ("hoa", 1)
    assert syllable_key("Uỷ") == syllable_key("ủy")


def test_an_old_diacritic_less_ocr_layer_is_not_trusted() -> None:
    good = " ".join(LETTER)
    old_layer = "CONG Hcok xA HQI CHiJ NGHiA VIET NAM Doc lap Tu do Hanh phuc " * 3
    assert trusted_vietnamese(good)[0]
    trusted, reason = trusted_vietnamese(old_layer)
    assert not trusted and "diacritics" in reason
    assert text_quality(good).syllable_rate > 0.9
    assert text_quality("Cộng hòa xã hội chủ nghĩa").syllable_rate == 1.0
    assert text_quality("Cộng hcòa xã hqội chủ ngiĩa").syllable_rate < 0.7


# --- resolution from the page itself -----------------------------------------------------


@pytest.mark.parametrize("dpi", [72, 110, 200, 300])
def test_resolution_is_measured_from_the_letters(dpi: int) -> None:
    page = synth.render_page(LETTER, dpi=dpi, font_pt=13, font_path=TIMES)
    scale = estimate_text_scale(to_grey(np.asarray(page.image)[:, :, ::-1].copy()))
    assert scale is not None
    assert scale.dpi == pytest.approx(dpi, rel=0.3)


def test_a_low_resolution_capture_without_dpi_is_estimated_not_assumed(tmp_path: Path) -> None:
    """A 576x960-style phone/web capture: no dpi in the file, letters at ~80 dpi."""
    page = synth.render_page(LETTER, dpi=80, font_pt=13, font_path=TIMES)
    path = tmp_path / "capture.jpg"
    page.image.save(path, "JPEG", quality=90)  # no dpi recorded
    loaded = load_page(inspect_source(path), ctx("capture.jpg"))
    assert loaded.dpi_source is DpiSource.ESTIMATED
    assert loaded.dpi == pytest.approx(80, rel=0.3)
    # The same with the 72 "dpi" screens write: implausible, so measured too.
    page.image.save(path, "JPEG", quality=90, dpi=(72, 72))
    loaded = load_page(inspect_source(path), ctx("capture.jpg"))
    assert loaded.dpi_source is DpiSource.ESTIMATED and loaded.recorded_dpi == 72


def _load_warnings(path: Path) -> list[str]:
    job = page_module.PageJob(inspect_source(path), ctx(path.name), path.parent)
    page_module.LoadStep().run(job)
    return [w.text for w in job.warnings]


def test_a_standard_sheet_without_dpi_is_judged_at_its_scanners_resolution(
    tmp_path: Path,
) -> None:
    """A 200 dpi scan of a US Letter sheet (1700x2200 px) in 10 pt type that lost its dpi:
    its letters measure about 150 dpi, and the counter was told to scan it again at 200.
    The page is still read at the letters' scale; the archive's rule is judged at the
    sheet's 200 dpi. The same letters on a page of no standard size are judged as measured,
    and so is a sheet the letters disagree with (32 pt type on A4 at 200 dpi measures as
    13 pt at 470: no sheet is claimed)."""
    letter_mm = (215.9, 279.4)
    page = synth.render_page(LETTER * 3, dpi=200, font_pt=10, font_path=TIMES, page_mm=letter_mm)
    assert page.image.size == (1700, 2200)
    sheet = tmp_path / "sheet.jpg"
    page.image.save(sheet, "JPEG", quality=90)
    loaded = load_page(inspect_source(sheet), ctx("sheet.jpg"))
    assert loaded.dpi_source is DpiSource.ESTIMATED and loaded.dpi < 180
    assert loaded.scan_dpi == 200 and loaded.paper_dpi == 200  # read as it is, 8.5 x 11 in
    said = _load_warnings(sheet)
    assert not any("under the 200 dpi required" in w for w in said), said
    assert any("a standard sheet at 200 dpi" in w for w in said), said
    odd = tmp_path / "odd.jpg"
    page.image.crop((0, 0, 1600, 2100)).save(odd, "JPEG", quality=90)
    measured = load_page(inspect_source(odd), ctx("odd.jpg"))
    assert measured.scan_dpi is None and measured.paper_dpi == measured.dpi
    assert any("under the 200 dpi required" in w for w in _load_warnings(odd))
    poster = synth.render_page(LETTER, dpi=200, font_pt=32, font_path=TIMES)  # A4 at 200
    big = tmp_path / "poster.jpg"
    poster.image.save(big, "JPEG", quality=90)
    assert load_page(inspect_source(big), ctx("poster.jpg")).scan_dpi is None


def test_a_sheets_size_alone_tells_apart_no_two_resolutions() -> None:
    assert scanned_sheet(2480, 3508, None) == ScannedSheet("A4", 300.0)
    assert scanned_sheet(3508, 2480, None) == ScannedSheet("A4", 300.0)  # landscape
    assert scanned_sheet(1700, 2200, 150.0) == ScannedSheet("US Letter", 200.0)
    # A5 at 400 dpi is A3 at 200: only the letters can tell, and without them nothing is said.
    assert scanned_sheet(2339, 3307, None) is None
    assert scanned_sheet(2339, 3307, 190.0) == ScannedSheet("A3", 200.0)
    assert scanned_sheet(2339, 3307, 380.0) == ScannedSheet("A5", 400.0)
    assert scanned_sheet(1536, 2048, None) is None  # a phone's 3:4 photo


@pytest.mark.slow
def test_a_low_resolution_capture_reads_as_well_as_tesseract_alone(tmp_path: Path) -> None:
    page = synth.render_page(LETTER, dpi=75, font_pt=13, font_path=TIMES)
    path = tmp_path / "capture.png"
    page.image.save(path)
    outcome = process_page(inspect_source(path), ctx("capture.png"), tmp_path / "w")
    assert any("estimated from the letters" in w for w in outcome.record.warning_texts)
    assert decode_page_record(outcome.record_path.read_bytes()).dpi_source == "estimated"
    ours = synth.char_error_rate(page.text, outcome.text_path.read_text(encoding="utf-8"))
    bare = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "vie"], capture_output=True
    ).stdout.decode()
    assert ours <= synth.char_error_rate(page.text, bare) + 0.005
    assert ours < 0.05


def test_upsampling_for_ocr_is_capped() -> None:
    # A 36-megapixel photo measured at 110 dpi would be 268 MP at 300 dpi: capped instead.
    assert ocr_scale(110, 300, 36_000_000) == 1.0  # read as it is, not upsampled
    scale = ocr_scale(110, 300, 20_000_000)
    assert 1.0 < scale < 200 / 110 and 20_000_000 * scale * scale <= MAX_OCR_PIXELS * 1.001
    assert ocr_scale(110, 300, 1_000_000) == pytest.approx(200 / 110)
    assert ocr_scale(200, 300, 8_000_000) == 1.0


# --- seals and blue ink ------------------------------------------------------------------


def test_red_seal_and_blue_ink_fade_for_ocr_black_print_stays() -> None:
    page = synth.stamped_pages(1, dpi=200)[0]
    bgr = np.ascontiguousarray(np.asarray(page.image)[:, :, ::-1])
    grey, faded, _tinted = ocr_grey(bgr)
    assert faded
    plain = to_grey(bgr)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    coloured = (hsv[:, :, 1] > 120) & (hsv[:, :, 2] > 80)
    black = bgr.max(axis=2) < 90
    assert np.mean(plain[coloured]) < 150  # the seal is dark in a plain grey copy
    assert np.mean(grey[coloured]) > 200  # ... and near paper in ours
    assert np.mean(grey[black]) == pytest.approx(np.mean(plain[black]), abs=3)


def test_a_page_without_colour_ink_is_left_alone() -> None:
    page = synth.render_page(LETTER[:4], dpi=100)
    bgr = np.ascontiguousarray(np.asarray(page.image)[:, :, ::-1])
    grey, faded, _tinted = ocr_grey(bgr)
    assert not faded and np.array_equal(grey, to_grey(bgr))


@pytest.mark.slow
def test_stamped_pages_read_cleanly(tmp_path: Path) -> None:
    rates = []
    for index, page in enumerate(synth.stamped_pages(2, dpi=200)):
        path = tmp_path / f"stamped-{index}.jpg"
        page.image.save(path, "JPEG", quality=90, dpi=(200, 200))
        outcome = process_page(inspect_source(path), ctx(path.name), tmp_path / f"w{index}")
        rates.append(synth.char_error_rate(page.text, outcome.text_path.read_text("utf-8")))
    assert max(rates) < 0.03, rates


# --- PDFs from other systems -------------------------------------------------------------


def _scan_with_old_layer(tmp_path: Path, *, visible_helvetica: bool) -> tuple[Path, str]:
    """A scanned page as a document system writes it: the scan, its old diacritic-less OCR
    in a font it does not embed (invisible, or drawn under the scan), and a signature
    widget whose appearance is the e-signature stamp."""
    page = synth.render_page(LETTER, dpi=200, font_pt=12)
    buffer = io.BytesIO()
    page.image.save(buffer, "JPEG", quality=90)
    width, height = page.image.size
    w_pt, h_pt = width * 72 / 200, height * 72 / 200
    pdf = pikepdf.new()
    sheet = pdf.add_blank_page(page_size=(w_pt, h_pt))
    scan = pikepdf.Stream(pdf, buffer.getvalue())
    scan.Type, scan.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    scan.Width, scan.Height, scan.BitsPerComponent = width, height, 8
    scan.ColorSpace, scan.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    helvetica = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    sheet.obj.Resources = pikepdf.Dictionary(
        XObject=pikepdf.Dictionary(Scan=scan), Font=pikepdf.Dictionary(F1=helvetica)
    )
    old_lines = ["CONG Hcok xA HQI CHiJ NGHiA VIET NAM Doc lap Tu do Hanh phuc"] * 6
    mode = 0 if visible_helvetica else 3
    text = " ".join(
        f"BT /F1 10 Tf {mode} Tr 60 {h_pt - 80 - 20 * i:.0f} Td ({line}) Tj ET"
        for i, line in enumerate(old_lines)
    )
    # Visible old text is drawn first, so the scan covers it (as such systems do).
    sheet.obj.Contents = pdf.make_stream(f"{text} q {w_pt} 0 0 {h_pt} 0 0 cm /Scan Do Q".encode())
    stamp_font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Courier
        )
    )
    appearance = pdf.make_stream(
        b"q 1 0 0 RG 0 0 150 40 re S Q BT /F2 9 Tf 5 15 Td (Ky boi: UBND) Tj ET"
    )
    appearance.Type, appearance.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
    appearance.BBox = [0, 0, 150, 40]
    appearance.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F2=stamp_font))
    widget = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Sig,
            T=pikepdf.String("Signature1"),
            F=4,
            Rect=[w_pt - 200, h_pt - 60, w_pt - 50, h_pt - 20],
            AP=pikepdf.Dictionary(N=appearance),
            P=sheet.obj,
        )
    )
    sheet.obj.Annots = pdf.make_indirect(pikepdf.Array([widget]))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[widget], SigFlags=3)
    path = tmp_path / "from-another-system.pdf"
    pdf.save(path)
    return path, page.text


@pytest.mark.slow
@pytest.mark.parametrize("visible_helvetica", [False, True])
def test_an_old_ocr_layer_is_replaced_and_the_stamp_kept(
    tmp_path: Path, visible_helvetica: bool
) -> None:
    path, truth = _scan_with_old_layer(tmp_path, visible_helvetica=visible_helvetica)
    source = inspect_source(path)
    outcome = process_page(source, ctx("hồ sơ của dân.pdf"), tmp_path / "w")
    assert outcome.record.text_source == "ocr"
    assert any("own text layer was not kept" in w for w in outcome.record.warning_texts)
    assembled = tmp_path / "assembled.pdf"
    assemble_searchable_pdf(source, [outcome.layer], assembled, DocumentInfo(title="t"))
    archived = make_pdfa(
        assembled,
        tmp_path / "archived.pdf",
        metadata=ArchiveMetadata(
            title="t", dossier_code="", procedure="", agency_code="", digitiser="x"
        ),
        source_name="hồ sơ của dân.pdf",
    )
    text = pdftotext(archived)
    assert "CONG Hcok" not in text  # the old layer is gone ...
    assert "Ky boi: UBND" in text  # ... the stamp stays, as page content now
    stamp_free = "\n".join(line for line in text.splitlines() if "Ky boi" not in line)
    assert synth.char_error_rate(truth, stamp_free) < 0.03
    with pikepdf.open(archived) as pdf:
        assert "/Annots" not in pdf.pages[0].obj  # the other system's signature field went
        assert "/AcroForm" not in pdf.Root


# --- never worse than the engine alone ----------------------------------------------------


@pytest.mark.slow
def test_a_cleanup_that_hurts_loses_to_the_untouched_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = synth.render_page(LETTER, dpi=200, font_pt=12)
    path = tmp_path / "letter.png"
    page.image.save(path, dpi=(200, 200))
    real_clean = page_module.clean_page

    def ruinous_clean(loaded: object, context: PageContext) -> CleanedPage:
        cleaned = real_clean(loaded, context)  # type: ignore[arg-type]
        # Strokes swollen until letters run together (a threshold gone wrong).
        swollen = cv2.erode(cleaned.image, np.ones((5, 5), np.uint8), iterations=2)
        return CleanedPage(**{**cleaned.__dict__, "image": swollen})

    monkeypatch.setattr(page_module, "clean_page", ruinous_clean)
    outcome = process_page(inspect_source(path), ctx("letter.png"), tmp_path / "w")
    assert any("untouched scan was read" in w for w in outcome.record.warning_texts), (
        outcome.record.warnings
    )
    assert outcome.layer.rotation == 0 and outcome.layer.to_cleaned[0] == 1.0
    text = outcome.text_path.read_text(encoding="utf-8")
    assert synth.char_error_rate(page.text, text) < 0.03


# --- reading order of the text layer -------------------------------------------------------


def test_a_two_column_letter_head_is_extracted_column_by_column(tmp_path: Path) -> None:
    """Tesseract often returns the agency name and the motto as one line; the layer leaves
    the gap open so extraction reads the left block, then the right, never interleaved."""

    def words(text: str, left: float) -> list[tuple[str, float, float]]:
        out, x = [], left
        for word in text.split():
            out.append((word, x, x + 14 * len(word)))
            x += 14 * len(word) + 10
        return out

    lines = [
        LineBox(
            tuple(words("ỦY BAN NHÂN DÂN", 100) + words("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 900)),
            100,
            130,
            (1, 1),
        ),
        LineBox(
            tuple(words("TỈNH QUẢNG NGÃI", 110) + words("Độc lập - Tự do - Hạnh phúc", 1000)),
            140,
            170,
            (1, 1),
        ),
    ]
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    font = make_font(pdf)
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(SohoaOCR=font))
    to_user = np.array([[72 / 300, 0, 0], [0, -72 / 300, 842], [0, 0, 1]])
    page.obj.Contents = pdf.make_stream(text_layer_content(lines, to_user))
    out = tmp_path / "head.pdf"
    pdf.save(out)
    text = " ".join(pdftotext(out).split())
    assert "ỦY BAN NHÂN DÂN TỈNH QUẢNG NGÃI" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM Độc lập - Tự do - Hạnh phúc" in text


def test_upscaled_pages_keep_their_boxes_on_the_original(tmp_path: Path) -> None:
    """The archived page of a low-resolution capture is sized from the measured dpi."""
    page = synth.render_page(LETTER[:3], dpi=80, font_pt=13, font_path=TIMES)
    path = tmp_path / "small.png"
    page.image.save(path)
    loaded = load_page(inspect_source(path), ctx("small.png"))
    with Image.open(path) as image:
        width_in = image.size[0] / loaded.dpi
    assert width_in == pytest.approx(210 / 25.4, rel=0.3)  # an A4 page, not 2 inches wide


def test_errors_name_the_users_file_never_our_working_copy(tmp_path: Path) -> None:
    """Sources are read from the work dir under internal names; messages name the file the
    clerk handed in."""
    from models.errors import BadInputError

    internal = tmp_path / "work" / "20261130-0001-001" / "original.pdf"
    internal.parent.mkdir(parents=True)
    internal.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    with pytest.raises(BadInputError) as caught:
        inspect_source(internal, name="Hồ sơ bà Lan.pdf")
    message = caught.value.message
    assert message.startswith("Hồ sơ bà Lan.pdf: ")
    assert str(internal.parent) not in message and "original.pdf" not in message
