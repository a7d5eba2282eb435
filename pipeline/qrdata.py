"""Read the data inside the QR codes found on dossier pages: first what kind of QR, then its data.

Two QR codes matter at the counter: the one on the front of a chip citizen ID card (CCCD), which
carries the holder's identity as ``|``-separated fields in a fixed layout, and the one in the
upper-left corner of receipts and results since TT 01/2023/TT-VPCP Art. 26, which carries the
dossier code, the procedure code and the applicant's ID in an encoding that is *not published*.
A third payload marks our own batch separator sheets. Any other QR (a bank's VietQR, a link) is
of unknown kind. ``read_qr`` decides the kind before any field is taken: a QR feeds identity
fields only when its layout is the card's, because a receipt in Art. 26 pipe order also holds a
12-digit ID, a date and words, and reading that "by content" corrupted names and birth dates.
The receipt parser stays tolerant (JSON, ``key=value``, pipes, URLs) but needs a dossier code.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from pipeline.extract import find_dossier_codes
from pipeline.validate import check_citizen_id, normalise_sex, parse_date, strip_diacritics

__all__ = [
    "PROCEDURE_CODE",
    "SEPARATOR_PAYLOAD",
    "CitizenIdQr",
    "QrKind",
    "QrReading",
    "ReceiptQr",
    "is_separator",
    "parse_citizen_id_qr",
    "parse_receipt_qr",
    "read_qr",
]


@dataclass(frozen=True)
class CitizenIdQr:
    """The identity data of a chip CCCD's QR code.

    Values are kept as the card states them (name not re-cased, address as written); to check
    the number against the birth date and sex, use ``pipeline.validate.check_citizen_id``.
    ``sex`` is "Nam"/"Nữ" whatever spelling the reader gave.
    """

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str
    address: str
    issue_date: date


_DIGITS_12 = re.compile(r"[0-9]{12}")
_DIGITS_9 = re.compile(r"[0-9]{9}")
_DDMMYYYY = re.compile(r"[0-9]{8}")
_SPACES = re.compile(r"\s+")
# A personal name: letters only, words joined by spaces, hyphens or apostrophes ("H'Hen Niê").
_NAME = re.compile(r"[^\W\d_]+(?:(?:\s|\s?[-'’]\s?)[^\W\d_]+)*")


def _card_date(field: str) -> date | None:
    """A ``ddmmyyyy`` date as the card writes it; other date spellings are not the card's."""
    return parse_date(field) if _DDMMYYYY.fullmatch(field) else None


def parse_citizen_id_qr(text: str) -> CitizenIdQr | None:
    """The CCCD data in decoded QR ``text``, or None if its layout is not the card's.

    The card layout is ``CCCD|CMND|name|ddmmyyyy|sex|address|ddmmyyyy`` (seven fields, the CMND
    one 9 digits or empty), or the same without the CMND field (six fields) as some cards and
    readers give it. Every position must hold what the card puts there: a 12-digit number, a
    letters-only name, ``ddmmyyyy`` dates with the issue not before the birth, Nam/Nữ and a
    non-empty address. Anything else is None, however much it looks like identity data: a
    receipt QR in TT 01/2023 Art. 26 order also holds a 12-digit ID, a date and words, and
    reading it "by content" once turned the issuing system into the citizen's name. Whitespace
    around fields, decomposed Unicode and a trailing line end (reader artefacts) are tolerated.
    """
    fields = [
        _SPACES.sub(" ", field).strip() for field in unicodedata.normalize("NFC", text).split("|")
    ]
    if len(fields) == 6:
        fields.insert(1, "")  # the six-field layout is the seven-field one without the CMND
    if len(fields) != 7:
        return None
    id_number, old_id, name, birth_text, sex_text, address, issue_text = fields
    birth = _card_date(birth_text)
    issue = _card_date(issue_text)
    sex = normalise_sex(sex_text)
    if (
        not _DIGITS_12.fullmatch(id_number)
        or not (old_id == "" or _DIGITS_9.fullmatch(old_id))
        or not _NAME.fullmatch(name)
        or birth is None
        or sex is None
        or not address
        or issue is None
        or issue < birth  # a card is not issued before its holder is born
    ):
        return None
    return CitizenIdQr(
        id_number=id_number,
        old_id_number=old_id or None,
        full_name=name,
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
# Where a ``key=value`` or ``key:value`` part splits: its first "=" or ":". Found by a scan,
# not by a pattern with lazy groups around optional spaces: ``\s*([^=:]+?)\s*[=:]…`` took
# cubic time on a part of spaces with no "=" (1,200 spaces 2.6 s, a 2,949-character QR
# 49.6 s, with the GIL held), and a citizen can hand in a paper carrying such a code.
_PAIR_SPLIT = re.compile(r"[=:]")

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


# Receipts nest a level or two; deeper structure is not a receipt's and is not walked.
_JSON_DEPTH = 16


def _json_pairs(value: Any, key: str = "", depth: int = 0) -> list[tuple[str, str]]:
    if depth > _JSON_DEPTH:
        return []
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _json_pairs(v, str(k), depth + 1)]
    if isinstance(value, list):
        return [pair for item in value for pair in _json_pairs(item, key, depth + 1)]
    return [(key, "" if value is None else str(value))]


