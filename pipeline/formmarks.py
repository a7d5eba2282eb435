"""Form marks that OCR reads as text: dot leaders and check boxes.

Vietnamese forms leave blanks as dot leaders ("Họ và tên: ..........") and tick boxes (☐).
Tesseract reads a leader as a token of dots or underscores, often glued to the word before
or after it ("tên:.........."), a box as a box glyph, "[]" or "L]" (its lower left corner
and right side), and a table's or a box's vertical rule as a lone "|". None of it is text a
person reads or searches for, so it is dropped where Tesseract's words are made
(``pipeline.tesseract_engine.parse_tsv``): the page text, the invisible text layer and the
fields all see the same words.

Real punctuation stays: a leader is a run of at least ``MIN_LEADER_RUN`` leader characters,
so "...", "vv…" and a lone "." or "-" are kept.
"""

from __future__ import annotations

LEADER_CHARS = "._…‥⋯·-–—"
MIN_LEADER_RUN = 4
# Glyphs of empty and ticked boxes, and what Tesseract makes of a box drawn as a square.
BOX_TOKENS = frozenset("☐☑☒□■▢◻◼❏❐❑❒▪▫†") | frozenset(
    {"[]", "[_]", "[ ]", "|_|", "[|", "L]", "L_]"}
)
# A vertical rule read as a glyph: no Vietnamese text has a word of bars alone (none of
# bench/real_vn's transcribed pages has a "|" at all).
RULE_CHARS = "|¦│┃"


def without_form_marks(token: str) -> str:
    """``token`` without leader runs at its ends; "" when it is only a leader or a box.

    Stripped, not matched: a pattern anchored at the end retries from every character of a
    long run of dots that ends in a letter (paper is input: no backtracking on OCR text)."""
    if token in BOX_TOKENS or not token.strip(RULE_CHARS):
        return ""
    rest = token.lstrip(LEADER_CHARS)
    if len(token) - len(rest) >= MIN_LEADER_RUN:
        token = rest  # "" when the token was only a leader
    elif not rest:
        return token  # "...", a lone "." or "-": punctuation, kept whole
    rest = token.rstrip(LEADER_CHARS)
    return rest if len(token) - len(rest) >= MIN_LEADER_RUN else token
