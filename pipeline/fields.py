"""Fields of a dossier, from every page's QR codes and OCR text, checked against each other.

Candidates come from the receipt QR and the chip-ID QR (source "qr"; each QR is classified
by ``pipeline.qrdata.read_qr`` first and gives only its own kind's fields), and from the labels
the catalogue lists for the receipt, the procedure's form and the ID card (source "ocr").
A QR value wins over OCR; disagreement between sources, a failed check (citizen-ID
structure against birth date and sex, real dates, phone shape, dossier-code format) or a
missing required field flags the dossier for review. Nothing is silently "fixed": the
value kept is the one read, and the note says what disagreed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from config.catalogue import Catalogue, FormSpec
from models.codes import DOSSIER_CODE
from models.textfold import fold
from pipeline.barcodes import Barcode
from pipeline.classify import PageKind, procedure_from_text
from pipeline.extract import ExtractedFields, Field, find_dossier_codes
from pipeline.qrdata import read_qr
from pipeline.validate import (
    check_citizen_id,
    normalise_id_number,
    normalise_phone,
    normalise_sex,
    parse_date,
    proper_case_name,
)

CANONICAL = (
    "dossier_code",
    "procedure",
    "full_name",
    "date_of_birth",
    "sex",
    "id_number",
    "address",
    "phone",
)
QR_CONFIDENCE = 0.99
_SOURCE_RANK = {"qr": 0, "pdf": 1, "ocr": 2}


@dataclass(frozen=True)
class PageEvidence:
    """What one page contributes: its class, its text and its barcodes."""

    index: int
    kind: PageKind
    text: str
    barcodes: tuple[Barcode, ...] = ()
    procedure_id: str | None = None
    ocr_confidence: float | None = None  # mean word confidence 0-100


@dataclass(frozen=True)
class Candidate:
    value: str
    source: str
    confidence: float
    where: str  # "receipt QR", "form page 2" ... for review notes


@dataclass
class _Collected:
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)

    def add(self, name: str, value: str | None, source: str, confidence: float, where: str) -> None:
        if value:
            self.candidates.setdefault(name, []).append(Candidate(value, source, confidence, where))


# --- reading labelled values ---------------------------------------------------------------


def _label_pattern(label: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in fold(label).replace("/", " / ").split()]
    return re.compile(r"(?<![a-z0-9])" + r"\s*".join(words) + r"\s*[:.]?\s*")


def labelled_values(text: str, form: FormSpec) -> dict[str, str]:
    """Value after each field's label, up to the next label on the line or its end."""
    patterns = [
        (name, _label_pattern(label))
        for name, labels in form.labels.items()
        for label in sorted(labels, key=len, reverse=True)
    ]
    found: dict[str, str] = {}
    for line in text.splitlines():
        folded = fold(line)
        hits: list[tuple[int, int, str]] = []
        taken: list[tuple[int, int]] = []
        for name, pattern in patterns:
            for match in pattern.finditer(folded):
                span = (match.start(), match.end())
                if any(s < span[1] and span[0] < e for s, e in taken):
                    continue  # a longer label already claimed this text
                taken.append(span)
                hits.append((match.start(), match.end(), name))
        hits.sort()
        for position, (_start, end, name) in enumerate(hits):
            stop = hits[position + 1][0] if position + 1 < len(hits) else len(line)
            value = line[end:stop].strip(" .:;,-–\t")
            if value and name not in found:
                found[name] = value
    return found


# --- normalising candidates ----------------------------------------------------------------


