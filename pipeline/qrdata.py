"""Read the data inside the QR codes found on dossier pages.

Two QR codes matter at the counter: the one on the front of a chip citizen ID card (CCCD), which
carries the holder's identity as ``|``-separated fields, and the one in the upper-left corner of
receipts and results since TT 01/2023/TT-VPCP Art. 26, which carries the dossier code, the
procedure code and the applicant's ID in an encoding that is *not published*. Neither can be
trusted to keep a fixed layout (cards and readers differ, issuing systems differ), so both parsers
identify fields by what they look like rather than only where they are, and return None when the
text is simply not that kind of QR. A third payload marks our own batch separator sheets.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote

from pipeline.extract import find_dossier_codes
from pipeline.validate import check_citizen_id, normalise_sex, parse_date, strip_diacritics

__all__ = [
    "PROCEDURE_CODE",
    "SEPARATOR_PAYLOAD",
    "CitizenIdQr",
    "ReceiptQr",
    "is_separator",
    "parse_citizen_id_qr",
    "parse_receipt_qr",
]


@dataclass(frozen=True)
class CitizenIdQr:
    """The identity data of a chip CCCD's QR code.

    Values are kept as the card states them (name not re-cased, address as written); to check
    the number against the birth date and sex, use ``pipeline.validate.check_citizen_id``.
    ``sex`` is "Nam"/"Nữ", or "" if the QR had no recognisable sex field; ``address`` is "" if
    it had none.
    """

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str
    address: str
    issue_date: date | None


_DIGITS_12 = re.compile(r"[0-9]{12}")
_DIGITS_9 = re.compile(r"[0-9]{9}")
_ALL_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"\s+")
# A personal name: letters only, words joined by spaces, hyphens or apostrophes ("H'Hen Niê").
_NAME = re.compile(r"[^\W\d_]+(?:(?:\s|\s?[-'’]\s?)[^\W\d_]+)*")


def parse_citizen_id_qr(text: str) -> CitizenIdQr | None:
    """The CCCD data in decoded QR ``text``, or None if it is not a CCCD QR.

    The card layout is ``CCCD|CMND|name|ddmmyyyy|sex|address|ddmmyyyy``, but some cards and
    readers drop the CMND field, leave it empty, or differ in order, so each field is recognised
    by content: the (first) 12-digit field is the CCCD number, a 9-digit (or second 12-digit)
    field the old CMND number, the date fields are birth then issue (swapped if the first is
    later — a card cannot be issued before its holder is born), the sex field is whatever reads
    as Nam/Nữ, the name is the letters-only field nearest before the birth date, and the address
    is the longest text left. Without a 12-digit number, a birth date and a name, the text is
    not treated as a CCCD QR.
    """
    fields = [
        _SPACES.sub(" ", field).strip() for field in unicodedata.normalize("NFC", text).split("|")
    ]
    compact = [_SPACES.sub("", field) for field in fields]
    used: set[int] = set()

    id_index = next((i for i, c in enumerate(compact) if _DIGITS_12.fullmatch(c)), None)
    if id_index is None:
        return None
    used.add(id_index)

    old_id: str | None = None
    for i, c in enumerate(compact):
        if i not in used and (_DIGITS_9.fullmatch(c) or _DIGITS_12.fullmatch(c)):
            old_id = c
            used.add(i)
            break

    dates: list[tuple[int, date]] = []
    for i, field in enumerate(fields):
        if i not in used and (parsed := parse_date(field)) is not None:
            dates.append((i, parsed))
    if not dates:
        return None
    birth_index, birth = dates[0]
    issue = dates[1][1] if len(dates) > 1 else None
    if issue is not None and issue < birth:
        birth_index, birth, issue = dates[1][0], issue, birth
    used.update(i for i, _ in dates[:2])

    sex = ""
    for i, field in enumerate(fields):
        if i not in used and (found := normalise_sex(field)) is not None:
            sex = found
            used.add(i)
            break

    names = [i for i, field in enumerate(fields) if i not in used and _NAME.fullmatch(field)]
    before = [i for i in names if i < birth_index]
    after = [i for i in names if i > birth_index]
    if before:
        name_index = before[-1]
    elif after:
        name_index = after[0]
    else:
        return None
    used.add(name_index)

    rest = [
        field
        for i, field in enumerate(fields)
        if i not in used and field and not _ALL_DIGITS.fullmatch(compact[i])
    ]
    address = max(rest, key=len) if rest else ""

    return CitizenIdQr(
        id_number=compact[id_index],
        old_id_number=old_id,
        full_name=fields[name_index],
        date_of_birth=birth,
        sex=sex,
        address=address,
        issue_date=issue,
    )


@dataclass(frozen=True)
class ReceiptQr:
    """What the QR on a receipt or result (TT 01/2023/TT-VPCP Art. 26) told us.

    ``raw`` keeps the decoded text unchanged: the encoding is unpublished, so whatever this
    parser does not understand today must still be available for re-reading later.
    """

    dossier_code: str
    procedure_code: str | None
    id_number: str | None
    raw: str


# e.g. 1.011442.000.00.00.H38 (national procedure-database code).
PROCEDURE_CODE = re.compile(
    r"(?<![0-9.])[0-9]\.[0-9]{6}\.[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}(?![0-9])"
)
_STRICT_DOSSIER = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{6}-[0-9]{4}")
_ID_RUN = re.compile(r"(?<![0-9])(?:[0-9]{12}|[0-9]{9})(?![0-9])")
_PAIR_SEPARATORS = re.compile(r"[;&\n\r|?]")
_PAIR = re.compile(r"\s*([^=:]+?)\s*[=:]\s*(.*?)\s*")

# Key spellings seen or plausible in issuing systems, compared without case, accents or
# punctuation ("MaHoSo", "maHoSo", "ma_ho_so", "Mã hồ sơ" all become "mahoso").
_DOSSIER_KEYS = frozenset(
    {"mahoso", "mahs", "sohoso", "dossiercode", "dossierno", "dossiernumber", "dossierid"}
)
_PROCEDURE_KEYS = frozenset(
    {"matthc", "mathutuc", "mathutuchanhchinh", "tthc", "procedurecode", "procedureid"}
)
_ID_KEYS = frozenset(
    {
        "cccd", "socccd", "cmnd", "socmnd", "cmndcccd", "socmndcccd", "madinhdanh",
        "sodinhdanh", "sodinhdanhcanhan", "sogiayto", "magiayto", "giaytotuythan",
        "idnumber", "citizenid", "personid", "identitynumber",
    }
)  # fmt: skip


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", strip_diacritics(name).casefold())


def _json_pairs(value: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _json_pairs(v, str(k))]
    if isinstance(value, list):
        return [pair for item in value for pair in _json_pairs(item, key)]
    return [(key, "" if value is None else str(value))]


def _pairs(text: str) -> list[tuple[str, str]]:
    """Key/value pairs from JSON or from ``k=v``/``k:v`` lists, whichever the text is."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return _json_pairs(json.loads(stripped))
        except ValueError:
            pass  # not JSON after all: fall through to the tolerant reading
    pairs: list[tuple[str, str]] = []
    for part in _PAIR_SEPARATORS.split(stripped):
        if match := _PAIR.fullmatch(part):
            pairs.append((match[1], unquote(match[2])))
    return pairs


