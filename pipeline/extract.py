"""Dossier codes (mã hồ sơ, TT 01/2018/TT-VPCP Art. 19) and the shape of extracted fields.

Codes are read tolerantly: OCR confuses O/0, I/l/1 and drops or doubles dots, so
candidates are normalised before the strict pattern is applied. ``pipeline.fields``
reads a whole dossier's fields into these shapes (each field a ``models.FieldInfo``, with
its ``models.FieldCandidate`` readings: the shapes storage keeps, so nothing is converted).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from models.codes import DOSSIER_CODE
from models.dossier import FieldInfo
from pipeline.reasons import ReviewReason

# Loose: digits and their look-alikes, any separators, the agency letter anywhere sensible.
_LOOSE_CODE = re.compile(
    r"([0-9OoIl]{3})\s*[.,·]\s*([0-9OoIl]{2})\s*[.,·]\s*([0-9OoIl]{2})\s*[.,·]\s*"
    r"([A-Za-z])\s*([0-9OoIl]{2})\s*[-–—_]\s*([0-9OoIl]{6})\s*[-–—_]\s*([0-9OoIl]{4})"
)
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})


@dataclass(frozen=True)
class ExtractedFields:
    # By name; each value is the stored shape itself (``models.FieldInfo``, its name the key).
    fields: dict[str, FieldInfo] = field(default_factory=dict)
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
            "fields": {name: f.to_archive_json() for name, f in self.fields.items()},
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
