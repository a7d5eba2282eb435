"""The hand-over receipt's PDF: one A4 page of text and a QR code, written with pikepdf.

The text is drawn with a TrueType face that has every Vietnamese letter (the one the
signature stamp uses, ``pipeline.stamp.stamp_font``), cut to the letters the receipt uses
and embedded as a Type 0 font with a ToUnicode map: the receipt prints the same anywhere,
and its words (the dossier code, the SHA-256 of each original) can be selected, searched
and extracted. The QR is drawn as filled squares, one per dark module: sharp at any size.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pikepdf
import segno

from models.handover import HandoverReceipt
from pipeline.stamp import stamp_font

MM = 72.0 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM  # A4
MARGIN = 18 * MM
QR_MODULE = 2.6  # points per module: a version 4 code is about 4 cm wide with its margin
QR_QUIET = 4  # modules of white around it, as the standard asks


@dataclass(frozen=True)
class _Face:
    """The embedded font: its program, each letter's glyph id and width (1/1000 em)."""

    program: bytes
    gids: dict[str, int]
    widths: dict[int, int]
    ascent: int
    descent: int
    bbox: tuple[int, int, int, int]
    name: str


@lru_cache(maxsize=4)
def _face(path: Path, letters: str) -> _Face:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=0)
    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = []  # plain left-to-right text: no shaping needed
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=letters)
    subsetter.subset(font)
    scale = 1000.0 / font["head"].unitsPerEm
    cmap = font.getBestCmap() or {}
    gids = {chr(code): font.getGlyphID(glyph) for code, glyph in cmap.items()}
    widths = {
        font.getGlyphID(glyph): round(advance * scale)
        for glyph, (advance, _lsb) in font["hmtx"].metrics.items()
    }
    head, hhea = font["head"], font["hhea"]
    buffer = io.BytesIO()
    font.save(buffer)
    return _Face(
        program=buffer.getvalue(),
        gids=gids,
        widths=widths,
        ascent=round(hhea.ascent * scale),
        descent=round(hhea.descent * scale),
        bbox=tuple(round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)),
        name=str(font["name"].getDebugName(6) or "Sans").replace(" ", ""),
    )


def _texts(receipt: HandoverReceipt) -> Iterator[str]:
    yield receipt.title
    for line in (*receipt.lines, *receipt.papers):
        yield line.label
        yield line.value
    yield from (receipt.papers_title, receipt.originals_title, receipt.sha_label)
    for original in receipt.originals:
        yield original.name
        yield original.sha256
        yield receipt.pages_word.format(n=original.pages)
    yield from (receipt.qr_url, receipt.qr_caption, receipt.footer, "0123456789:·()-–")


class _Writer:
    """Lines of text top to bottom, each shown as glyph ids of the embedded face."""

    def __init__(self, face: _Face) -> None:
        self.face = face
        self.ops: list[str] = []
        self.y = PAGE_H - MARGIN

    def width(self, text: str, size: float) -> float:
        return sum(self.face.widths.get(self._gid(ch), 500) for ch in text) * size / 1000

    def _gid(self, ch: str) -> int:
        return self.face.gids.get(ch, self.face.gids.get("?", 0))

    def show(self, x: float, y: float, text: str, size: float) -> None:
        hexed = "".join(f"{self._gid(ch):04X}" for ch in text)
        self.ops.append(f"BT /F1 {size:g} Tf {x:.2f} {y:.2f} Td <{hexed}> Tj ET")

    def wrap(self, text: str, size: float, room: float) -> list[str]:
        """Words to lines no wider than ``room``; a word wider than that (a hash, a long
        file name) is cut where it must be."""
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if self.width(candidate, size) <= room:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            for ch in word:
                if self.width(current + ch, size) > room and current:
                    lines.append(current)
                    current = ""
                current += ch
        if current:
            lines.append(current)
        return lines or [""]

    def paragraph(self, text: str, size: float, *, x: float = MARGIN, room: float = 0) -> None:
        room = room or (PAGE_W - MARGIN - x)
        for line in self.wrap(text, size, room):
            self.y -= size * 1.35
            self.show(x, self.y, line, size)

    def labelled(self, label: str, value: str, size: float, *, room: float) -> None:
        label_w = 46 * MM
        self.y -= size * 1.35
        self.show(MARGIN, self.y, f"{label}:", size)
        self.y += size * 1.35
        self.paragraph(value, size, x=MARGIN + label_w, room=room - label_w)


