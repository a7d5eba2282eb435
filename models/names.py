"""File names as people see them: for messages and metadata, never for paths."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(raw: str | None, fallback: str) -> str:
    """NFC, printable, no directory part, at most 200 characters.

    Names arrive from browsers and shells in any state: bytes that are not UTF-8 (Python
    carries them as lone surrogates, which no database or JSON encoder accepts) become
    U+FFFD, control characters go, and ``../`` or ``C:\\`` prefixes are dropped.
    """
    text = (raw or "").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text[:200] or fallback
