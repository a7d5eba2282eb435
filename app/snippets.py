"""Search results with the words searched for marked: in names, codes and a line of the text.

A result is cut into (text, matched) pieces; the template writes each piece escaped and
wraps the matched ones in <mark>. Nothing here builds HTML, so OCR text (a client's paper,
read by a machine) can never inject markup into the page.

Matching folds both sides (no diacritics, lower case); folding keeps the length of NFC
text, so a match found in the folded text marks the same characters of the original.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator

from models.textfold import fold

Piece = tuple[str, bool]  # (text as it is, is it a match)
SNIPPET_CHARS = 160  # the line of text shown under a result
TEXT_READ_BYTES = 256 * 1024  # of a dossier's text, read for its snippet


def _words(query: Iterable[str]) -> list[str]:
    found = {w for q in query for w in fold(q).split() if w}
    return sorted(found, key=len, reverse=True)  # longest first: "nguyen van" before "van"


def _spans(folded: str, words: list[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for word in words:
        start = folded.find(word)
        while start != -1:
            spans.append((start, start + len(word)))
            start = folded.find(word, start + len(word))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str | None, query: Iterable[str]) -> list[Piece]:
    """``text`` in pieces, those matching a word of ``query`` marked (diacritics optional)."""
    if not text:
        return []
    text = unicodedata.normalize("NFC", text)
    spans = _spans(fold(text), _words(query))
    return list(_pieces(text, spans))


def _pieces(text: str, spans: list[tuple[int, int]]) -> Iterator[Piece]:
    at = 0
    for start, end in spans:
        if start > at:
            yield text[at:start], False
        yield text[start:end], True
        at = end
    if at < len(text):
        yield text[at:], False


def snippet(text: str | None, query: Iterable[str], *, width: int = SNIPPET_CHARS) -> list[Piece]:
    """A line of ``text`` around the first word of ``query`` found, words marked; empty
    when none is found."""
    if not text:
        return []
    text = " ".join(unicodedata.normalize("NFC", text).split())
    words = _words(query)
    spans = _spans(fold(text), words)
    if not spans:
        return []
    first = spans[0][0]
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    # Whole words at the edges.
    if start > 0:
        start = text.find(" ", start) + 1 or start
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > first else end
    window = text[start:end]
    pieces = list(_pieces(window, _spans(fold(window), words)))
    if start > 0:
        pieces.insert(0, ("… ", False))
    if end < len(text):
        pieces.append((" …", False))
    return pieces