def _normalise(name: str, raw: str) -> tuple[str | None, str | None]:
    """(canonical value, problem). None value: the raw text is not a value of that field."""
    if name == "date_of_birth":
        parsed = parse_date(raw)
        return (parsed.isoformat(), None) if parsed else (None, f"unreadable date {raw!r}")
    if name == "sex":
        return normalise_sex(raw), None
    if name == "id_number":
        digits = normalise_id_number(raw.split()[0] if raw.split() else raw)
        if digits is None:
            digits = normalise_id_number(raw)
        return digits, None if digits else f"not an ID number {raw!r}"
    if name == "phone":
        phone = normalise_phone(raw.split("Email")[0].split("email")[0])
        return phone, None if phone else f"not a phone number {raw!r}"
    if name == "full_name":
        name_text = re.split(r"\s{2,}|\bSinh\b|\bsinh\b", raw)[0]
        return (proper_case_name(name_text) or None), None
    if name == "dossier_code":
        codes = find_dossier_codes(raw)
        return (codes[0][0], None) if codes else (None, None)
    return " ".join(raw.split()) or None, None


# Administrative-unit words: "thành phố Hạ Long" and "Hạ Long" name the same place.
_ADMIN_WORDS = frozenset(
    {"so", "duong", "pho", "thon", "ap", "to", "khu", "phuong", "xa", "thi", "tran", "quan"}
    | {"huyen", "thanh", "tinh", "tp", "tx", "tt", "q", "p"}
)


def _address_tokens(text: str) -> list[str]:
    words = re.sub(r"[^\w\s]", " ", fold(text)).split()
    return [w for w in words if w not in _ADMIN_WORDS]


def _same(name: str, a: str, b: str) -> bool:
    if name == "full_name":
        return " ".join(fold(a).split()) == " ".join(fold(b).split())
    if name == "address":
        # Addresses are written shorter or longer (the card vs the form): the same place when
        # the shorter one's words all appear, in order, in the longer one.
        short, long_ = sorted((_address_tokens(a), _address_tokens(b)), key=len)
        position = 0
        for word in short:
            try:
                position = long_.index(word, position) + 1
            except ValueError:
                return False
        return bool(short)
    return a == b


# --- collecting ----------------------------------------------------------------------------


def _collect(pages: Sequence[PageEvidence], catalogue: Catalogue) -> tuple[_Collected, str | None]:
    got = _Collected()
    procedure_votes: list[tuple[str, str]] = []
    for page in pages:
        where = f"{page.kind.replace('_', ' ')} page {page.index + 1}"
        ocr_conf = min(0.95, (page.ocr_confidence or 80.0) / 100.0)
        for barcode in page.barcodes:
            # Each QR is classified first and gives only its own kind's fields; a QR of unknown
            # kind gives none (its text stays in the page record for a person to read).
            reading = read_qr(barcode.text)
            if (receipt := reading.receipt) is not None:
                got.add("dossier_code", receipt.dossier_code, "qr", QR_CONFIDENCE, "receipt QR")
                if receipt.id_number:
                    got.add("id_number", receipt.id_number, "qr", QR_CONFIDENCE, "receipt QR")
            if (card := reading.citizen_id) is not None:
                got.add("id_number", card.id_number, "qr", QR_CONFIDENCE, "citizen-ID QR")
                got.add("full_name", card.full_name, "qr", QR_CONFIDENCE, "citizen-ID QR")
                got.add(
                    "date_of_birth",
                    card.date_of_birth.isoformat(),
                    "qr",
                    QR_CONFIDENCE,
                    "citizen-ID QR",
                )
                got.add("sex", card.sex, "qr", QR_CONFIDENCE, "citizen-ID QR")
                got.add("address", card.address, "qr", QR_CONFIDENCE, "citizen-ID QR")
        if page.kind is PageKind.RECEIPT:
            values = labelled_values(page.text, catalogue.receipt)
            for code, _corrected in find_dossier_codes(page.text)[:1]:
                got.add("dossier_code", code, "ocr", ocr_conf, where)
            for name in ("full_name", "address", "phone"):
                got.add(name, values.get(name), "ocr", ocr_conf, where)
            named = procedure_from_text(values.get("request", page.text), catalogue)
            if named:
                procedure_votes.append((named, where))
        elif page.kind is PageKind.APPLICATION_FORM and page.procedure_id:
            procedure_votes.insert(0, (page.procedure_id, where))
            procedure = catalogue.procedure(page.procedure_id)
            if procedure is not None:
                values = labelled_values(page.text, procedure.form)
                for name in CANONICAL:
                    got.add(name, values.get(name), "ocr", ocr_conf, where)
        elif page.kind is PageKind.ID_COPY:
            values = labelled_values(page.text, catalogue.id_card)
            for name in CANONICAL:
                got.add(name, values.get(name), "ocr", ocr_conf * 0.9, where)
    if "dossier_code" not in got.candidates:
        # No receipt: a code printed elsewhere (a result paper, a cover note) still helps
        # find the dossier, but it must be checked.
        for page in pages:
            for code, _corrected in find_dossier_codes(page.text)[:1]:
                got.add("dossier_code", code, "ocr", 0.6, f"page {page.index + 1} (not a receipt)")
    procedure_id = procedure_votes[0][0] if procedure_votes else None
    if procedure_votes:
        got.add("procedure", procedure_id, "ocr", 0.9, procedure_votes[0][1])
    return got, procedure_id