def _pairs(text: str) -> list[tuple[str, str]]:
    """Key/value pairs from JSON or from ``k=v``/``k:v`` lists, whichever the text is."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return _json_pairs(json.loads(stripped))
        except ValueError:
            pass  # not JSON after all: fall through to the tolerant reading
        except RecursionError:
            pass  # "[" nested some 1,000 deep (found by the fuzz suite): not a receipt's JSON
    pairs: list[tuple[str, str]] = []
    for part in _PAIR_SEPARATORS.split(stripped):
        if (pair := _pair(part)) is not None:
            pairs.append(pair)
    return pairs


def _pair(part: str) -> tuple[str, str] | None:
    """``part`` as (key, value) split at its first "=" or ":", spaces around both dropped;
    None when it has no separator or nothing before it. Linear in ``len(part)``."""
    separator = _PAIR_SPLIT.search(part)
    if separator is None or separator.start() == 0:
        return None
    return part[: separator.start()].strip(), unquote(part[separator.end() :].strip())


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


class QrKind(StrEnum):
    CITIZEN_ID = "citizen_id"  # chip CCCD front, in the card's own layout
    RECEIPT = "receipt"  # one-stop receipt or result: carries a dossier code
    SEPARATOR = "separator"  # our own batch separator sheet
    UNKNOWN = "unknown"  # anything else: kept as text, never feeds a field


@dataclass(frozen=True)
class QrReading:
    """One QR's kind and, for the kinds that carry data, that data.

    ``citizen_id`` is set only for CITIZEN_ID and ``receipt`` only for RECEIPT, so code that
    takes fields from a reading cannot take them from the wrong kind of QR. ``text`` is the
    decoded text unchanged, whatever the kind, so an unknown QR can still be shown or re-read.
    """

    kind: QrKind
    text: str
    citizen_id: CitizenIdQr | None = None
    receipt: ReceiptQr | None = None


def read_qr(text: str) -> QrReading:
    """Classify decoded QR ``text``, then parse it as that kind only.

    Order: the separator's exact payload, then the card's strict layout (a receipt cannot fit
    it: every position is typed and the first must be a 12-digit number, not a dossier code),
    then a dossier code anywhere in the text (receipt), else unknown.
    """
    if is_separator(text):
        return QrReading(QrKind.SEPARATOR, text)
    if (card := parse_citizen_id_qr(text)) is not None:
        return QrReading(QrKind.CITIZEN_ID, text, citizen_id=card)
    if (receipt := parse_receipt_qr(text)) is not None:
        return QrReading(QrKind.RECEIPT, text, receipt=receipt)
    return QrReading(QrKind.UNKNOWN, text)
