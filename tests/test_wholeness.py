"""Whole or refused (issue 26): a file that lost its end is never read as the pages that
survived. Every kind sohoa accepts, cut as an interrupted transfer leaves it, is refused with
one line naming the file and how much could be read; the whole file still reads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from app.i18n import load_messages
from models.errors import BadInputError
from pipeline.context import PageContext
from pipeline.load import inspect_source, load_page
from pipeline.wholeness import CutOffFileError, jpeg_is_whole


def _pages(count: int) -> list[Image.Image]:
    """Small colour pages with something on them (JPEG-compressed like a scanner's)."""
    rng = np.random.default_rng(7)
    pages = []
    for number in range(count):
        pixels = np.full((700, 500, 3), 245, np.uint8)
        pixels[80 + 40 * number : 140 + 40 * number, 60:440] = (30, 40, 160)
        pixels += rng.integers(0, 8, pixels.shape, dtype=np.uint8)
        pages.append(Image.fromarray(pixels))
    return pages


def _three_page_pdf(path: Path) -> bytes:
    first, *rest = _pages(3)
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=200, quality=85)
    return path.read_bytes()


def _cut(source: bytes, path: Path, fraction: float) -> Path:
    path.write_bytes(source[: int(len(source) * fraction)])
    return path


@pytest.mark.parametrize("fraction", [0.4, 0.7, 0.97])
def test_pdf_cut_anywhere_is_refused_naming_what_was_read(tmp_path: Path, fraction: float) -> None:
    whole = _three_page_pdf(tmp_path / "whole.pdf")
    assert inspect_source(tmp_path / "whole.pdf").page_count == 3
    cut = _cut(whole, tmp_path / "hoso.pdf", fraction)
    original = cut.read_bytes()
    with pytest.raises(CutOffFileError) as refused:
        inspect_source(cut)
    message = str(refused.value)
    assert message.startswith("hoso.pdf: truncated file: ")
    assert "send the file again" in message and "\n" not in message
    assert refused.value.pages_read < 3
    assert cut.read_bytes() == original  # nothing touched


def test_pdf_qpdf_rebuilds_with_fewer_pages_than_it_holds_is_refused(tmp_path: Path) -> None:
    """The file's end is there, but its page list names 2 of the 3 pages and its cross-
    reference table is wrong: qpdf rebuilds it and would show 2 pages."""
    _three_page_pdf(tmp_path / "whole.pdf")
    with pikepdf.open(tmp_path / "whole.pdf") as pdf:
        kept = pdf.pages[2].obj
        pdf.Root.Extra = kept  # the third page object stays in the file, off the page list
        del pdf.pages[2]
        pdf.save(tmp_path / "two-listed.pdf", object_stream_mode=pikepdf.ObjectStreamMode.disable)
    data = bytearray((tmp_path / "two-listed.pdf").read_bytes())
    start = data.rindex(b"startxref") + len(b"startxref")
    end = data.index(b"%%EOF", start)
    data[start:end] = b"\n999999\n"  # a table at a wrong offset: qpdf must rebuild
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CutOffFileError, match=r"only 2 of 3 pages can be read") as refused:
        inspect_source(damaged)
    assert "page list is damaged" in str(refused.value)


def test_pdf_rebuilt_but_complete_is_read(tmp_path: Path) -> None:
    """A wrong cross-reference offset alone (common in real files) loses nothing."""
    data = bytearray(_three_page_pdf(tmp_path / "whole.pdf"))
    start = data.rindex(b"startxref") + len(b"startxref")
    end = data.index(b"%%EOF", start)
    data[start:end] = b"\n12\n"
    (tmp_path / "offset.pdf").write_bytes(bytes(data))
    assert inspect_source(tmp_path / "offset.pdf").page_count == 3


def _image_bytes(kind: str, count: int = 1) -> bytes:
    out = io.BytesIO()
    first, *rest = _pages(count)
    if kind == "TIFF":
        first.save(out, "TIFF", save_all=True, append_images=rest, dpi=(200, 200))
    else:
        first.save(out, kind, dpi=(200, 200))
    return out.getvalue()


@pytest.mark.parametrize(("kind", "suffix"), [("JPEG", "jpg"), ("PNG", "png")])
@pytest.mark.parametrize("fraction", [0.4, 0.9, 0.999])
def test_cut_image_is_refused(tmp_path: Path, kind: str, suffix: str, fraction: float) -> None:
    whole = _image_bytes(kind)
    (tmp_path / f"whole.{suffix}").write_bytes(whole)
    assert inspect_source(tmp_path / f"whole.{suffix}").page_count == 1
    cut = _cut(whole, tmp_path / f"anh.{suffix}", fraction)
    with pytest.raises(CutOffFileError, match=r"^anh\.\w+: truncated file: the image is cut off"):
        inspect_source(cut)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95, 0.9999])
def test_cut_multipage_tiff_is_refused(tmp_path: Path, fraction: float) -> None:
    whole = _image_bytes("TIFF", 3)
    (tmp_path / "whole.tif").write_bytes(whole)
    assert inspect_source(tmp_path / "whole.tif").page_count == 3
    cut = _cut(whole, tmp_path / "quet.tif", fraction)
    with pytest.raises(BadInputError, match=r"^quet\.tif: (truncated file|corrupt)"):
        inspect_source(cut)