def extract_dossier_fields(pages: Sequence[PageEvidence], catalogue: Catalogue) -> ExtractedFields:
    collected, procedure_id = _collect(pages, catalogue)
    fields: dict[str, Field] = {}
    reasons: list[str] = []
    for name in CANONICAL:
        raw_candidates = collected.candidates.get(name, [])
        normalised: list[Candidate] = []
        problems: list[str] = []
        for candidate in raw_candidates:
            value, problem = _normalise(name, candidate.value)
            if value is None:
                if problem:
                    problems.append(f"{candidate.where}: {problem}")
                continue
            normalised.append(
                Candidate(value, candidate.source, candidate.confidence, candidate.where)
            )
        if not normalised:
            if problems:
                reasons.append(f"{name}: {problems[0]}")
            continue
        normalised.sort(key=lambda c: (_SOURCE_RANK.get(c.source, 9), -c.confidence))
        chosen = normalised[0]
        disagreeing = [c for c in normalised[1:] if not _same(name, chosen.value, c.value)]
        notes = [f"{c.where} reads {c.value!r}" for c in disagreeing]
        needs_review = bool(disagreeing)
        confidence = chosen.confidence
        if needs_review:
            confidence = min(confidence, 0.5)
        elif len(normalised) > 1:
            confidence = max(confidence, 0.97)  # two independent readings agree
        fields[name] = Field(
            value=chosen.value,
            source=chosen.source,
            confidence=confidence,
            needs_review=needs_review,
            note="; ".join(notes) or None,
        )
    _validate(fields, reasons)
    procedure = catalogue.procedure(procedure_id) if procedure_id else None
    for required in procedure.required if procedure else ("dossier_code",):
        if required not in fields:
            reasons.append(f"{required}: not found")
    if procedure_id is None:
        reasons.append("procedure: not recognised")
    return ExtractedFields(fields, review_reasons=tuple(reasons))


def _flag(fields: dict[str, Field], name: str, note: str) -> None:
    current = fields[name]
    combined = f"{current.note}; {note}" if current.note else note
    fields[name] = Field(
        current.value, current.source, min(current.confidence, 0.5), True, combined
    )


def _validate(fields: dict[str, Field], reasons: list[str]) -> None:
    code = fields.get("dossier_code")
    if code is not None and not DOSSIER_CODE.match(code.value):
        _flag(fields, "dossier_code", "not a valid dossier code")
    birth: date | None = None
    if "date_of_birth" in fields:
        birth = date.fromisoformat(fields["date_of_birth"].value)
        if not date(1900, 1, 1) <= birth <= date.today():
            _flag(fields, "date_of_birth", "date of birth out of range")
    if "id_number" in fields:
        sex = fields["sex"].value if "sex" in fields else None
        for problem in check_citizen_id(fields["id_number"].value, date_of_birth=birth, sex=sex):
            _flag(fields, "id_number", problem)
    for name, value in fields.items():
        if value.needs_review:
            reasons.append(f"{name}: {value.note or 'needs review'}")
