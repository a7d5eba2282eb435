from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from models.errors import BadInputError, ExitCode
from pipeline.context import PageContext
from pipeline.load import ColourMode, MediaType, inspect_source, load_page, sniff_media_type


def ctx(name: str, index: int = 0, **kw: object) -> PageContext:
    return PageContext(source_name=name, page_index=index, **kw)  # type: ignore[arg-type]


def test_pdf_pages_load_at_their_scan_resolution(samples_dir: Path) -> None:
    source = inspect_source(samples_dir / "three-pages.pdf")
    assert source.media_type is MediaType.PDF
    assert source.page_count == 3
    page = load_page(source, ctx(source.name, 1))
    assert page.dpi == pytest.approx(200, abs=2)
    # A4 at 200 dpi, turned upside down: same shape as the scan
    assert (page.width, page.height) == pytest.approx((1654, 2339), abs=3)
    assert page.colour_mode is ColourMode.COLOUR
    assert page.existing_text is None  # image-only scan


def test_multipage_tiff_jpeg_png(samples_dir: Path) -> None:
    tiff = inspect_source(samples_dir / "two-pages.tiff")
    assert (tiff.media_type, tiff.page_count) == (MediaType.TIFF, 2)
    second = load_page(tiff, ctx(tiff.name, 1))
    assert second.dpi == pytest.approx(200)
    first = load_page(tiff, ctx(tiff.name, 0))
    assert not np.array_equal(first.image, second.image)
    jpeg = inspect_source(samples_dir / "page.jpg")
    assert (jpeg.media_type, jpeg.page_count) == (MediaType.JPEG, 1)
    png = inspect_source(samples_dir / "page.png")
    assert png.media_type is MediaType.PNG
    page = load_page(png, ctx(png.name))
    # The PNG is the scan turned 90 degrees: landscape
    assert page.width > page.height
    assert page.image.ndim == 3


def test_type_is_recognised_by_content_not_name(tmp_path: Path, samples_dir: Path) -> None:
    disguised = tmp_path / "scan.pdf"
    disguised.write_bytes((samples_dir / "page.png").read_bytes())
    assert inspect_source(disguised).media_type is MediaType.PNG
    assert sniff_media_type(b"hello") is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("zero.pdf", "empty file"),
        ("not-a-pdf.pdf", "not a PDF, TIFF, JPEG or PNG"),
        ("truncated.pdf", "corrupt or truncated PDF"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(
    samples_dir: Path, name: str, problem: str
) -> None:
    with pytest.raises(BadInputError) as caught:
        inspect_source(samples_dir / name)
    message = caught.value.message
    assert message.startswith(f"{name}: ")
    assert problem in message
    assert "\n" not in message
    assert str(samples_dir) not in message  # no internal paths in user messages
    assert caught.value.exit_code is ExitCode.BAD_INPUT


def test_encrypted_pdf_is_refused(tmp_path: Path, samples_dir: Path) -> None:
    target = tmp_path / "locked.pdf"
    with pikepdf.open(samples_dir / "three-pages.pdf") as pdf:
        pdf.save(target, encryption=pikepdf.Encryption(owner="o", user="secret"))
    with pytest.raises(BadInputError, match="encrypted"):
        inspect_source(target)


def test_huge_image_is_refused_before_decoding(tmp_path: Path) -> None:
    target = tmp_path / "bomb.png"
    Image.new("L", (6000, 6000), 255).save(target)
    source = inspect_source(target)
    with pytest.raises(BadInputError, match="over the limit"):
        load_page(source, ctx(source.name, max_page_pixels=10_000_000))


def test_tiny_image_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(target)
    source = inspect_source(target)
    with pytest.raises(BadInputError, match="too small"):
        load_page(source, ctx(source.name))


def test_sixteen_bit_and_cmyk_images_load(tmp_path: Path) -> None:
    grey16 = tmp_path / "deep.tif"
    Image.fromarray(np.full((64, 64), 40000, dtype=np.uint16)).save(grey16)
    page = load_page(inspect_source(grey16), ctx("deep.tif"))
    assert page.image.dtype == np.uint8 and page.colour_mode is ColourMode.GREY
    assert 150 < int(page.image.mean()) < 160
    cmyk = tmp_path / "print.jpg"
    Image.new("CMYK", (64, 64), (0, 0, 0, 0)).save(cmyk)
    page = load_page(inspect_source(cmyk), ctx("print.jpg"))
    assert page.image.shape == (64, 64, 3)


def test_missing_resolution_is_assumed_and_flagged(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100), "white").save(buffer, "PNG")
    target = tmp_path / "nodpi.png"
    target.write_bytes(buffer.getvalue())
    page = load_page(inspect_source(target), ctx("nodpi.png", default_dpi=300))
    assert page.dpi_assumed and page.dpi == 300


def test_pdf_page_with_text_keeps_its_text(tmp_path: Path) -> None:
    target = tmp_path / "typed.pdf"
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(
        b"BT /F1 12 Tf 72 700 Td (This page was typed, not scanned, and has real text.) Tj ET"
    )
    pdf.save(target)
    source = inspect_source(target)
    loaded = load_page(source, ctx(source.name))
    assert loaded.existing_text is not None
    assert "typed, not scanned" in loaded.existing_text
    assert loaded.dpi_assumed  # no image: rendered at the default resolution


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_pages_have_the_pixels_pil_decodes(tmp_path: Path, mode: str) -> None:
    """JPEG files are decoded by OpenCV (faster); the pixels are PIL's, EXIF turns ignored."""
    target = tmp_path / "scan.jpg"
    pixels = np.random.default_rng(3).integers(0, 255, (120, 90, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90" in EXIF: a scan is taken as stored, as PDF viewers do
    Image.fromarray(pixels).convert(mode).save(target, quality=80, dpi=(200, 200), exif=exif)
    page = load_page(inspect_source(target), ctx(target.name))
    with Image.open(target) as image:
        expected = np.asarray(image)
    if mode == "RGB":
        expected = expected[:, :, ::-1]
    assert page.image.shape[:2] == (120, 90)
    assert np.array_equal(page.image, expected)
    assert page.colour_mode is (ColourMode.COLOUR if mode == "RGB" else ColourMode.GREY)
    assert page.dpi == 200