def _directory_first_tiff(width: int = 64, height: int = 64) -> bytes:
    """An uncompressed grey TIFF laid out as many scanners write it: header, directory, then
    the pixels (PIL writes its directory after them)."""
    import struct

    entries = [
        (256, 3, 1, width),  # ImageWidth
        (257, 3, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 0),  # StripOffsets: filled in below
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 3, 1, height),  # RowsPerStrip
        (279, 4, 1, width * height),  # StripByteCounts
    ]
    data_at = 8 + 2 + 12 * len(entries) + 4
    directory = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = data_at if tag == 273 else value
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        directory += struct.pack("<HHI", tag, kind, count) + packed
    pixels = bytes((x * 3 + y) % 256 for y in range(height) for x in range(width))
    return b"II*\x00" + struct.pack("<I", 8) + directory + struct.pack("<I", 0) + pixels


def test_tiff_directory_first_with_strips_cut_is_refused(tmp_path: Path) -> None:
    """The directory survives the cut, the pixels it names do not: PIL alone would open it."""
    whole = _directory_first_tiff()
    (tmp_path / "whole.tif").write_bytes(whole)
    assert inspect_source(tmp_path / "whole.tif").page_count == 1
    cut = _cut(whole, tmp_path / "strips.tif", 0.5)
    with Image.open(cut) as image:
        assert image.size == (64, 64)  # the library still sees a page
    with pytest.raises(CutOffFileError, match=r"^strips\.tif: truncated file: .*stops before"):
        inspect_source(cut)


def test_zero_page_files_of_every_kind_are_refused(tmp_path: Path) -> None:
    empty = pikepdf.new()
    empty.save(tmp_path / "empty.pdf")
    with pytest.raises(BadInputError, match=r"^empty\.pdf: contains no pages"):
        inspect_source(tmp_path / "empty.pdf")
    for name in ("zero.pdf", "zero.tif", "zero.jpg", "zero.png"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(BadInputError, match=rf"^{name}: empty file"):
            inspect_source(tmp_path / name)


def test_pdf_page_whose_jpeg_lost_its_end_is_refused_not_painted_grey(tmp_path: Path) -> None:
    """A whole PDF (a scanner that died mid-write, then closed the file) carrying a cut JPEG."""
    jpeg = _image_bytes("JPEG")
    assert jpeg_is_whole(jpeg) and not jpeg_is_whole(jpeg[: len(jpeg) - 200])
    pdf = pikepdf.new()
    width, height = 500, 700
    image = pikepdf.Stream(
        pdf,
        jpeg[: len(jpeg) - 200],
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=width,
        Height=height,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.DCTDecode,
    )
    size = (width * 72 / 200, height * 72 / 200)
    page = pdf.add_blank_page(page_size=size)
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(f"q {size[0]} 0 0 {size[1]} 0 0 cm /Im0 Do Q".encode())
    pdf.save(tmp_path / "scan.pdf")
    source = inspect_source(tmp_path / "scan.pdf")
    with pytest.raises(BadInputError, match=r"^scan\.pdf: page 1 is cut off"):
        load_page(source, PageContext(source_name="scan.pdf", page_index=0))


def test_the_clerk_reads_how_much_was_read_and_what_to_do() -> None:
    vi = load_messages("vi")
    said = vi.error(
        "hoso.pdf: truncated file: only 1 of 3 pages can be read (x); send the file again",
        file="hoso.pdf",
    )
    assert said == "hoso.pdf: tệp bị cắt cụt: chỉ đọc được 1/3 trang — gửi lại tệp"
    said = vi.error("truncated file: 1 page read, the rest is lost (x); send the file again")
    assert "cắt cụt" in said and "gửi lại tệp" in said
    said = vi.error("truncated file: the image is cut off (x); send the file again")
    assert "cắt cụt" in said and "gửi lại tệp" in said
    said = vi.error("page 2 is cut off: its scan stops before its end; scan it again")
    assert "trang 2" in said and "quét lại" in said


def test_a_cut_pdf_whose_writer_put_every_page_entry_first_counts_only_whole_pages(
    tmp_path: Path,
) -> None:
    """pikepdf (and many scanners' writers) put the page dictionaries first and the images
    after: a cut file still lists 3 pages, but only the first draws an image that is there.
    The clerk is told 1 of 3, not 3 (found by bench/counter.py's damaged dossier)."""
    with pikepdf.new() as out:
        for page in _pages(3):
            buffer = io.BytesIO()
            page.save(buffer, "PDF", resolution=200, quality=85)
            with pikepdf.open(io.BytesIO(buffer.getvalue())) as single:
                out.pages.extend(single.pages)
        out.save(tmp_path / "whole.pdf")
    data = (tmp_path / "whole.pdf").read_bytes()
    first_image_ends = data.index(b"endstream") + 200
    cut = tmp_path / "hoso.pdf"
    cut.write_bytes(data[: max(first_image_ends, round(len(data) * 0.45))])
    with pytest.raises(CutOffFileError) as refused:
        inspect_source(cut)
    assert (refused.value.pages_read, refused.value.pages_declared) == (1, 3), str(refused.value)
    assert "only 1 of 3 pages can be read" in str(refused.value)
