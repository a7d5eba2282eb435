"""Dossier codes (mã hồ sơ, TT 01/2018/TT-VPCP Art. 19) and the shape of extracted fields.

Codes are read tolerantly: OCR confuses O/0, I/l/1 and drops or doubles dots, so
candidates are normalised before the strict pattern is applied. ``pipeline.fields``
reads a whole dossier's fields into these shapes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from models.codes import DOSSIER_CODE
from pipeline.reasons import ReviewReason

# Loose: digits and their look-alikes, any separators, the agency letter anywhere sensible.
_LOOSE_CODE = re.compile(
    r"([0-9OoIl]{3})\s*[.,·]\s*([0-9OoIl]{2})\s*[.,·]\s*([0-9OoIl]{2})\s*[.,·]\s*"
    r"([A-Za-z])\s*([0-9OoIl]{2})\s*[-–—_]\s*([0-9OoIl]{6})\s*[-–—_]\s*([0-9OoIl]{4})"
)
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})


@dataclass(frozen=True)
class Candidate:
    """One reading of a field, with where it came from.

    ``paper`` is the kind of paper or code that carried it (a key of
    ``pipeline.reasons.PAPER_NAMES_VI``: "citizen_id_qr", "receipt_qr", "receipt",
    "application_form", "id_copy", "other"); ``where`` says which one for people
    ("receipt QR", "application form page 2"); ``page`` is its 0-based page in the dossier.
    """

    value: str
    source: str  # "qr", "ocr", "pdf"
    confidence: float
    where: str
    paper: str = "other"
    page: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "confidence": round(self.confidence, 3),
            "where": self.where,
            "paper": self.paper,
            "page": self.page,
        }


# A field's state: read from the papers, written by hand where OCR could not read it (the
# value is then empty until a person keys it in), or recorded by a person as not on the papers.
READ, HANDWRITTEN, NOT_ON_PAPERS = "read", "handwritten", "not_on_papers"


@dataclass(frozen=True)
class Field:
    value: str
    source: str  # "ocr", "qr", "pdf"
    confidence: float  # 0..1
    needs_review: bool = False
    note: str | None = None
    # Every reading of the field, the chosen one included, in the order they were ranked.
    candidates: tuple[Candidate, ...] = ()
    state: str = READ
    crop_key: str | None = None  # object key of the handwritten area's image
    suggestion: str | None = None  # a line reader's guess for a handwritten field, never the value
    suggestion_confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "confidence": round(self.confidence, 3),
            "needs_review": self.needs_review,
            "note": self.note,
            "candidates": [c.to_json() for c in self.candidates],
            "state": self.state,
            "crop_key": self.crop_key,
            "suggestion": self.suggestion,
            "suggestion_confidence": self.suggestion_confidence,
        }


@dataclass(frozen=True)
class ExtractedFields:
    fields: dict[str, Field] = field(default_factory=dict)
    # Why a person must look at this dossier (failed checks, disagreements, missing fields),
    # as stored lines; ``reasons`` holds the same with their codes (pipeline.reasons).
    review_reasons: tuple[str, ...] = ()
    reasons: tuple[ReviewReason, ...] = ()

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons) or any(f.needs_review for f in self.fields.values())

    @property
    def values(self) -> dict[str, str]:
        """The values read; a handwritten field waiting for a person has none yet."""
        return {name: f.value for name, f in self.fields.items() if f.value}

    @property
    def dossier_code(self) -> str | None:
        found = self.fields.get("dossier_code")
        return found.value if found else None

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": {name: f.to_json() for name, f in self.fields.items()},
            "needs_review": self.needs_review,
            "review_reasons": list(self.review_reasons),
            "reasons": [r.to_json() for r in self.reasons],
        }


def _valid_date(yymmdd: str) -> bool:
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    return 1 <= month <= 12 and 1 <= day <= 31


def find_dossier_codes(text: str) -> list[tuple[str, bool]]:
    """Every dossier code in ``text``: (normalised code, needed correction)."""
    found: list[tuple[str, bool]] = []
    for match in _LOOSE_CODE.finditer(unicodedata.normalize("NFC", text)):
        raw = match.group(0)
        groups = [g.translate(_DIGIT_LOOKALIKES) for g in match.groups()]
        letter = match.group(4).upper()
        code = f"{groups[0]}.{groups[1]}.{groups[2]}.{letter}{groups[4]}-{groups[5]}-{groups[6]}"
        if DOSSIER_CODE.match(code) and _valid_date(groups[5]):
            corrected = re.sub(r"\s", "", raw) != code
            found.append((code, corrected))
    return found
