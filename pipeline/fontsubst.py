"""Metric-compatible substitutes for fonts a PDF uses without embedding them.

PDF/A wants every font that draws visible text embedded. PDFs from other systems often
draw with the standard fonts (Helvetica, Times, Courier) or the Microsoft look-alikes
(Arial, Times New Roman) and embed nothing. Debian's ``fonts-urw-base35`` holds the URW
fonts drawn to the same metrics, so embedding them keeps every glyph where it was laid
out: the page looks as it did, and the archive is PDF/A.

Only simple fonts (Type1, TrueType) with a known family are substituted; anything else
stays unembedded and the caller refuses it with a clear message.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from pathlib import Path

import pikepdf

URW_DIRS = (
    Path("/usr/share/fonts/opentype/urw-base35"),
    Path("/usr/share/fonts/urw-base35"),
)

# Family (lower case, no spaces or dashes, as it starts the BaseFont name) -> URW family.
_FAMILIES = (
    ("helveticanarrow", "NimbusSansNarrow"),
    ("arialnarrow", "NimbusSansNarrow"),
    ("helvetica", "NimbusSans"),
    ("arial", "NimbusSans"),
    ("timesnewroman", "NimbusRoman"),
    ("times", "NimbusRoman"),
    ("couriernew", "NimbusMonoPS"),
    ("courier", "NimbusMonoPS"),
    ("symbol", "StandardSymbolsPS"),
    ("zapfdingbats", "D050000L"),
)
_STYLES = {
    "NimbusSans": ("Regular", "Bold", "Italic", "BoldItalic"),
    "NimbusSansNarrow": ("Regular", "Bold", "Oblique", "BoldOblique"),
    "NimbusRoman": ("Regular", "Bold", "Italic", "BoldItalic"),
    "NimbusMonoPS": ("Regular", "Bold", "Italic", "BoldItalic"),
}


def substitute_path(base_font: str) -> Path | None:
    """The URW font file standing in for ``base_font`` (e.g. ``/Arial,Bold``), if any."""
    name = re.sub(r"^[A-Z]{6}\+", "", base_font.lstrip("/"))  # a subset tag is not the name
    plain = re.sub(r"[\s_\-,]", "", name).lower()
    for prefix, family in _FAMILIES:
        if not plain.startswith(prefix):
            continue
        styles = _STYLES.get(family)
        if styles is None:
            file = family
        else:
            bold = "bold" in plain or "black" in plain
            italic = "italic" in plain or "oblique" in plain
            file = f"{family}-{styles[(2 if italic else 0) + (1 if bold else 0)]}"
        for folder in URW_DIRS:
            candidate = folder / f"{file}.otf"
            if candidate.is_file():
                return candidate
        return None
    return None


@lru_cache(maxsize=16)
def _font_facts(path: Path) -> tuple[bytes, dict[str, int], dict[int, str], tuple[int, ...]]:
    """(file bytes, glyph name -> advance in 1/1000 em, code point -> glyph name, metrics)."""
    from fontTools.ttLib import TTFont

    data = path.read_bytes()
    font = TTFont(str(path))
    scale = 1000.0 / font["head"].unitsPerEm
    advances = {name: round(width * scale) for name, (width, _lsb) in font["hmtx"].metrics.items()}
    cmap = dict(font.getBestCmap() or {})
    head, os2, post = font["head"], font["OS/2"], font["post"]
    metrics = (
        round(head.xMin * scale),
        round(head.yMin * scale),
        round(head.xMax * scale),
        round(head.yMax * scale),
        round(os2.sTypoAscender * scale),
        round(os2.sTypoDescender * scale),
        round(getattr(os2, "sCapHeight", os2.sTypoAscender) * scale),
        round(post.italicAngle),
        int(post.isFixedPitch),
    )
    return data, advances, cmap, metrics


def _code_to_glyph(font: pikepdf.Object, cmap: dict[int, str]) -> dict[int, str]:
    """Which glyph each single-byte code draws, from the font's /Encoding."""
    encoding = font.get("/Encoding")
    base = "cp1252"  # WinAnsiEncoding; StandardEncoding differs only in rare punctuation
    differences: pikepdf.Object | None = None
    if isinstance(encoding, pikepdf.Dictionary):
        differences = encoding.get("/Differences")
        encoding = encoding.get("/BaseEncoding")
    if encoding == pikepdf.Name.MacRomanEncoding:
        base = "mac_roman"
    decoder = codecs.getdecoder(base)
    glyphs: dict[int, str] = {}
    for code in range(32, 256):
        try:
            char = decoder(bytes([code]))[0]
        except UnicodeDecodeError:
            continue
        glyph = cmap.get(ord(char))
        if glyph is not None:
            glyphs[code] = glyph
    if isinstance(differences, pikepdf.Array):
        code = 0
        for item in differences:
            if isinstance(item, int | pikepdf.Object) and not isinstance(item, pikepdf.Name):
                try:
                    code = int(item)
                except (TypeError, ValueError):
                    continue
            else:
                glyphs[code] = str(item).lstrip("/")
                code += 1
    return glyphs


def embed_substitute(pdf: pikepdf.Pdf, font: pikepdf.Object) -> bool:
    """Embed a metric-compatible URW font program into ``font``; False if none fits."""
    if font.get("/Subtype") not in (pikepdf.Name.Type1, pikepdf.Name.TrueType):
        return False
    path = substitute_path(str(font.get("/BaseFont", "")))
    if path is None:
        return False
    data, advances, cmap, metrics = _font_facts(path)
    x0, y0, x1, y1, ascent, descent, cap, italic, fixed = metrics
    program = pikepdf.Stream(pdf, data)
    program.Subtype = pikepdf.Name.OpenType  # FontFile3 (PDF 1.6; allowed in PDF/A-2)
    symbolic = path.stem in ("StandardSymbolsPS", "D050000L")
    flags = (4 if symbolic else 32) | (1 if fixed else 0) | (64 if italic else 0)
    flags |= 2 if "Roman" in path.stem else 0
    descriptor = font.get("/FontDescriptor")
    if not isinstance(descriptor, pikepdf.Dictionary):
        descriptor = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.FontDescriptor))
        font.FontDescriptor = descriptor
    descriptor.FontName = pikepdf.Name("/" + str(font.get("/BaseFont", "/Font")).lstrip("/"))
    descriptor.Flags = flags
    descriptor.FontBBox = [x0, y0, x1, y1]
    descriptor.ItalicAngle = italic
    descriptor.Ascent, descriptor.Descent = ascent, descriptor_descent(descent)
    descriptor.CapHeight = cap
    descriptor.StemV = 80
    for key in ("/FontFile", "/FontFile2"):
        if key in descriptor:
            del descriptor[key]
    descriptor.FontFile3 = pdf.make_indirect(program)
    if "/Widths" not in font:
        # Standard fonts may come without widths; the substitute's are the same metrics.
        glyphs = _code_to_glyph(font, cmap)
        first, last = 32, 255
        font.FirstChar, font.LastChar = first, last
        font.Widths = [advances.get(glyphs.get(code, ""), 0) for code in range(first, last + 1)]
    return True


def descriptor_descent(value: int) -> int:
    return value if value <= 0 else -value
