"""The glyphless font the invisible text layer is drawn in (pipeline/textlayer.py).

A Type0/CIDFontType2 font with Identity-H encoding, where each character code is the UTF-16
code unit and a ToUnicode CMap maps it back, so every Vietnamese letter (NFC) survives
extraction. The embedded TrueType program has one empty glyph (generated once).
"""

from __future__ import annotations

import io
import zlib
from functools import lru_cache
from pathlib import Path

import pikepdf

FONT_RESOURCE = "/SohoaOCR"
ADVANCE = 500  # glyph advance in 1/1000 em; all glyphs are alike
ASCENT, DESCENT = 800, -200
FONT_TIMESTAMP = 3_000_000_000  # seconds since 1904 (TrueType's epoch): 1999-01-24


GLYPHLESS_FONT = Path(__file__).resolve().parent / "fonts" / "glyphless.ttf"


@lru_cache(maxsize=1)
def glyphless_truetype() -> bytes:
    """A TrueType font with empty glyphs: it draws nothing, it only gives text a shape.

    Shipped as a file (``build_glyphless_truetype`` made it; a test checks they agree):
    building it with fontTools took 0.19 s of every one-shot ``sohoa process``.
    """
    return GLYPHLESS_FONT.read_bytes()


def build_glyphless_truetype() -> bytes:
    """The glyphless font, built (with fixed timestamps, so the bytes are reproducible)."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)
    names = [".notdef", "space"]
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({0x20: "space"})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf({name: empty for name in names})
    builder.setupHorizontalMetrics({name: (ADVANCE, 0) for name in names})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    builder.setupNameTable({"familyName": "SohoaGlyphless", "styleName": "Regular"})
    builder.setupOS2(
        sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT, usWinDescent=-DESCENT
    )
    builder.setupPost()
    builder.font["head"].created = builder.font["head"].modified = FONT_TIMESTAMP
    builder.font.recalcTimestamp = False
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()


def _to_unicode_cmap() -> bytes:
    ranges = [
        f"<{high:02X}00> <{high:02X}FF> <{high:02X}00>"
        for high in range(256)
        if not 0xD8 <= high <= 0xDF
    ]
    body = []
    for start in range(0, len(ranges), 100):  # at most 100 entries per block (spec)
        chunk = ranges[start : start + 100]
        body.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(body)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def make_font(pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    """The Type0 font object, to be shared by every page of ``pdf``."""
    program = glyphless_truetype()
    font_file = pikepdf.Stream(pdf, program)
    font_file.Length1 = len(program)
    descriptor = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=pikepdf.Name("/SohoaGlyphless"),
            Flags=5,  # fixed pitch, symbolic
            FontBBox=[0, DESCENT, ADVANCE, ASCENT],
            ItalicAngle=0,
            Ascent=ASCENT,
            Descent=DESCENT,
            CapHeight=ASCENT,
            StemV=80,
            FontFile2=font_file,
        )
    )
    # Every character code maps to glyph 1 (the empty "space" glyph).
    cid_to_gid = pikepdf.Stream(pdf, zlib.compress(b"\x00\x01" * 65536, 9))
    cid_to_gid.Filter = pikepdf.Name.FlateDecode
    cid_font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=pikepdf.Name("/SohoaGlyphless"),
            CIDSystemInfo=pikepdf.Dictionary(
                Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0
            ),
            FontDescriptor=descriptor,
            DW=ADVANCE,
            CIDToGIDMap=cid_to_gid,
        )
    )
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type0,
            BaseFont=pikepdf.Name("/SohoaGlyphless"),
            Encoding=pikepdf.Name("/Identity-H"),
            DescendantFonts=[cid_font],
            ToUnicode=pikepdf.Stream(pdf, _to_unicode_cmap()),
        )
    )
