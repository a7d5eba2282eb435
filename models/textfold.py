"""Folding Vietnamese text to plain lower-case letters, position for position.

Labels and titles are matched on folded text: OCR's slips on tone marks (acute vs hook
above on circumflex vowels) then do not matter. Folding keeps the length of the NFC
text, so a match's position maps straight back to the original line.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d"
    base = unicodedata.normalize("NFD", char)[0]
    return base.lower() if len(base.lower()) == 1 else char


def fold(text: str) -> str:
    """NFC text -> same-length plain lower-case text ("Nguyễn Văn A" -> "nguyen van a")."""
    return "".join(_fold_char(c) for c in unicodedata.normalize("NFC", text))
