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

from models.search import TextQuery
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


def _token_spans(folded: str) -> list[tuple[int, int]]:
    """Where each word (a run of letters and digits) of ``folded`` starts and ends."""
    spans: list[tuple[int, int]] = []
    start = -1
    for at, char in enumerate(folded):
        if char.isalnum():
            if start < 0:
                start = at
        elif start >= 0:
            spans.append((start, at))
            start = -1
    if start >= 0:
        spans.append((start, len(folded)))
    return spans


def _matches(
    folded: str, words: tuple[str, ...], phrases: tuple[tuple[str, ...], ...]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(phrase spans, word spans) in ``folded``: whole words only, a phrase's words in a
    row whatever stands between them ("noi cap cuc" finds "nơi cấp: Cục")."""
    tokens = _token_spans(folded)
    names = [folded[a:b] for a, b in tokens]
    found: list[tuple[int, int]] = []
    for phrase in phrases:
        size = len(phrase)
        for n in range(len(names) - size + 1):
            if names[n] == phrase[0] and tuple(names[n : n + size]) == phrase:
                found.append((tokens[n][0], tokens[n + size - 1][1]))
    wanted = set(words)
    singles = [tokens[n] for n, name in enumerate(names) if name in wanted]
    return found, singles


def page_snippet(
    text: str | None, query: TextQuery, *, width: int = SNIPPET_CHARS
) -> tuple[int, list[Piece]]:
    """The page of ``text`` (pages split by form feeds) the query matches best, and a
    line of it: (page number from 1, pieces); (0, []) when no page matches.

    Best: the most phrases found, then the most of the words, then the first page. A
    found phrase is marked as one piece; words are marked alone only where no phrase was
    found on that page, so "nơi cấp: Cục Cảnh sát" is marked, not every "cấp" around it.
    """
    if not text or not query.words:
        return 0, []
    phrases = query.wanted_phrases
    best: tuple[tuple[int, int, int], int, str, list[tuple[int, int]]] | None = None
    for number, page in enumerate(unicodedata.normalize("NFC", text).split("\f"), start=1):
        page = " ".join(page.split())
        folded = fold(page)
        found, singles = _matches(folded, query.words, phrases)
        if not found and not singles:
            continue
        distinct = len({folded[a:b] for a, b in singles})
        score = (len({folded[a:b] for a, b in found}), distinct, len(singles))
        if best is None or score > best[0]:
            best = (score, number, page, found or singles)
    if best is None:
        return 0, []
    _, number, page, spans = best
    spans = sorted(spans)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    first = merged[0][0]
    start = max(0, first - width // 3)
    end = min(len(page), max(start + width, merged[0][1]))
    if start > 0:
        start = min(page.find(" ", start) + 1 or start, first)
    if end < len(page):
        cut = page.rfind(" ", start, end)
        end = cut if cut >= merged[0][1] else end
    shown = [
        (max(a, start) - start, min(b, end) - start) for a, b in merged if a < end and b > start
    ]
    pieces = list(_pieces(page[start:end], shown))
    if start > 0:
        pieces.insert(0, ("… ", False))
    if end < len(page):
        pieces.append((" …", False))
    return number, pieces
