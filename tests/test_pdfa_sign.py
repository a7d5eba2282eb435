"""PDF/A-2b archival copies and the digitiser's PAdES signature (TT 01/2023/TT-VPCP).

A real three-page searchable PDF is built with ``pipeline.assemble`` (colour JPEG, grey and
bilevel scans, text layer from OCR word boxes written here instead of running Tesseract),
then converted, signed and checked with pikepdf, pdftotext, pdftoppm, qpdf and pyHanko.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from lxml import etree
from PIL import Image, ImageFont

from models.errors import BadInputError, SigningCredentialError, SigningError
from models.pagerecord import OcrWord
from pipeline.assemble import DocumentInfo, PageLayer, assemble_searchable_pdf
from pipeline.load import inspect_source
from pipeline.pdfa import ArchiveMetadata, make_pdfa
from pipeline.sign import VIETNAM_TIME, sign_pdf, verify_pdf_signature
from pipeline.stamp import STAMP_HEIGHT, STAMP_PHRASE, STAMP_WIDTH
from pipeline.xmp import ARCHIVE_NS
from tests import synth
from tests.pki import ThrowawayPki, make_pki

DPI = 100
FONT_PT = 11
SIGNER = "Nguyễn Thị Thu Hằng"
METADATA = ArchiveMetadata(
    title="Hồ sơ đổi giấy phép lái xe",
    dossier_code="000.17.22.H56-210531-0001",
    procedure="1.002809",
    agency_code="H56.22",
    digitiser=SIGNER,
    subject="Đổi giấy phép lái xe do ngành Giao thông vận tải cấp",
    keywords=("GPLX", "Quảng Ninh"),
)
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "x": "adobe:ns:meta/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "sohoa": ARCHIVE_NS,
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
}


# --- fixtures ------------------------------------------------------------------------------


def _image_stream(pdf: pikepdf.Pdf, image: Image.Image) -> pikepdf.Stream:
    """RGB as JPEG, grey as 8-bit Flate, bilevel as 1-bit Flate: what scanners write."""
    if image.mode == "RGB":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80)
        stream = pikepdf.Stream(pdf, buffer.getvalue())
        stream.Filter, stream.ColorSpace, bits = pikepdf.Name.DCTDecode, pikepdf.Name.DeviceRGB, 8
    else:
        stream = pikepdf.Stream(pdf, zlib.compress(image.tobytes()))
        stream.Filter, stream.ColorSpace = pikepdf.Name.FlateDecode, pikepdf.Name.DeviceGray
        bits = 1 if image.mode == "1" else 8
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height = image.size
    stream.BitsPerComponent = bits
    return stream


def _scan_pdf(images: list[Image.Image], path: Path, rotate: int = 0) -> None:
    pdf = pikepdf.new()
    for image in images:
        width, height = (v * 72.0 / DPI for v in image.size)
        page = pdf.add_blank_page(page_size=(width, height))
        name = page.add_resource(_image_stream(pdf, image), pikepdf.Name.XObject, prefix="Im")
        page.contents_add(
            pikepdf.Stream(pdf, f"q {width} 0 0 {height} 0 0 cm {name} Do Q".encode())
        )
        if rotate:
            page.obj.Rotate = rotate
    pdf.save(path)


def _words(page: synth.SynthPage) -> tuple[OcrWord, ...]:
    """Word boxes where synth.render_page drew the words (as Tesseract would report them)."""
    size = round(FONT_PT * DPI / 72)
    font = ImageFont.truetype(synth.find_font("sans"), size)
    margin = int(20 / 25.4 * DPI)
    line_height = int(FONT_PT * DPI / 72 * 1.6)
    words = []
    for number, line in enumerate(page.lines):
        x = float(margin)
        for word in line.split():
            width = font.getlength(word)
            top = margin + number * line_height
            words.append(OcrWord(word, round(x), top, round(width), size, 95.0, 1, 1, number + 1))
            x += width + font.getlength(" ")
    return tuple(words)


def _assemble(pages: list[synth.SynthPage], images: list[Image.Image], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    source_path = directory / "scan.pdf"
    _scan_pdf(images, source_path)
    source = inspect_source(source_path)
    layers = [
        PageLayer(
            index=index,
            dpi=DPI,
            width_px=image.width,
            height_px=image.height,
            rotation=0,
            to_cleaned=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
            words=_words(page),
        )
        for index, (page, image) in enumerate(zip(pages, images, strict=True))
    ]
    output = directory / "searchable.pdf"
    assemble_searchable_pdf(source, layers, output, DocumentInfo(title="t"))
    return output


@pytest.fixture(scope="module")
def pages() -> list[synth.SynthPage]:
    return [
        synth.render_page(synth.corpus_lines(8, seed), dpi=DPI, font_pt=FONT_PT)
        for seed in range(3)
    ]


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory, pages: list[synth.SynthPage]) -> Path:
    images = [
        pages[0].image.convert("RGB"),  # colour scan, JPEG
        pages[1].image.convert("L"),  # grey
        pages[2].image.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1"),
    ]
    return _assemble(pages, images, tmp_path_factory.mktemp("assembled"))


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory, assembled: Path) -> Path:
    return make_pdfa(assembled, tmp_path_factory.mktemp("pdfa") / "archive.pdf", metadata=METADATA)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayPki:
    return make_pki(tmp_path_factory.mktemp("pki"), signer_common_name=SIGNER)


@pytest.fixture(scope="module")
def signing_time() -> datetime:
    return datetime.now(VIETNAM_TIME).replace(microsecond=0) - timedelta(minutes=5)


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory,
    archived: Path,
    pki: ThrowawayPki,
    signing_time: datetime,
) -> Path:
    output = tmp_path_factory.mktemp("signed") / "signed.pdf"
    info = sign_pdf(
        archived,
        output,
        pkcs12_path=pki.pkcs12,
        pkcs12_password=pki.password,
        signer_name=SIGNER,
        signed_at=signing_time,
        location="Bưu điện tỉnh Quảng Ninh",
    )
    assert info.path == output
    assert info.signed_at == signing_time
    assert info.certificate_subject == SIGNER
    assert len(info.sha256) == 64
    return output


# --- helpers -------------------------------------------------------------------------------


def pdftotext(path: Path, page: int, *extra: str) -> str:
    args = ["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page), *extra]
    return subprocess.run([*args, str(path), "-"], capture_output=True, check=True).stdout.decode()


def xmp_values(pdf: pikepdf.Pdf) -> dict[str, str]:
    """Simple XMP properties as 'prefix:Name' -> text, in element or attribute form."""
    root = etree.fromstring(pdf.Root.Metadata.read_bytes())
    prefixes = {uri: prefix for prefix, uri in NS.items()}
    values: dict[str, str] = {}
    for description in root.iter(f"{{{NS['rdf']}}}Description"):
        for key, value in description.attrib.items():
            uri, _, local = key[1:].partition("}")
            if uri in prefixes:
                values[f"{prefixes[uri]}:{local}"] = value
        for child in description:
            uri, _, local = child.tag[1:].partition("}")
            if uri in prefixes and prefixes[uri] != "pdfaExtension":
                items = child.findall(f".//{{{NS['rdf']}}}li")
                values[f"{prefixes[uri]}:{local}"] = items[0].text if items else (child.text or "")
    return values


def _instant(text: str) -> datetime:
    if text.startswith("D:"):
        raw = text[2:].replace("'", "")
        if raw.endswith("Z"):
            raw = raw[:-1] + "+0000"
        return datetime.strptime(raw, "%Y%m%d%H%M%S%z")
    return datetime.fromisoformat(text)


def image_streams(path: Path) -> list[tuple[bytes, str, str]]:
    with pikepdf.open(path) as pdf:
        return [
            (image.read_raw_bytes(), str(image.Filter), str(image.ColorSpace))
            for page in pdf.pages
            for image in page.get_images().values()
        ]


def assert_info_matches_xmp(pdf: pikepdf.Pdf) -> dict[str, str]:
    xmp = xmp_values(pdf)
    info = pdf.docinfo
    assert str(info.Title) == xmp["dc:title"]
    assert str(info.Author) == xmp["dc:creator"]
    assert str(info.Creator) == xmp["xmp:CreatorTool"]
    assert str(info.Producer) == xmp["pdf:Producer"]
    assert str(info.Subject) == xmp["dc:description"]
    assert str(info.Keywords) == xmp["pdf:Keywords"]
    assert _instant(str(info.CreationDate)) == _instant(xmp["xmp:CreateDate"])
    assert _instant(str(info.ModDate)) == _instant(xmp["xmp:ModifyDate"])
    return xmp


# --- PDF/A ---------------------------------------------------------------------------------


def test_pdfa_structure(archived: Path) -> None:
    head = archived.read_bytes()[:32]
    assert head.startswith(b"%PDF-1.")
    comment = head.split(b"\n")[1]  # 6.1.2: a comment of at least four bytes above 127
    assert comment.startswith(b"%") and sum(b > 127 for b in comment[1:5]) == 4
    with pikepdf.open(archived) as pdf:
        assert pdf.pdf_version <= "1.7"
        assert "/Encrypt" not in pdf.trailer
        assert len(pdf.trailer.ID) == 2 and all(len(bytes(part)) == 16 for part in pdf.trailer.ID)

        [intent] = pdf.Root.OutputIntents
        assert intent.S == pikepdf.Name.GTS_PDFA1
        assert str(intent.OutputConditionIdentifier) == "sRGB IEC61966-2.1"
        profile = intent.DestOutputProfile
        icc = profile.read_bytes()
        assert int(profile.N) == 3 and icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
        assert icc[12:16] in (b"mntr", b"prtr")

        metadata = pdf.Root.Metadata
        assert metadata.Type == pikepdf.Name.Metadata and metadata.Subtype == pikepdf.Name.XML
        assert "/Filter" not in metadata  # 6.6.2.1: the packet stays readable as it is
        xmp = assert_info_matches_xmp(pdf)
        assert xmp["pdfaid:part"] == "2" and xmp["pdfaid:conformance"] == "B"
        assert xmp["sohoa:DossierCode"] == METADATA.dossier_code
        assert xmp["sohoa:AgencyCode"] == METADATA.agency_code
        assert xmp["sohoa:Procedure"] == METADATA.procedure
        assert xmp["sohoa:Digitiser"] == SIGNER
        # every custom property is described by the PDF/A extension schema
        root = etree.fromstring(metadata.read_bytes())
        described = {e.text for e in root.iter(f"{{{NS['pdfaProperty']}}}name")}
        used = {key.split(":", 1)[1] for key in xmp if key.startswith("sohoa:")}
        assert used and used <= described
        assert [e.text for e in root.iter(f"{{{NS['pdfaSchema']}}}namespaceURI")] == [ARCHIVE_NS]

        fonts = [
            o
            for o in pdf.objects
            if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == "/Font"
        ]
        assert fonts
        for font in fonts:
            if font.Subtype == pikepdf.Name.Type0:
                descriptor = font.DescendantFonts[0].FontDescriptor
                assert "/FontFile2" in descriptor or "/FontFile3" in descriptor
                assert "/CIDToGIDMap" in font.DescendantFonts[0]
        for page in pdf.pages:
            assert "/Group" not in page.obj and "/AA" not in page.obj
        assert "/OpenAction" not in pdf.Root and "/AA" not in pdf.Root
    if shutil.which("qpdf"):
        subprocess.run(["qpdf", "--check", str(archived)], check=True, capture_output=True)


def test_images_are_kept_byte_for_byte(assembled: Path, archived: Path, signed: Path) -> None:
    before = image_streams(assembled)
    assert [(f, c) for _, f, c in before] == [
        ("/DCTDecode", "/DeviceRGB"),
        ("/FlateDecode", "/DeviceGray"),  # grey and bilevel stay DeviceGray: allowed under an
        ("/FlateDecode", "/DeviceGray"),  # RGB OutputIntent (ISO 19005-2 6.2.4.3)
    ]
    assert image_streams(archived) == before
    assert image_streams(signed) == before


def test_text_layer_reads_back_after_pdfa_and_signing(
    pages: list[synth.SynthPage], archived: Path, signed: Path
) -> None:
    for path in (archived, signed):
        for number, page in enumerate(pages, start=1):
            text = unicodedata.normalize("NFC", pdftotext(path, number))
            for line in page.lines[:3]:
                assert line in text, (path.name, number, line)


def test_metadata_date_time_zone_is_required(assembled: Path, tmp_path: Path) -> None:
    naive = ArchiveMetadata(
        title="t",
        dossier_code="x",
        procedure="p",
        agency_code="a",
        digitiser="d",
        created_at=datetime(2025, 1, 2, 3, 4, 5),
    )
    with pytest.raises(ValueError, match="time zone"):
        make_pdfa(assembled, tmp_path / "x.pdf", metadata=naive)


def test_pdfa_strips_javascript_and_declares_cmyk(tmp_path: Path) -> None:
    source = tmp_path / "js.pdf"
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    cmyk = pikepdf.Stream(pdf, zlib.compress(bytes([0, 0, 0, 255]) * 4))
    cmyk.Type, cmyk.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    cmyk.Width = cmyk.Height = 2
    cmyk.ColorSpace, cmyk.Filter = pikepdf.Name.DeviceCMYK, pikepdf.Name.FlateDecode
    cmyk.BitsPerComponent = 8
    cmyk.Interpolate = True
    name = page.add_resource(cmyk, pikepdf.Name.XObject)
    page.contents_add(pikepdf.Stream(pdf, f"q 200 0 0 200 0 0 cm {name} Do Q".encode()))
    script = pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    )
    pdf.Root.OpenAction = script
    page.obj.AA = pikepdf.Dictionary(O=script)
    page.obj.Group = pikepdf.Dictionary(S=pikepdf.Name.Transparency, CS=pikepdf.Name.DeviceRGB)
    pdf.save(source)
    raw = cmyk.read_raw_bytes()

    output = make_pdfa(source, tmp_path / "a.pdf", metadata=METADATA)
    with pikepdf.open(output) as result:
        assert "/OpenAction" not in result.Root
        first = result.pages[0]
        assert "/AA" not in first.obj and "/Group" not in first.obj
        image = next(iter(first.get_images().values()))
        assert image.read_raw_bytes() == raw
        assert image.ColorSpace[0] == "/ICCBased" and int(image.ColorSpace[1].N) == 4
        assert not image.get("/Interpolate", False)


def _one_font_pdf(tmp_path: Path, base_font: str, mode: int) -> Path:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name(base_font),
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    page.add_resource(font, pikepdf.Name.Font, pikepdf.Name.F1)
    page.contents_add(
        pikepdf.Stream(pdf, f"BT /F1 12 Tf {mode} Tr 10 10 Td (Xin chao) Tj ET".encode())
    )
    path = tmp_path / f"{base_font.strip('/')}-mode{mode}.pdf"
    pdf.save(path)
    return path


def test_pdfa_embeds_a_metric_compatible_substitute_for_a_standard_font(tmp_path: Path) -> None:
    """Visible Helvetica with no program (PDFs from other systems): URW Nimbus Sans goes in,
    with the widths of the same metrics, and the text still reads the same."""
    out = make_pdfa(
        _one_font_pdf(tmp_path, "/Helvetica", 0), tmp_path / "visible.pdf", metadata=METADATA
    )
    with pikepdf.open(out) as pdf:
        font = pdf.pages[0].Resources.Font.F1
        assert "/FontFile3" in font.FontDescriptor
        assert font.FontDescriptor.FontFile3.Subtype == "/OpenType"
        widths = [int(w) for w in font.Widths]
        assert widths[ord("X") - int(font.FirstChar)] == 667  # Helvetica's AFM width of X
        assert pdf.pdf_version >= "1.6"
    assert "Xin chao" in pdftotext(out, 1)


def test_pdfa_refuses_a_visible_font_with_no_substitute(tmp_path: Path) -> None:
    make_pdfa(  # exempt: invisible
        _one_font_pdf(tmp_path, "/VNI-Times", 3), tmp_path / "invisible.pdf", metadata=METADATA
    )
    with pytest.raises(BadInputError, match=r"clerk-scan\.pdf: fonts not embedded.*VNI-Times"):
        make_pdfa(
            _one_font_pdf(tmp_path, "/VNI-Times", 0),
            tmp_path / "visible.pdf",
            metadata=METADATA,
            source_name="clerk-scan.pdf",
        )


# --- signing -------------------------------------------------------------------------------


def test_signature_validates_against_the_test_root(
    signed: Path, pki: ThrowawayPki, signing_time: datetime
) -> None:
    report = verify_pdf_signature(signed, trust_roots=[pki.root_certificate])
    assert report.intact and report.valid and report.trusted
    assert report.covers_whole_document and report.ok
    assert report.signer_common_name == SIGNER
    assert report.signing_time == signing_time
    assert report.signature_count == 1
    assert "\n" not in report.summary and report.summary.startswith("signed.pdf: valid")

    untrusted = verify_pdf_signature(signed, trust_roots=[])
    assert untrusted.intact and untrusted.valid and not untrusted.trusted
    assert "not trusted" in untrusted.summary


def test_signing_is_an_incremental_update_that_keeps_pdfa(archived: Path, signed: Path) -> None:
    assert signed.read_bytes().startswith(archived.read_bytes())
    with pikepdf.open(archived) as before, pikepdf.open(signed) as after:
        xmp = assert_info_matches_xmp(after)
        assert xmp["pdfaid:part"] == "2" and xmp["pdfaid:conformance"] == "B"
        assert xmp["sohoa:DossierCode"] == METADATA.dossier_code
        assert "pyHanko" in xmp["pdf:Producer"] and "sohoa" in xmp["pdf:Producer"]
        assert "/Filter" not in after.Root.Metadata
        assert str(after.Root.get("/Version", "/1.7")) in ("/1.4", "/1.5", "/1.6", "/1.7")
        assert "/Encrypt" not in after.trailer
        assert bytes(after.trailer.ID[0]) == bytes(before.trailer.ID[0])
        assert after.Root.OutputIntents[0].DestOutputProfile.read_bytes() == (
            before.Root.OutputIntents[0].DestOutputProfile.read_bytes()
        )
        assert "/NeedAppearances" not in after.Root.AcroForm
    if shutil.which("qpdf"):
        subprocess.run(["qpdf", "--check", str(signed)], check=True, capture_output=True)


def test_stamp_is_top_left_of_page_one_in_vietnamese(signed: Path, signing_time: datetime) -> None:
    with pikepdf.open(signed) as pdf:
        for page in pdf.pages[1:]:
            assert "/Annots" not in page.obj
        first = pdf.pages[0]
        [widget] = [a for a in first.obj.Annots if a.get("/FT") == "/Sig"]
        x0, y0, x1, y1 = (float(v) for v in widget.Rect)
        mx0, my0, _, my1 = (float(v) for v in first.mediabox)
        assert 0 < x0 - mx0 <= 15 and 0 < my1 - y1 <= 15  # top-left corner, small margin
        assert abs((x1 - x0) - STAMP_WIDTH) <= 1 and abs((y1 - y0) - STAMP_HEIGHT) <= 1
        assert int(widget.F) & 4  # printed (PDF/A: shown as on screen)
        appearance = widget.AP.N
        assert set(widget.AP.keys()) == {"/N"}
        font = appearance.Resources.Font.F1
        assert "/FontFile2" in font.DescendantFonts[0].FontDescriptor  # embedded subset
        assert "/ToUnicode" in font
        page_height = my1 - my0
    # Text in the stamp's area of page 1 (pdftotext crops in points at 72 dpi).
    region = pdftotext(
        signed,
        1,
        "-x",
        str(int(x0 - mx0)),
        "-y",
        str(int(my1 - y1)),
        "-W",
        str(int(x1 - x0) + 1),
        "-H",
        str(int(y1 - y0) + 1),
    )
    region = unicodedata.normalize("NFC", region)
    assert STAMP_PHRASE in region
    assert SIGNER in region
    assert f"{signing_time:%d/%m/%Y %H:%M:%S}" in region
    assert page_height > 500


def _rendered(path: Path, directory: Path) -> np.ndarray:
    prefix = directory / path.stem
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "36",
            "-gray",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "-png",
            str(path),
            str(prefix),
        ],
        check=True,
        capture_output=True,
    )
    with Image.open(prefix.with_suffix(".png")) as image:
        return np.asarray(image.convert("L"))


@pytest.mark.parametrize("rotate", [90, 270])
def test_stamp_is_upright_top_left_on_a_rotated_page(
    tmp_path: Path, pki: ThrowawayPki, rotate: int
) -> None:
    blank = Image.new("L", (827, 1169), 255)  # A4 at 100 dpi, displayed landscape
    source = tmp_path / "rotated.pdf"
    _scan_pdf([blank], source, rotate=rotate)
    archive = make_pdfa(source, tmp_path / "archive.pdf", metadata=METADATA)
    signed = tmp_path / "signed.pdf"
    sign_pdf(
        archive, signed, pkcs12_path=pki.pkcs12, pkcs12_password=pki.password, signer_name=SIGNER
    )
    before, after = _rendered(archive, tmp_path), _rendered(signed, tmp_path)
    assert before.shape == after.shape and before.shape[1] > before.shape[0]  # landscape
    rows, columns = np.nonzero(np.abs(after.astype(int) - before.astype(int)) > 40)
    top, bottom, left, right = rows.min(), rows.max(), columns.min(), columns.max()
    scale = 36 / 72
    assert left <= 15 * scale and top <= 15 * scale  # displayed top-left corner
    assert abs((right - left) - STAMP_WIDTH * scale) <= 3  # wide, not tall: upright
    assert abs((bottom - top) - STAMP_HEIGHT * scale) <= 3
    words = pdftotext(signed, 1, "-bbox")
    assert "Bản" in unicodedata.normalize("NFC", words)
    report = verify_pdf_signature(signed, trust_roots=[pki.root_certificate])
    assert report.ok


def test_a_changed_byte_breaks_the_signature(
    signed: Path, pki: ThrowawayPki, tmp_path: Path
) -> None:
    data = bytearray(signed.read_bytes())
    jpeg = data.find(b"\xff\xd8\xff")  # inside the page-1 scan, well within the signed range
    assert jpeg > 0
    data[jpeg + 500] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    report = verify_pdf_signature(tampered, trust_roots=[pki.root_certificate])
    assert not report.intact and not report.ok
    assert "INVALID" in report.summary


def test_content_appended_after_signing_is_reported(
    signed: Path, pki: ThrowawayPki, tmp_path: Path
) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    appended = tmp_path / "appended.pdf"
    with signed.open("rb") as source, appended.open("wb") as out:
        writer = IncrementalPdfFileWriter(source)
        info = writer.trailer["/Info"]
        info["/Title"] = generic.TextStringObject("changed later")
        writer.update_container(info)
        writer.write(out)
    report = verify_pdf_signature(appended, trust_roots=[pki.root_certificate])
    assert report.intact and report.valid
    assert not report.covers_whole_document and not report.ok
    assert "added after signing" in report.summary


def test_wrong_password_is_a_clear_error(archived: Path, pki: ThrowawayPki, tmp_path: Path) -> None:
    with pytest.raises(SigningCredentialError, match="wrong password") as caught:
        sign_pdf(
            archived,
            tmp_path / "x.pdf",
            pkcs12_path=pki.pkcs12,
            pkcs12_password=b"not-the-password",
            signer_name=SIGNER,
        )
    assert "\n" not in caught.value.message
    assert not (tmp_path / "x.pdf").exists()


def test_missing_pkcs12_and_expired_certificate(archived: Path, tmp_path: Path) -> None:
    with pytest.raises(SigningCredentialError, match="not found"):
        sign_pdf(
            archived,
            tmp_path / "x.pdf",
            pkcs12_path=tmp_path / "nope.p12",
            pkcs12_password=b"x",
            signer_name=SIGNER,
        )
    now = datetime.now(UTC)
    expired = make_pki(
        tmp_path / "old", not_before=now - timedelta(days=400), not_after=now - timedelta(days=3)
    )
    with pytest.raises(SigningCredentialError, match="expired on"):
        sign_pdf(
            archived,
            tmp_path / "x.pdf",
            pkcs12_path=expired.pkcs12,
            pkcs12_password=expired.password,
            signer_name=SIGNER,
        )


def test_missing_font_and_unsigned_input_are_clear_errors(
    archived: Path, pki: ThrowawayPki, tmp_path: Path
) -> None:
    with pytest.raises(SigningError, match="no font with Vietnamese letters"):
        sign_pdf(
            archived,
            tmp_path / "x.pdf",
            pkcs12_path=pki.pkcs12,
            pkcs12_password=pki.password,
            signer_name=SIGNER,
            font_path=tmp_path / "missing.ttf",
        )
    with pytest.raises(BadInputError, match="no digital signature"):
        verify_pdf_signature(archived)
    with pytest.raises(BadInputError, match="file not found"):
        sign_pdf(
            tmp_path / "absent.pdf",
            tmp_path / "x.pdf",
            pkcs12_path=pki.pkcs12,
            pkcs12_password=pki.password,
            signer_name=SIGNER,
        )
