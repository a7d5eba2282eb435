"""The visible stamp on a signed copy: its text, font, place and upright drawing.

TT 01/2023/TT-VPCP Art. 8 wants the digitiser's name and the signing time shown at the top
left of the first page. The stamp is a pyHanko text stamp whose font (a TrueType face with
every Vietnamese letter, cut and rescaled here) is embedded, so the copy stays PDF/A.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStamp, TextStampStyle

from models.errors import SigningError

STAMP_PHRASE = "Bản sao điện tử được số hóa từ bản giấy"
MM = 72.0 / 25.4
STAMP_WIDTH = 62 * MM
STAMP_HEIGHT = 18 * MM
STAMP_MARGIN = 4 * MM  # from the top and left edges of the page as displayed
FONT_SIZE = 8
LEADING = 10
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian fonts-dejavu-core
    Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSans-Regular.ttf"),
)
# Subsetting DejaVu logs "FFTM NOT subset" for a table no PDF reader needs: not news.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
# Every letter the stamp may need: Vietnamese in NFC.
_VIETNAMESE = unicodedata.normalize(
    "NFC",
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
    "0123456789:/()+-.,",
)


# --- the stamp -----------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _covers(font: Path, characters: str) -> bool:
    from fontTools.ttLib import TTFont

    try:
        with TTFont(font, lazy=True, fontNumber=0) as face:
            cmap = face.getBestCmap() or {}
    except Exception:  # not a font we can read: try the next one
        return False
    return all(ord(ch) in cmap for ch in characters if not ch.isspace())


def stamp_font(text: str, font_path: Path | None = None) -> Path:
    """A TrueType font that has every letter of ``text`` (and of Vietnamese)."""
    letters = _VIETNAMESE + _VIETNAMESE.upper()
    needed = "".join(sorted(set(unicodedata.normalize("NFC", text) + letters)))
    candidates = (font_path,) if font_path is not None else FONT_CANDIDATES
    for candidate in candidates:
        if candidate is not None and candidate.is_file() and _covers(candidate, needed):
            return candidate
    where = str(font_path) if font_path is not None else ", ".join(map(str, FONT_CANDIDATES))
    raise SigningError(
        f"no font with Vietnamese letters for the signature stamp (looked at {where}); "
        "install fonts-dejavu-core"
    )


def stamp_text(signer_name: str, signed_at: datetime) -> str:
    offset = signed_at.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return unicodedata.normalize(
        "NFC",
        f"{STAMP_PHRASE}\n"
        f"Người số hóa: {signer_name}\n"
        f"Thời gian ký: {signed_at:%d/%m/%Y %H:%M:%S} ({zone})",
    )


def stamp_rect(
    box: tuple[float, float, float, float], rotate: int
) -> tuple[float, float, float, float]:
    """Widget /Rect in user space for the top-left corner of the page as displayed."""
    x0, y0, x1, y1 = (
        min(box[0], box[2]),
        min(box[1], box[3]),
        max(box[0], box[2]),
        max(box[1], box[3]),
    )
    w, h, m = STAMP_WIDTH, STAMP_HEIGHT, STAMP_MARGIN
    if rotate == 90:  # displayed top-left is the user-space bottom-left; "down" is +x
        return (x0 + m, y0 + m, x0 + m + h, y0 + m + w)
    if rotate == 180:
        return (x1 - m - w, y0 + m, x1 - m, y0 + m + h)
    if rotate == 270:
        return (x1 - m - h, y1 - m - w, x1 - m, y1 - m)
    return (x0 + m, y1 - m - h, x0 + m + w, y1 - m)


# What the stamp font keeps: Latin with every Vietnamese letter, combining marks, dashes.
_REPERTOIRE = frozenset(
    [
        *range(0x20, 0x7F),
        *range(0xA0, 0x250),
        *range(0x300, 0x324),
        *range(0x1EA0, 0x1EFA),
        *range(0x2010, 0x2027),
    ]
)


@lru_cache(maxsize=8)
def _font_program(path: str, extra: str) -> bytes:
    """The font cut to the stamp's repertoire (+ ``extra``) and rescaled to 1000 units/em.

    pyHanko 0.38 writes the CIDFont /W widths in the font's own units, which PDF reads as
    1/1000 em: with DejaVu or Liberation (2048 units/em) every glyph would be spaced twice
    as wide as drawn. A 1000-unit font makes the two agree.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    with TTFont(path, fontNumber=0) as face:
        options = subset.Options()
        options.layout_features = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=_REPERTOIRE | {ord(ch) for ch in extra})
        subsetter.subset(face)
        if face["head"].unitsPerEm != 1000:
            scale_upem(face, 1000)
        buffer = io.BytesIO()
        face.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class _StampFontFactory(GlyphAccumulatorFactory):
    """GlyphAccumulatorFactory over the rescaled program of :func:`_font_program`."""

    extra: str = ""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_font_program(self.font_file, self.extra)),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


# Form matrix turning the stamp upright on a page displayed with /Rotate (a counter-rotation).
_UPRIGHT = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}


class _UprightTextStamp(TextStamp):
    def as_form_xobject(self) -> generic.StreamObject:
        xobject = super().as_form_xobject()
        rotation = getattr(self.style, "page_rotation", 0)
        if rotation in _UPRIGHT:
            # The viewer fits the transformed BBox into the widget /Rect (ISO 32000-1 12.5.5).
            xobject["/Matrix"] = generic.ArrayObject(
                [generic.NumberObject(v) for v in (*_UPRIGHT[rotation], 0, 0)]
            )
        return xobject


@dataclass(frozen=True)
class _UprightTextStampStyle(TextStampStyle):
    page_rotation: int = 0

    def create_stamp(
        self, writer: Any, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> TextStamp:
        if self.page_rotation in (90, 270) and box.width_defined and box.height_defined:
            box = layout.BoxConstraints(width=box.height, height=box.width)
        return _UprightTextStamp(writer=writer, style=self, box=box, text_params=text_params)


def stamp_style(text: str, font: Path, rotation: int) -> _UprightTextStampStyle:
    return _UprightTextStampStyle(
        page_rotation=rotation,
        stamp_text=text.replace("%", "%%"),
        text_box_style=TextBoxStyle(
            font=_StampFontFactory(
                str(font),
                font_size=FONT_SIZE,
                extra="".join(sorted({ch for ch in text if ord(ch) not in _REPERTOIRE})),
            ),
            font_size=FONT_SIZE,
            leading=LEADING,
            box_layout_rule=layout.SimpleBoxLayoutRule(  # no inner margin of its own
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MIN,
                margins=layout.Margins(),
            ),
        ),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=4, right=4, top=1, bottom=8),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
        border_width=1,
        background=None,  # no image, no transparency: PDF/A friendly
    )
