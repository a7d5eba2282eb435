"""Validate and normalise the personal fields read from a dossier.

OCR, QR decoders and hand-filled forms all deliver the same facts in many spellings: dates as
"12/03/1990", "12031990" or "ngày 12 tháng 3 năm 1990", names in capitals, phones with "+84".
Storage and search need one spelling, and a clerk needs to be told when facts contradict each
other — the 12-digit citizen ID (CCCD) encodes province, century, sex and birth year, so it can be
cross-checked against the date of birth and sex written elsewhere (NĐ 137/2015, TT 07/2016/TT-BCA;
see the domain reference). Everything here is pure: text in, value or list of problems out.
Problems are one human-readable line each so they can go straight into a review note.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

__all__ = [
    "PROVINCE_CODES",
    "Check",
    "CorrectionRefusal",
    "check_citizen_id",
    "check_correction",
    "normalise_id_number",
    "normalise_phone",
    "normalise_sex",
    "parse_date",
    "proper_case_name",
    "strip_diacritics",
]

# Digits 1-3 of a CCCD: the province where the birth was registered (TT 07/2016/TT-BCA).
# The 63 codes are not contiguous, so a typo'd or OCR-garbled number often lands in a gap.
# fmt: off
PROVINCE_CODES: frozenset[str] = frozenset(
    (
        "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019",
        "020", "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036",
        "037", "038", "040", "042", "044", "045", "046", "048", "049", "051", "052", "054",
        "056", "058", "060", "062", "064", "066", "067", "068", "070", "072", "074", "075",
        "077", "079", "080", "082", "083", "084", "086", "087", "089", "091", "092", "093",
        "094", "095", "096",
    )
)
# fmt: on

# Digit 4 of a CCCD -> (first year of the century, sex). Digits 6-9 are not assigned.
_CENTURY_SEX: dict[str, tuple[int, str]] = {
    "0": (1900, "Nam"),
    "1": (1900, "Nữ"),
    "2": (2000, "Nam"),
    "3": (2000, "Nữ"),
    "4": (2100, "Nam"),
    "5": (2100, "Nữ"),
}

_CCCD = re.compile(r"[0-9]{12}")
_CMND = re.compile(r"[0-9]{9}")


@dataclass(frozen=True)
class Check:
    """Outcome of a validation, for callers that want a yes/no plus one note line.

    The check functions return lists (easy to combine and test); ``Check.of`` folds such a list
    into what a ``Field``'s ``needs_review``/``note`` pair wants.
    """

    ok: bool
    problem: str | None = None

    @classmethod
    def of(cls, problems: Sequence[str]) -> Check:
        """``ok`` when there are no problems, otherwise all of them joined into one line."""
        if not problems:
            return cls(ok=True, problem=None)
        return cls(ok=False, problem="; ".join(problems))


def check_citizen_id(
    number: str, *, date_of_birth: date | None = None, sex: str | None = None
) -> list[str]:
    """Problems with a citizen ID number, empty when it looks right.

    A 12-digit CCCD is checked for structure (province code, century/sex digit) and, when given,
    against the holder's date of birth and sex: these disagreeing is the most common sign of a
    misread digit or of fields copied from the wrong person. A 9-digit old CMND has no
    checkable structure, so only its shape is checked. ``number`` is expected to be normalised
    already (see ``normalise_id_number``); only surrounding whitespace is ignored, because
    silently repairing a number here would hide the problem this function exists to report.
    """
    value = number.strip()
    if not value:
        return ["citizen ID is empty"]
    if not value.isascii() or not value.isdigit():
        return [f"citizen ID {value!r} contains characters other than digits"]
    if _CMND.fullmatch(value):
        return []
    if not _CCCD.fullmatch(value):
        return [f"citizen ID {value} has {len(value)} digits; a CCCD has 12 and an old CMND has 9"]

    problems: list[str] = []
    province, century_digit, year_digits = value[:3], value[3], value[4:6]
    if province not in PROVINCE_CODES:
        problems.append(f"citizen ID {value}: {province} (digits 1-3) is not a valid province code")
    century_sex = _CENTURY_SEX.get(century_digit)
    if century_sex is None:
        problems.append(
            f"citizen ID {value}: digit 4 is {century_digit}, but only 0-5 encode century and sex"
        )

    if date_of_birth is not None:
        if int(year_digits) != date_of_birth.year % 100:
            problems.append(
                f"citizen ID {value}: birth year digits {year_digits} (digits 5-6) do not match "
                f"date of birth {date_of_birth:%d/%m/%Y}"
            )
        if century_sex is not None:
            century = century_sex[0]
            if not century <= date_of_birth.year < century + 100:
                problems.append(
                    f"citizen ID {value}: digit 4 ({century_digit}) means born in "
                    f"{century}-{century + 99}, but date of birth is {date_of_birth:%d/%m/%Y}"
                )

    if sex is not None:
        given = normalise_sex(sex)
        if given is None:
            problems.append(f"sex {sex.strip()!r} is neither Nam nor Nữ")
        elif century_sex is not None and century_sex[1] != given:
            problems.append(
                f"citizen ID {value}: digit 4 ({century_digit}) means {century_sex[1]}, "
                f"but sex is given as {given}"
            )
    return problems


_ID_SEPARATORS = re.compile(r"[\s.]+")
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})


def normalise_id_number(text: str) -> str | None:
    """The digits of an ID number as read by OCR or typed by hand, or None.

    Forms and OCR give "001 090 123 456", "001.090.123.456" or "OO1O9O123456"; these are the
    same number. Look-alike letters are only turned into digits when the result has a valid
    ID length (9 or 12 digits), so arbitrary words never become "numbers".
    """
    compact = _ID_SEPARATORS.sub("", unicodedata.normalize("NFC", text))
    digits = compact.translate(_DIGIT_LOOKALIKES)
    if _CCCD.fullmatch(digits) or _CMND.fullmatch(digits):
        return digits
    return None


# Numeric forms must be the whole value: a date buried in a longer digit run is not a date.
_DMY = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_COMPACT_DMY = re.compile(r"(\d{2})(\d{2})(\d{4})")
# The written form is searched for: Vietnamese documents date themselves as
# "Hà Nội, ngày 12 tháng 3 năm 2024", and the place name must not stop the date being read.
# Spaces around the optional comma in one possessive run: "\s*,?\s*" split a long run of
# spaces every possible way before failing (quadratic: 8,000 spaces 52 ms, 80,000 about 5 s).
_WRITTEN = re.compile(r"\bngay\s*+(\d{1,2})\s*+thang\s*+(\d{1,2})(?:\s*+,)?+\s*+nam\s*+(\d{4})\b")


def _make_date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """The calendar date written in ``text``, or None when it is not one (or impossible).

    Accepted: "12/03/1990", "12-03-1990", "12.03.1990" (day first, as Vietnamese write it),
    "12031990" (the CCCD QR's ddmmyyyy), ISO "1990-03-12", and "ngày 12 tháng 3 năm 1990" with or
    without diacritics. Impossible dates ("31/02/1990", "29/02/2023") are None rather than being
    rolled over, because a wrong date silently stored is worse than a field flagged for review.
    """
    value = unicodedata.normalize("NFC", text).strip()
    if match := _ISO.fullmatch(value):
        return _make_date(match[1], match[2], match[3])
    if match := _DMY.fullmatch(value):
        return _make_date(match[4], match[3], match[1])
    if match := _COMPACT_DMY.fullmatch(value):
        return _make_date(match[3], match[2], match[1])
    if match := _WRITTEN.search(strip_diacritics(value).casefold()):
        return _make_date(match[3], match[2], match[1])
    return None


_PHONE_CHARS = re.compile(r"\+?[0-9\s.\-()]+")
# After conversion to national form: mobiles are 10 digits (03/05/07/08/09), landlines
# 11 digits (02 + area code + subscriber number) since the 2017-2018 renumbering.
_PHONE_SHAPE = re.compile(r"0[35789][0-9]{8}|02[0-9]{9}")


def normalise_phone(text: str) -> str | None:
    """A Vietnamese phone number as national digits ("0912345678"), or None.

    People write "+84 912 345 678", "0084-912-345-678", "(024) 3825 1234" or "091.234.5678"; search
    and deduplication need one form. Anything that does not end up as a mobile (10 digits, 03/05/
    07/08/09) or landline (11 digits, 02…) number is rejected instead of guessed at.
    """
    value = text.strip()
    if not _PHONE_CHARS.fullmatch(value):
        return None
    digits = re.sub(r"[^0-9]", "", value)
    international = value.startswith("+") or digits.startswith("00")
    if international:
        digits = digits.lstrip("0")  # "0084..." -> "84..."
        if not digits.startswith("84"):
            return None  # a foreign number
    if international or (digits.startswith("84") and len(digits) in (11, 12, 13)):
        digits = "0" + digits[2:].removeprefix("0")  # "+84 (0) 912..." drops the trunk 0
    return digits if _PHONE_SHAPE.fullmatch(digits) else None


_SEX_WORDS = {
    "nam": "Nam",
    "male": "Nam",
    "m": "Nam",
    "nữ": "Nữ",
    "nu": "Nữ",
    "female": "Nữ",
    "f": "Nữ",
}


def normalise_sex(text: str) -> str | None:
    """ "Nam" or "Nữ" — the spelling on Vietnamese papers — from any common spelling, else None.

    QR readers, English-language systems and diacritic-less typing give "NAM", "nu", "Female",
    "F"; the cross-checks against the CCCD need one value.
    """
    key = unicodedata.normalize("NFC", text).strip().strip(".:,;").strip().casefold()
    return _SEX_WORDS.get(key)


# Letters that look like Đ/đ in fonts and OCR output but are not the Vietnamese letter
# (Icelandic eth, African D): in a Vietnamese name they can only be a misread Đ.
_D_LOOKALIKES = str.maketrans({"Ð": "Đ", "Ɖ": "Đ", "ð": "đ", "ɖ": "đ"})
_WORD_JOINERS = "-'’"


def _proper_word(word: str) -> str:
    out: list[str] = []
    start = True
    for char in word:
        if start and char.isalpha():
            out.append(char.upper())
            start = False
        else:
            out.append(char.lower())
        if char in _WORD_JOINERS:
            start = True  # ethnic-minority names: "H'Hen Niê", "Y-Moan"
    return "".join(out)


def proper_case_name(text: str) -> str:
    """A person's name in Vietnamese proper case: "NGUYỄN VĂN AN" -> "Nguyễn Văn An".

    Forms and cards print names in capitals; records and letters need proper case. Works on NFC
    so each accented vowel is one character whose case changes as a whole (decomposed input would
    still be fine — combining marks have no case — but NFC is what everything else compares).
    Each syllable is capitalised, including after "-" or an apostrophe, and Đ look-alikes from
    OCR become the real Đ/đ so that lower-casing does not produce an Icelandic "ð".
    """
    value = unicodedata.normalize("NFC", text).translate(_D_LOOKALIKES)
    name = " ".join(_proper_word(word) for word in value.split())
    return unicodedata.normalize("NFC", name)


_STRIP_D = str.maketrans({"Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Ɖ": "D", "ɖ": "d"})


def strip_diacritics(text: str) -> str:
    """``text`` without Vietnamese diacritics: "Nguyễn Văn Đức" -> "Nguyen Van Duc".

    Citizens and clerks search without accents, and OCR gets tones wrong more often than base
    letters, so search keys compare stripped text. Đ/đ is a separate letter, not D plus a mark,
    so it has to be mapped explicitly; everything else is NFD with the combining marks removed.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_STRIP_D))
    kept = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", kept)


