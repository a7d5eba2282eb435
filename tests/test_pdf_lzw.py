"""LZW in a client's PDF is refused before qpdf reads the file.

qpdf bounds what it inflates for Flate and RunLength, not for LZW, and inflates an object
stream whole: 265 KB of LZW object stream took 457 MB and 4 s of ``sohoa serve`` at upload.
The files here are small and harmless; what is checked is that none of them reaches qpdf.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pikepdf
import pytest

from models.errors import BadInputError
from pipeline import load
from pipeline.load import inspect_source
from pipeline.pdf_content import lzw_filter_named


def _lzw_literal(data: bytes) -> bytes:
    """``data`` as PDF LZW (9-bit codes, most significant bit first), every byte a literal
    and a clear code every 250 bytes, so the code width never grows: valid, uncompressed."""
    codes = [256]
    for start in range(0, len(data), 250):
        codes += [*data[start : start + 250], 256]
    codes.append(257)
    bits = "".join(format(code, "09b") for code in codes)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))


def _pdf_with_object_stream(
    path: Path, filter_entry: bytes, packed: bytes, extra: bytes = b""
) -> None:
    """One page whose /Pages node sits in an object stream compressed as ``filter_entry``
    says; ``extra`` is a further object (number 6) the filter may refer to."""
    body = b"%PDF-1.5\n"
    offsets: dict[int, int] = {}
    objects = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"),
        (
            4,
            b"<< /Type /ObjStm /N 1 /First 4 /Filter %b /Length %d >>\nstream\n"
            % (filter_entry, len(packed))
            + packed
            + b"\nendstream",
        ),
    ]
    if extra:
        objects.append((6, extra))
    for number, content in objects:
        offsets[number] = len(body)
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref_at = len(body)
    rows = [(0, 0, 65535), (1, offsets[1], 0), (2, 4, 0), (1, offsets[3], 0)]
    rows += [(1, offsets[4], 0), (1, xref_at, 0)]
    if extra:
        rows.append((1, offsets[6], 0))
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    body += (
        b"5 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % (len(rows), len(table))
        + table
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )
    path.write_bytes(body)


PAGES = b"2 0 << /Type /Pages /Kids [3 0 R] /Count 1 >>"


@pytest.fixture
def no_qpdf(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("qpdf opened a file that should have been refused before")

    monkeypatch.setattr(load.pikepdf, "open", refuse)


def test_the_lzw_file_is_a_pdf_qpdf_reads(tmp_path: Path) -> None:
    """The refusals below are sohoa's policy, not a broken file: qpdf reads it."""
    path = tmp_path / "lzw.pdf"
    _pdf_with_object_stream(path, b"/LZWDecode", _lzw_literal(PAGES))
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 1


@pytest.mark.parametrize(
    ("filter_entry", "extra", "why"),
    [
        (b"/LZWDecode", b"", "compressed with LZW, which sohoa does not read"),
        (b"[/LZWDecode]", b"", "compressed with LZW, which sohoa does not read"),
        (b"/LZ#57Decode", b"", "compressed with LZW, which sohoa does not read"),
        (b"6 0 R", b"/LZWDecode", "compressed with LZW, which sohoa does not read"),
        (b"[ %note\n 6 0 R ]", b"[/LZ#57Decode]", "names its compression in another object"),
    ],
)
def test_lzw_named_in_any_spelling_is_refused_before_qpdf(
    tmp_path: Path, no_qpdf: None, filter_entry: bytes, extra: bytes, why: str
) -> None:
    path = tmp_path / "lzw.pdf"
    _pdf_with_object_stream(path, filter_entry, _lzw_literal(PAGES), extra)
    with pytest.raises(BadInputError) as refused:
        inspect_source(path, name="lzw.pdf")
    assert refused.value.message == f"lzw.pdf: PDF {why}: save or print it again as PDF"


def test_a_filter_named_elsewhere_is_refused_even_when_it_is_flate(
    tmp_path: Path, no_qpdf: None
) -> None:
    """A filter written as a reference may live in a compressed object stream, where no
    search of the file's bytes can read it: refused whatever it is (no writer does it)."""
    path = tmp_path / "hidden.pdf"
    packed = zlib.compress(PAGES)
    # Object 6 is in plain bytes here; the reference alone is the refusal.
    _pdf_with_object_stream(path, b"[6 0 R]", packed, b"/FlateDecode")
    assert lzw_filter_named(path) == "names its compression in another object"
    escaped = tmp_path / "escaped.pdf"
    _pdf_with_object_stream(escaped, b"/FlateDecode", packed)
    escaped.write_bytes(escaped.read_bytes().replace(b"/Filter /Flate", b"/Fil#74er /Flate"))
    assert lzw_filter_named(escaped) == "names its compression in escaped characters"


def test_ordinary_pdfs_with_escapes_and_chance_bytes_are_read(tmp_path: Path) -> None:
    """Escaped font names, comments, and "LZW" or "#41" inside compressed or binary data
    are no reason to refuse: only whole names count."""
    path = tmp_path / "ordinary.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.pages[0].obj.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(
                F1=pikepdf.Dictionary(
                    Type=pikepdf.Name.Font,
                    Subtype=pikepdf.Name.Type1,
                    BaseFont=pikepdf.Name("/ABCDEF+Times New#Roman"),
                )
            )
        )
        blob = pikepdf.Stream(pdf, b"binary LZW /LZWx #41 /Filter 1 0 Rx" * 100)
        pdf.pages[0].obj.Blob = blob
        pdf.save(path, compress_streams=False)
    data = path.read_bytes()
    assert b"#20" in data  # the font name's space is written escaped
    assert lzw_filter_named(path) is None
    assert inspect_source(path, name="ordinary.pdf").page_count == 1
