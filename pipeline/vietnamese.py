"""Vietnamese syllables: is a piece of text plausible Vietnamese, and how plausible?

Vietnamese is written in syllables, and only a few thousand of them exist. Debian's
``hunspell-vi`` word list is exactly that list (6,600 syllables with their tones), so the
share of an OCR reading or an old PDF text layer whose words are real syllables, and the
share that carries diacritics, tell good text from bad without any reference:

* ``CONG Hcok xA HQI CHiJ NGHiA`` (an old diacritic-less OCR layer): few diacritics;
* ``Cộng hoà xã hội chủ nghĩa`` : every word a syllable, most with diacritics;
* a misread page: many words that are no syllable at all.

Syllables are compared by (letters without the tone mark, tone): the old and new places
of the tone mark (``hoà``/``hòa``, ``uỷ``/``ủy``) are the same syllable.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HUNSPELL_VI = Path("/usr/share/hunspell/vi_VN.dic")

# The five tone marks, as combining characters after NFD.
_TONES = {"\u0300": 1, "\u0301": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Letters that only ever appear in Vietnamese with a diacritic of some kind.
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


def syllable_key(word: str) -> tuple[str, int]:
    """(lower-case letters without the tone mark, tone 0-5) of one word, NFC."""
    tone = 0
    kept: list[str] = []
    for char in unicodedata.normalize("NFD", word.lower()):
        mark = _TONES.get(char)
        if mark is not None:
            tone = mark
        else:
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept)), tone


@lru_cache(maxsize=4)
def load_syllables(path: Path = HUNSPELL_VI) -> frozenset[tuple[str, int]]:
    """The valid syllables (as :func:`syllable_key`), or an empty set if the list is absent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    keys = set()
    for line in lines[1:]:  # the first line is the entry count
        word = line.split("/", 1)[0].strip()
        if word and not word.isupper():  # abbreviations (ABC, HCM) are not syllables
            keys.add(syllable_key(word))
    return frozenset(keys)


@dataclass(frozen=True)
class TextQuality:
    """How Vietnamese a text looks: word counts, syllable and diacritic shares (0-1)."""

    words: int
    syllable_rate: float  # share of words that are valid syllables
    diacritic_rate: float  # share of words carrying any Vietnamese diacritic (or đ)

    @property
    def score(self) -> float:
        """One number to compare two readings of the same page (higher is better)."""
        return self.syllable_rate * self.words


def words_of(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text))


def has_diacritic(word: str) -> bool:
    return any(char.lower() not in _ASCII_LETTERS for char in word)


def text_quality(text: str, syllables: frozenset[tuple[str, int]] | None = None) -> TextQuality:
    known = load_syllables() if syllables is None else syllables
    words = words_of(text)
    if not words:
        return TextQuality(0, 0.0, 0.0)
    marked = sum(1 for word in words if has_diacritic(word))
    valid = sum(1 for word in words if syllable_key(word) in known) if known else 0
    return TextQuality(
        words=len(words),
        syllable_rate=valid / len(words) if known else 0.0,
        diacritic_rate=marked / len(words),
    )


# What a printed word carries round its letters: punctuation, and a table's rule or a
# bracket the engine read into it ("|03/1992").
_WORD_EDGES = ".,:;!?¡¿()[]{}\"'“”‘’|/-"
_NUMBER_CHARS = frozenset("0123456789./,:-")


def plausible_print_word(token: str, syllables: frozenset[tuple[str, int]] | None = None) -> bool:
    """Could ``token`` be a printed word: a Vietnamese syllable in print's casing (lower,
    Capitalised or UPPER), a number or a date, or a Latin word of two letters or more (a
    name, an English word in a letter head)? A pen's lucky readings are mostly not: "tñô",
    "t", "CÔng". Without the syllable list only numbers and Latin words are."""
    core = token.strip(_WORD_EDGES)
    if not core:
        return False
    if core[0].isdigit():
        return all(char in _NUMBER_CHARS for char in core)
    if not core.isalpha() or not (core.islower() or core.isupper() or core.istitle()):
        return False
    known = load_syllables() if syllables is None else syllables
    return syllable_key(core) in known or (core.isascii() and len(core) >= 2)


# Measured on the real letters of bench/real_vn: sohoa's readings have 71-99 % valid
# syllables and 74-89 % of words with diacritics; the old OCR layers found there (epu-dl0006,
# epu-dl0007) have 0 % with diacritics.
MIN_TRUSTED_SYLLABLE_RATE = 0.75
MIN_TRUSTED_DIACRITIC_RATE = 0.25
MIN_JUDGED_WORDS = 12


def trusted_vietnamese(text: str) -> tuple[bool, str]:
    """Is an existing text layer good Vietnamese text? (verdict, reason for the record)."""
    quality = text_quality(text)
    if quality.words < MIN_JUDGED_WORDS:
        return False, f"too few words to judge ({quality.words})"
    if quality.diacritic_rate < MIN_TRUSTED_DIACRITIC_RATE:
        return False, f"text without Vietnamese diacritics ({quality.diacritic_rate:.0%} of words)"
    if load_syllables() and quality.syllable_rate < MIN_TRUSTED_SYLLABLE_RATE:
        return False, f"only {quality.syllable_rate:.0%} of words are Vietnamese syllables"
    return True, (
        f"{quality.syllable_rate:.0%} Vietnamese syllables, {quality.diacritic_rate:.0%} with"
        " diacritics"
    )