# The 12-digit citizen ID a correction must be: an operator keys in what the papers say, and
# a CCCD is what every current paper carries (an old 9-digit CMND is still accepted by the
# readers above, because old papers print it, but not typed in as a correction of the ID).
_KEYED_CCCD = re.compile(r"[0-9]{12}")
_DOSSIER_CODE = re.compile(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}")


@dataclass(frozen=True)
class CorrectionRefusal:
    """Why an operator's correction is not a value of its field: a stable code, put in words
    by the pages' message catalogue (section ``[correction]``), and for an ID the checks' own
    notes (shown through the catalogue's ``[[note]]`` patterns, like a review note)."""

    code: str
    details: tuple[str, ...] = ()


def check_correction(
    name: str, text: str, *, date_of_birth: date | None = None, sex: str | None = None
) -> tuple[str | None, CorrectionRefusal | None]:
    """(the value to store, None) for an operator's correction, or (None, why not).

    Each field is checked by its type and stored in the one spelling the rest of the system
    uses: dates as ISO (typed dd/mm/yyyy), "Nam"/"Nữ", a 12-digit CCCD that passes the
    structure checks and agrees with the dossier's birth date and sex when those are known,
    national phone digits. Why not is a code, never words: the pages own the words.
    """
    value = " ".join(unicodedata.normalize("NFC", text).split())
    if not value:
        return None, CorrectionRefusal("empty")
    if name == "date_of_birth":
        parsed = parse_date(value)
        if parsed is None:
            return None, CorrectionRefusal("date_format")
        if not date(1900, 1, 1) <= parsed <= date.today():
            return None, CorrectionRefusal("date_range")
        return parsed.isoformat(), None
    if name == "sex":
        sex_value = normalise_sex(value)
        return (sex_value, None) if sex_value else (None, CorrectionRefusal("sex"))
    if name == "id_number":
        digits = re.sub(r"[\s.]", "", value)
        if not _KEYED_CCCD.fullmatch(digits):
            return None, CorrectionRefusal("id_length")
        problems = check_citizen_id(digits, date_of_birth=date_of_birth, sex=sex)
        if problems:
            return None, CorrectionRefusal("id_invalid", tuple(problems))
        return digits, None
    if name == "phone":
        phone = normalise_phone(value)
        return (phone, None) if phone is not None else (None, CorrectionRefusal("phone"))
    if name == "dossier_code":
        code = value.upper()
        if not _DOSSIER_CODE.fullmatch(code):
            return None, CorrectionRefusal("dossier_code")
        return code, None
    if name == "full_name":
        if any(char.isdigit() for char in value):
            return None, CorrectionRefusal("name_digits")
        return proper_case_name(value), None
    return value, None
