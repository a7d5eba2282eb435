"""Form marks that OCR reads as text: dot leaders and check boxes.

Vietnamese forms leave blanks as dot leaders ("Họ và tên: ..........") and tick boxes (☐).
Tesseract reads a leader as a token of dots or underscores, often glued to the word before
or after it ("tên:.........."), and a box as a box glyph or "[]". None of it is text a
person reads or searches for, so it is dropped where OCR words are made (``pipeline.ocr``):
the page text, the invisible text layer and the fields all see the same words.

Real punctuation stays: a leader is a run of at least ``MIN_LEADER_RUN`` leader characters,
so "...", "vv…" and a lone "." or "-" are kept.
"""

from __future__ import annotations

import re

LEADER_CHARS = "._…‥⋯·-–—"
MIN_LEADER_RUN = 4
# Glyphs of empty and ticked boxes, and what Tesseract makes of a box drawn as a square.
BOX_TOKENS = frozenset("☐☑☒□■▢◻◼❏❐❑❒▪▫†") | frozenset({"[]", "[_]", "[ ]", "|_|", "[|"})

_LEADER = f"[{re.escape(LEADER_CHARS)}]"
_ONLY_LEADERS = re.compile(f"{_LEADER}{{{MIN_LEADER_RUN},}}")
_LEADING_RUN = re.compile(f"^{_LEADER}{{{MIN_LEADER_RUN},}}")
_TRAILING_RUN = re.compile(f"{_LEADER}{{{MIN_LEADER_RUN},}}$")


def without_form_marks(token: str) -> str:
    """``token`` without leader runs at its ends; "" when it is only a leader or a box."""
    if token in BOX_TOKENS or _ONLY_LEADERS.fullmatch(token):
        return ""
    return _TRAILING_RUN.sub("", _LEADING_RUN.sub("", token))
