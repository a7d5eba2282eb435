"""A scanner's plain JPEG page is decoded as it is; anything else still goes to the renderer."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image

from pipeline import pdf_scan, poppler
from pipeline.context import PageContext
from pipeline.load import ColourMode, inspect_source, load_page

DPI = 200


def scan_image(mode: str = "RGB") -> Image.Image:
    """A small 'scan': dark bars on paper, a red mark, at 200 dpi."""
    pixels = np.full((400, 300, 3), 235, dtype=np.uint8)
    pixels[50:60, 30:270] = 20
    pixels[120:130, 30:200] = 40
    pixels[300:340, 200:260] = (200, 30, 30)
    image = Image.fromarray(pixels)
    return image.convert(mode)


def jpeg_pdf(
    target: Path,
    image: Image.Image,
    *,
    content: bytes | None = None,
    rotate: int = 0,
    extra: dict[str, object] | None = None,
) -> bytes:
    """One page, one JPEG drawn over all of it (as scanners write), or ``content`` instead."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    width_pt, height_pt = image.width * 72 / DPI, image.height * 72 / DPI
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(width_pt, height_pt))
    space = {"L": pikepdf.Name.DeviceGray, "RGB": pikepdf.Name.DeviceRGB}.get(
        image.mode, pikepdf.Name.DeviceCMYK
    )
    xobject = pikepdf.Stream(pdf, jpeg)
    xobject.Type = pikepdf.Name.XObject
    xobject.Subtype = pikepdf.Name.Image
    xobject.Width, xobject.Height = image.width, image.height
    xobject.ColorSpace = space
    xobject.BitsPerComponent = 8
    xobject.Filter = pikepdf.Name.DCTDecode
    for key, value in (extra or {}).items():
        xobject[key] = value
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject))
    drawn = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q".encode()
    page.obj.Contents = pdf.make_stream(content if content is not None else drawn)
    if rotate:
        page.obj.Rotate = rotate
    pdf.save(target)
    return jpeg


def load(path: Path) -> np.ndarray:
    source = inspect_source(path)
    return load_page(source, PageContext(source_name=source.name, page_index=0)).image


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the pages sent to pdftoppm."""
    calls: list[int] = []
    real = poppler.render_page

    def counted(*args: object, **kwargs: object) -> Image.Image:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poppler, "render_page", counted)
    return calls


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_plain_scanned_page_is_its_jpeg_decoded(
    tmp_path: Path, renders: list[int], mode: str
) -> None:
    target = tmp_path / "scan.pdf"
    jpeg = jpeg_pdf(target, scan_image(mode))
    source = inspect_source(target)
    page = load_page(source, PageContext(source_name=source.name, page_index=0))
    flags = cv2.IMREAD_GRAYSCALE if mode == "L" else cv2.IMREAD_COLOR
    expected = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), flags)
    assert renders == []  # no renderer started
    assert np.array_equal(page.image, expected)  # the scanner's own pixels, not resampled
    assert page.dpi == DPI
    assert page.colour_mode is (ColourMode.GREY if mode == "L" else ColourMode.COLOUR)


def test_it_gives_what_the_renderer_gives(tmp_path: Path, renders: list[int]) -> None:
    target = tmp_path / "scan.pdf"
    jpeg_pdf(target, scan_image())
    direct = load(target)
    source = inspect_source(target)
    rendered = np.asarray(poppler.render_page(target, page_number=1, dpi=DPI, source_name="x"))
    rendered = cv2.cvtColor(rendered, cv2.COLOR_RGB2BGR)
    height = min(direct.shape[0], rendered.shape[0])
    width = min(direct.shape[1], rendered.shape[1])
    assert abs(direct.shape[0] - rendered.shape[0]) <= 1 and source.page_count == 1
    difference = np.abs(direct[:height, :width].astype(int) - rendered[:height, :width].astype(int))
    assert float(difference.mean()) < 3.0


@pytest.mark.parametrize(
    "case",
    ["rotated page", "text drawn too", "image in a corner", "flipped image", "CMYK", "inverted"],
)
def test_anything_but_a_plain_scan_goes_to_the_renderer(
    tmp_path: Path, renders: list[int], case: str
) -> None:
    target = tmp_path / "other.pdf"
    image = scan_image("CMYK" if case == "CMYK" else "RGB")
    width_pt, height_pt = image.width * 72 / DPI, image.height * 72 / DPI
    content = {
        "text drawn too": f"q {width_pt} 0 0 {height_pt} 0 0 cm /Im0 Do Q BT ET".encode(),
        "image in a corner": f"q {width_pt / 2} 0 0 {height_pt / 2} 0 0 cm /Im0 Do Q".encode(),
        "flipped image": f"q {width_pt} 0 0 {-height_pt} 0 {height_pt} cm /Im0 Do Q".encode(),
    }.get(case)
    extra = {"/Decode": pikepdf.Array([1, 0, 1, 0, 1, 0])} if case == "inverted" else None
    jpeg_pdf(
        target,
        image,
        content=content,
        rotate=90 if case == "rotated page" else 0,
        extra=extra,
    )
    page = load(target)
    assert renders == [1]
    if case == "rotated page":  # drawn as the viewer shows it: turned
        assert page.shape[:2] == pytest.approx((300, 400), abs=1)


def test_a_jpeg_of_another_size_than_declared_is_rendered(tmp_path: Path) -> None:
    target = tmp_path / "lies.pdf"
    jpeg_pdf(target, scan_image())
    with pikepdf.open(target, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        assert pdf_scan.embedded_scan(page, DPI) is not None
        image = page.obj.Resources.XObject.Im0
        image.Width = 301  # the JPEG itself is 300 wide
        assert pdf_scan.embedded_scan(page, DPI * 301 / 300) is None
        assert pdf_scan.embedded_scan(page, 300) is None  # another resolution than asked


def test_a_jpeg_larger_than_declared_is_never_decoded_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page-size limit is checked on the declared size: a bigger JPEG behind it (a
    decompression bomb) goes to the renderer, which has its own limits."""
    target = tmp_path / "bomb.pdf"
    jpeg_pdf(target, scan_image())
    big = io.BytesIO()
    Image.new("RGB", (3000, 4000), "white").save(big, "JPEG")
    with pikepdf.open(target, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        page.obj.Resources.XObject.Im0.write(big.getvalue(), filter=pikepdf.Name.DCTDecode)
        decoded: list[int] = []
        monkeypatch.setattr(pdf_scan.cv2, "imdecode", lambda *a: decoded.append(1))
        assert pdf_scan.embedded_scan(page, DPI) is None
        assert decoded == []
