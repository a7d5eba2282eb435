"""Never worse than the engine alone: the per-page guard's figures and its choice.

Cleanup pays on most pages (skew, shadows, borders, seals), but a page unlike those it was
tuned on can come out worse than it went in, and no truth is at hand to tell. Two things
make a page suspect: a first reading that looks doubtful (low confidence, words that are
no Vietnamese syllable), and coloured ink that cleanup faded (a seal, a signature, but
also a title or name stamped in colour, which is text). A suspect page is read again as
bare Tesseract reads the untouched scan, and the reading holding more good text is kept.

Every page's decision is logged (one line, with the figures it was made on) and kept in
its page record (:class:`models.pagerecord.GuardDecision`).
"""

from __future__ import annotations

import logging

from models.pagerecord import GuardDecision, ReadingFigures
from pipeline.ocr import PageOcr
from pipeline.vietnamese import load_syllables, text_quality

_log = logging.getLogger(__name__)

# A first reading is doubtful under either figure. On the real letters of bench/real_vn,
# good readings (CER under 10 %) had mean word confidence 91-96 and 88-99 % valid syllables;
# the blurred handheld photo (CER ~45 %) had 52 and 71 %.
DOUBTFUL_CONFIDENCE = 78.0
DOUBTFUL_SYLLABLE_RATE = 0.85

KEPT_CLEANED = "cleaned"
KEPT_UNTOUCHED = "untouched"


def judged_by_syllables(lang: str) -> bool:
    # Without the syllable list (hunspell-vi) the engine's confidence alone decides.
    return "vie" in lang.split("+") and bool(load_syllables())


def doubtful(confidence: float | None, syllable_rate: float | None) -> bool:
    """A reading this sure, with this share of valid syllables (None: not judged by them),
    is doubtful."""
    if confidence is None or confidence < DOUBTFUL_CONFIDENCE:
        return True
    return syllable_rate is not None and syllable_rate < DOUBTFUL_SYLLABLE_RATE


def reading_is_doubtful(reading: PageOcr, lang: str) -> bool:
    confidence = reading.mean_confidence
    if doubtful(confidence, None):
        return True  # the syllables (the costly part) are not counted
    rate = text_quality(reading.text).syllable_rate if judged_by_syllables(lang) else None
    return doubtful(confidence, rate)


def reading_figures(reading: PageOcr, lang: str) -> ReadingFigures:
    """How much good text a reading holds: valid Vietnamese syllables weighted by the
    engine's confidence, or confident words for other languages (the ``score``).

    Rounded as the page record stores them, so the record shows the figures compared."""
    confidence = reading.mean_confidence or 0.0
    if not reading.words:
        return ReadingFigures(0, round(confidence, 1), None, 0.0)
    weight = 0.5 + 0.5 * confidence / 100.0
    if judged_by_syllables(lang):
        quality = text_quality(reading.text)
        return ReadingFigures(
            quality.words,
            round(confidence, 1),
            round(quality.syllable_rate, 3),
            round(quality.score * weight, 1),
        )
    words = len(reading.words)
    return ReadingFigures(words, round(confidence, 1), None, round(words * weight, 1))


def why_suspect(reading: PageOcr, lang: str, *, faded_ink: bool) -> str | None:
    """Why the untouched scan must be read as well, or None when the first reading stands."""
    reasons = []
    if reading_is_doubtful(reading, lang):
        reasons.append("first reading doubtful")
    if faded_ink:
        reasons.append("coloured ink faded")
    return " and ".join(reasons) or None


# An untouched reading that holds more text than a sound first reading, but reads it this many
# points of mean confidence less surely, owes its extra words to the coloured ink cleanup
# faded on purpose and the engine reads badly: a pen's values on a filled-in form (issue 28).
# Print stamped in colour reads as surely as the rest and keeps its place. On bench/forms.py's
# scanned forms the untouched reading was 9-11 points less sure (and 30-45 points worse in CER,
# handwriting being no print); on the real pages of bench/real_vn the two readings of a page
# differ by 1.0 point at most, or the first reading is doubtful.
LESS_SURE_BY = 5.0


def choose(cleaned: ReadingFigures, untouched: ReadingFigures | None, reason: str) -> GuardDecision:
    """Keep the untouched scan's reading only when it holds more good text, and, after a
    sound first reading, reads it nearly as surely (``LESS_SURE_BY``)."""
    if untouched is None or untouched.score <= cleaned.score:
        return GuardDecision(KEPT_CLEANED, reason, cleaned, untouched)
    less_sure = cleaned.mean_confidence - untouched.mean_confidence
    if not doubtful(cleaned.mean_confidence, cleaned.syllable_rate) and less_sure >= LESS_SURE_BY:
        why = f"{reason}; untouched reading {less_sure:.1f} points less sure: ink not print"
        return GuardDecision(KEPT_CLEANED, why, cleaned, untouched)
    return GuardDecision(KEPT_UNTOUCHED, reason, cleaned, untouched)


def log_decision(source_name: str, page_number: int, decision: GuardDecision) -> None:
    """One line per page: what was kept, why the untouched scan was (not) read, the figures."""
    shown = f"cleaned {_figures_text(decision.cleaned)}"
    if decision.untouched is not None:
        shown += f"; untouched {_figures_text(decision.untouched)}"
    _log.info(
        "guard %s p%d: kept %s (%s): %s",
        source_name,
        page_number,
        decision.kept,
        decision.reason,
        shown,
    )


def _figures_text(figures: ReadingFigures) -> str:
    rate = "" if figures.syllable_rate is None else f", {figures.syllable_rate:.0%} syllables"
    return (
        f"{figures.words} words, confidence {figures.mean_confidence:.1f}{rate},"
        f" score {figures.score:.1f}"
    )