def _qr_ops(url: str, right: float, top: float) -> tuple[list[str], float]:
    """Filled squares for the dark modules, the code's top right corner at (right, top)."""
    qr = segno.make_qr(url, error="m", boost_error=False)
    size = qr.symbol_size(border=QR_QUIET)[0] * QR_MODULE
    left, bottom = right - size, top - size
    ops = ["q 1 g", f"{left:.2f} {bottom:.2f} {size:.2f} {size:.2f} re f", "0 g"]
    for row, modules in enumerate(qr.matrix_iter(border=QR_QUIET)):
        for column, dark in enumerate(modules):
            if dark:
                x = left + column * QR_MODULE
                y = top - (row + 1) * QR_MODULE
                ops.append(f"{x:.2f} {y:.2f} {QR_MODULE:g} {QR_MODULE:g} re")
    ops += ["f", "Q"]
    return ops, size


def _font(pdf: pikepdf.Pdf, face: _Face) -> pikepdf.Dictionary:
    program = pikepdf.Stream(pdf, face.program)
    program[pikepdf.Name.Length1] = len(face.program)
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=pikepdf.Name(f"/SOHOAR+{face.name}"),
        Flags=32,  # non-symbolic
        FontBBox=pikepdf.Array(face.bbox),
        ItalicAngle=0,
        Ascent=face.ascent,
        Descent=face.descent,
        CapHeight=face.ascent,
        StemV=80,
        FontFile2=program,
    )
    widths = pikepdf.Array()
    for gid in sorted(face.widths):
        widths.append(gid)
        widths.append(pikepdf.Array([face.widths[gid]]))
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name(f"/SOHOAR+{face.name}"),
        CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
        FontDescriptor=descriptor,
        W=widths,
        CIDToGIDMap=pikepdf.Name.Identity,
    )
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type0,
        BaseFont=pikepdf.Name(f"/SOHOAR+{face.name}"),
        Encoding=pikepdf.Name("/Identity-H"),
        DescendantFonts=pikepdf.Array([pdf.make_indirect(cid_font)]),
        ToUnicode=pikepdf.Stream(pdf, _to_unicode(face)),
    )


def _to_unicode(face: _Face) -> bytes:
    """Glyph id -> letter, so that extracted and copied text is the text drawn."""
    pairs = sorted((gid, ch) for ch, gid in face.gids.items())
    chunks = []
    for start in range(0, len(pairs), 100):  # at most 100 entries per bfchar block
        block = pairs[start : start + 100]
        entries = "\n".join(
            f"<{gid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for gid, ch in block
        )
        chunks.append(f"{len(block)} beginbfchar\n{entries}\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(chunks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def build_receipt_pdf(receipt: HandoverReceipt, *, font_path: Path | None = None) -> bytes:
    """The receipt as PDF bytes (one A4 page)."""
    texts = [unicodedata.normalize("NFC", t) for t in _texts(receipt)]
    letters = "".join(sorted(set("".join(texts)) | {"?", " "}))
    face = _face(stamp_font(letters, font_path), letters)
    writer = _Writer(face)
    text_room = PAGE_W - 2 * MARGIN
    nfc = lambda text: unicodedata.normalize("NFC", text)  # noqa: E731

    qr_ops, qr_size = _qr_ops(receipt.qr_url, PAGE_W - MARGIN, PAGE_H - MARGIN)
    writer.paragraph(nfc(receipt.title), 15, room=text_room - qr_size - 4 * MM)
    writer.y -= 4
    for line in receipt.lines:  # beside the QR: narrower
        writer.labelled(nfc(line.label), nfc(line.value), 10, room=text_room - qr_size - 4 * MM)
    left_y, writer.y = writer.y, PAGE_H - MARGIN - qr_size  # the caption under the QR
    writer.paragraph(nfc(receipt.qr_caption), 8, x=PAGE_W - MARGIN - qr_size, room=qr_size)
    writer.y = min(writer.y, left_y) - 14
    writer.paragraph(nfc(receipt.papers_title), 12, room=text_room)
    for line in receipt.papers:
        writer.labelled(nfc(line.label), nfc(line.value), 10, room=text_room)
    writer.y -= 10
    writer.paragraph(nfc(receipt.originals_title), 12, room=text_room)
    for number, original in enumerate(receipt.originals, start=1):
        pages = receipt.pages_word.format(n=original.pages)
        writer.paragraph(nfc(f"{number}. {original.name} ({pages})"), 10, room=text_room)
        # The hash on a line of its own, never broken: it is what a citizen compares.
        writer.paragraph(nfc(f"{receipt.sha_label}: {original.sha256}"), 8.5, x=MARGIN + 5 * MM)
    writer.y -= 14
    writer.paragraph(nfc(receipt.footer), 8, room=text_room)

    pdf = pikepdf.new()
    content = "\n".join(["0 g", *writer.ops, *qr_ops]).encode("ascii")
    page = pdf.add_blank_page(page_size=(PAGE_W, PAGE_H))
    page.obj[pikepdf.Name.Resources] = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=pdf.make_indirect(_font(pdf, face)))
    )
    page.obj[pikepdf.Name.Contents] = pdf.make_stream(content)
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = nfc(receipt.title)
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()
