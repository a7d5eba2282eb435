"""The text layer's font is shipped as a file; it must be the one the builder makes."""

from __future__ import annotations

import io

from fontTools.ttLib import TTFont

from pipeline.glyphless import ADVANCE, build_glyphless_truetype, glyphless_truetype


def test_the_shipped_glyphless_font_is_the_built_one() -> None:
    assert glyphless_truetype() == build_glyphless_truetype()


def test_the_glyphless_font_draws_nothing_and_gives_every_glyph_one_advance() -> None:
    font = TTFont(io.BytesIO(glyphless_truetype()))
    assert font.getGlyphOrder() == [".notdef", "space"]
    assert all(font["glyf"][name].numberOfContours == 0 for name in font.getGlyphOrder())
    assert {font["hmtx"][name][0] for name in font.getGlyphOrder()} == {ADVANCE}