def _keyed(pairs: list[tuple[str, str]], keys: frozenset[str]) -> list[str]:
    return [value for key, value in pairs if _key(key) in keys]


def parse_receipt_qr(text: str) -> ReceiptQr | None:
    """The dossier code, procedure code and applicant ID in a receipt's QR, or None.

    The QR content is not published, so any of JSON, ``key=value`` lists (``;``, ``&`` or
    newlines, also URLs), ``|``-separated values or the bare dossier code is accepted. A value
    under a recognised key wins; otherwise the codes are found by their patterns anywhere in the
    text. An unlabelled ID is a 9- or 12-digit run outside the codes; 12-digit runs that fail
    the CCCD structure check are skipped, as they are far more likely timestamps
    (yyyymmddhhmm) than citizen IDs. Without a dossier code the QR is of no use to us: None.
    """
    value = unicodedata.normalize("NFC", text)
    pairs = _pairs(value)

    dossier_code: str | None = None
    for candidate in [*_keyed(pairs, _DOSSIER_KEYS), value]:
        if codes := find_dossier_codes(candidate):
            dossier_code = codes[0][0]
            break
    if dossier_code is None:
        return None

    procedure_code: str | None = None
    for candidate in [*_keyed(pairs, _PROCEDURE_KEYS), value]:
        if match := PROCEDURE_CODE.search(candidate):
            procedure_code = match[0]
            break

    id_number: str | None = None
    for candidate in _keyed(pairs, _ID_KEYS):
        digits = _SPACES.sub("", candidate)
        if _DIGITS_12.fullmatch(digits) or _DIGITS_9.fullmatch(digits):
            id_number = digits
            break
    if id_number is None:
        outside_codes = PROCEDURE_CODE.sub(" ", _STRICT_DOSSIER.sub(" ", value))
        runs = _ID_RUN.findall(outside_codes)
        cccds = [run for run in runs if len(run) == 12 and not check_citizen_id(run)]
        cmnds = [run for run in runs if len(run) == 9]
        id_number = next(iter(cccds + cmnds), None)

    return ReceiptQr(
        dossier_code=dossier_code,
        procedure_code=procedure_code,
        id_number=id_number,
        raw=text,
    )


# Printed on the separator sheets a clerk puts between dossiers in one scanned batch.
SEPARATOR_PAYLOAD = "SOHOA:SEPARATOR:v1"


def is_separator(text: str) -> bool:
    """Whether decoded QR ``text`` is our separator sheet.

    Exact payload (ignoring case and surrounding whitespace or a BOM, which some decoders add)
    rather than a prefix: a future "v2" sheet may mean something else, and an unknown sheet
    should be kept as a page, not silently treated as a dossier boundary.
    """
    return text.strip().lstrip("\ufeff").strip().casefold() == SEPARATOR_PAYLOAD.casefold()
