"""File names as people see them: for messages and metadata, never for paths."""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0, DEL, C1), and what changes how the rest *looks* without being seen:
# bidi embeddings, overrides and isolates ("\u202egnp.exe" showed as "exe.png" on /ops and
# the dossier page), marks, zero-width spaces and joiners, the word joiner and invisible
# operators, the BOM. One character class, so linear in the name's length.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def display_name(raw: str | None, fallback: str) -> str:
    """NFC, printable, no directory part, at most 200 characters.

    Names arrive from browsers and shells in any state: bytes that are not UTF-8 (Python
    carries them as lone surrogates, which no database or JSON encoder accepts) become
    U+FFFD, control, bidi and zero-width characters go, and ``../`` or ``C:\\`` prefixes
    are dropped.
    """
    text = (raw or "").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text[:200] or fallback
