"""Fields of a dossier, from every page's QR codes and OCR text, chosen by agreement.

Candidates come from the receipt QR and the chip-ID QR (source "qr"; each QR is classified
by ``pipeline.qrdata.read_qr`` first and gives only its own kind's fields), and from the labels
the catalogue lists for the receipt, the procedure's form and the ID card (source "ocr").
Every candidate is kept with its source. The value chosen is the one the most independent
sources agree on (one vote per page and channel; a positively identified chip-ID QR weighs
most, so it wins a tie but never outvotes two agreeing papers): a lone source never silently
overrules several agreeing ones. Any disagreement, a failed check (citizen-ID structure
against birth date and sex, real dates, dossier-code format), a handwritten value OCR could
not read or a required field missing from the papers that should carry it sends the dossier
to review, with a coded reason (``pipeline.reasons``) naming the paper at fault. Nothing is
silently "fixed": a person sees every candidate, the majority's value pre-selected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from config.catalogue import Catalogue, FormSpec
from models.codes import DOSSIER_CODE, receiving_unit
from models.dossier import FieldCandidate, FieldInfo, FieldState
from models.textfold import fold
from pipeline.barcodes import Barcode
from pipeline.classify import PageKind, procedure_from_text
from pipeline.extract import ExtractedFields, find_dossier_codes
from pipeline.handwriting import CropReader, HandwrittenArea, suggested_value
from pipeline.qrdata import read_qr
from pipeline.reasons import PAPER_NAMES_VI, ReasonCode, ReviewReason
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
# Votes a source gives the value it reads. The card's own QR (its layout positively
# identified) is the strongest: it wins a tie against one paper, but two agreeing papers
# outvote it; the receipt QR is machine-written, so stronger than OCR of a paper.
_WEIGHT = {"citizen_id_qr": 1.5, "receipt_qr": 1.2}

# The fields each paper carries, so a dossier is asked only for what its papers should hold:
# a receipt alone has no birth date or sex; a form without an ID copy must give them itself.
RECEIPT_FIELDS = frozenset({"dossier_code", "full_name", "address", "phone", "procedure"})
ID_COPY_FIELDS = frozenset({"full_name", "date_of_birth", "sex", "id_number", "address"})


@dataclass(frozen=True)
class PageEvidence:
    """What one page contributes: its class, its text and its barcodes."""

    index: int
    kind: PageKind
    text: str
    barcodes: tuple[Barcode, ...] = ()
    procedure_id: str | None = None
    ocr_confidence: float | None = None  # mean word confidence 0-100
    # Areas after a label holding ink OCR could not read (see pipeline.handwriting).
    handwritten: tuple[HandwrittenArea, ...] = ()
    # (field, text, confidence 0-100): values the page step read again from the unfaded scan.
    reread: tuple[tuple[str, str, float], ...] = ()


@dataclass
class _Collected:
    candidates: dict[str, list[FieldCandidate]] = field(default_factory=dict)

    def add(
        self,
        name: str,
        value: str | None,
        source: str,
        confidence: float,
        where: str,
        paper: str = "other",
        page: int | None = None,
    ) -> None:
        if value:
            self.candidates.setdefault(name, []).append(
                FieldCandidate(value, source, confidence, where, paper, page)
            )


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
            value = _without_english_label(line[end:stop]).strip(" .:;,-–\t")
            if value and name not in found:
                found[name] = value
    return found


def _without_english_label(text: str) -> str:
    """``text`` without the English half of a bilingual label ("/ Full name:").

    The citizen-ID card prints each label in Vietnamese, then English after a slash. OCR
    misspells the English half ("/Ful Name", "/ Phace of residence"), so the Vietnamese
    label matches alone and the English words would pass for the value: they are dropped,
    up to the colon that ends them (or entirely, when the value is on the next line).
    """
    stripped = text.lstrip(" .:;,-–\t")
    if not stripped.startswith("/"):
        return text
    _label, colon, rest = stripped.partition(":")
    return rest if colon else ""


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


def reread_value(name: str, text: str, form: FormSpec) -> str | None:
    """The value of field ``name`` in ``text`` read again after its label, or None when that
    text is no value of the field (a misread date, a cut-off ID): then a person must read it.

    The text is cut where a label OCR missed on the page begins ("... ngày cấp: ...").
    """
    labels = form.labels.get(name, ())
    line = f"{labels[0]}: {text}" if labels else text
    value = labelled_values(line, form).get(name, text)
    normalised, _problem = _normalise(name, value)
    return value if normalised else None


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
    procedure_votes: list[tuple[str, str, str]] = []
    for page in pages:
        where = f"{page.kind.replace('_', ' ')} page {page.index + 1}"
        ocr_conf = min(0.95, (page.ocr_confidence or 80.0) / 100.0)
        for barcode in page.barcodes:
            # Each QR is classified first and gives only its own kind's fields; a QR of unknown
            # kind gives none (its text stays in the page record for a person to read).
            reading = read_qr(barcode.text)
            if (receipt := reading.receipt) is not None:
                qr_where = f"receipt QR, page {page.index + 1}"
                add = (QR_CONFIDENCE, qr_where, "receipt_qr", page.index)
                got.add("dossier_code", receipt.dossier_code, "qr", *add)
                if receipt.id_number:
                    got.add("id_number", receipt.id_number, "qr", *add)
            if (card := reading.citizen_id) is not None:
                card_where = f"citizen-ID QR, page {page.index + 1}"
                on_card = (QR_CONFIDENCE, card_where, "citizen_id_qr", page.index)
                got.add("id_number", card.id_number, "qr", *on_card)
                got.add("full_name", card.full_name, "qr", *on_card)
                got.add("date_of_birth", card.date_of_birth.isoformat(), "qr", *on_card)
                got.add("sex", card.sex, "qr", *on_card)
                got.add("address", card.address, "qr", *on_card)
        paper = str(page.kind)
        if page.kind is PageKind.RECEIPT:
            values = labelled_values(page.text, catalogue.receipt)
            for code, _corrected in find_dossier_codes(page.text)[:1]:
                got.add("dossier_code", code, "ocr", ocr_conf, where, paper, page.index)
            for name in ("full_name", "address", "phone"):
                got.add(name, values.get(name), "ocr", ocr_conf, where, paper, page.index)
            named = procedure_from_text(values.get("request", page.text), catalogue)
            if named:
                procedure_votes.append((named, where, paper))
        elif page.kind is PageKind.APPLICATION_FORM and page.procedure_id:
            procedure_votes.insert(0, (page.procedure_id, where, paper))
            procedure = catalogue.procedure(page.procedure_id)
            if procedure is not None:
                values = labelled_values(page.text, procedure.form)
                for name, text, confidence in page.reread:
                    values.pop(name, None)  # the page's reading of that area was not trusted
                    again = min(0.95, confidence / 100.0)
                    value = reread_value(name, text, procedure.form)
                    got.add(name, value, "ocr", again, where, paper, page.index)
                for name in CANONICAL:
                    got.add(name, values.get(name), "ocr", ocr_conf, where, paper, page.index)
        elif page.kind is PageKind.ID_COPY:
            values = labelled_values(page.text, catalogue.id_card)
            for name in CANONICAL:
                got.add(name, values.get(name), "ocr", ocr_conf * 0.9, where, paper, page.index)
    if "dossier_code" not in got.candidates:
        # No receipt: a code printed elsewhere (a result paper, a cover note) still helps
        # find the dossier, but it must be checked.
        for page in pages:
            for code, _corrected in find_dossier_codes(page.text)[:1]:
                got.add(
                    "dossier_code",
                    code,
                    "ocr",
                    0.6,
                    f"page {page.index + 1} (not a receipt)",
                    "other",
                    page.index,
                )
    procedure_id = procedure_votes[0][0] if procedure_votes else None
    if procedure_votes:
        got.add("procedure", procedure_id, "ocr", 0.9, procedure_votes[0][1], procedure_votes[0][2])
    return got, procedure_id


# --- choosing by agreement -----------------------------------------------------------------


def _independent_key(candidate: FieldCandidate) -> tuple[int | None, str, str]:
    """Readings from the same page by the same channel are one source, not several."""
    return candidate.page, candidate.source, candidate.paper


def _votes(group: list[FieldCandidate]) -> float:
    best: dict[tuple[int | None, str, str], float] = {}
    for candidate in group:
        key = _independent_key(candidate)
        best[key] = max(best.get(key, 0.0), _WEIGHT.get(candidate.paper, 1.0))
    return sum(best.values())


def _rank(candidate: FieldCandidate) -> tuple[int, int, float]:
    return (
        0 if candidate.paper == "citizen_id_qr" else 1,
        _SOURCE_RANK.get(candidate.source, 9),
        -candidate.confidence,
    )


def choose(
    name: str, candidates: list[FieldCandidate]
) -> tuple[FieldCandidate, list[list[FieldCandidate]]]:
    """The pre-selected candidate and the groups of agreeing candidates, strongest first.

    Candidates agree when they are the same value (names without case and accents, addresses
    when one's words all appear in order in the other). A group's strength is its number of
    independent sources, the chip-ID QR weighing most; ties go to the group holding the
    strongest kind of source. The chosen value is that group's best-ranked spelling.
    """
    groups: list[list[FieldCandidate]] = []
    for candidate in sorted(candidates, key=_rank):
        for group in groups:
            if _same(name, group[0].value, candidate.value):
                group.append(candidate)
                break
        else:
            groups.append([candidate])
    groups.sort(key=lambda g: (-_votes(g), _rank(g[0])))
    return groups[0][0], groups


def _place_vi(candidate: FieldCandidate) -> str:
    """Where a candidate was read, in the reason's own language: the paper's Vietnamese name
    and the page (``where`` is the English trace kept in the candidate's JSON)."""
    paper = PAPER_NAMES_VI.get(candidate.paper or "", PAPER_NAMES_VI["other"])
    return paper if candidate.page is None else f"{paper} trang {candidate.page + 1}"


def _describe(groups: list[list[FieldCandidate]]) -> str:
    return "; ".join(
        f"{group[0].value!r} theo " + ", ".join(_place_vi(c) for c in group) for group in groups
    )


def _papers(pages: Sequence[PageEvidence]) -> set[str]:
    return {str(page.kind) for page in pages}


def _expected_papers(name: str, present: set[str], form_fields: frozenset[str] | None) -> list[str]:
    """The papers of the dossier that should have carried ``name``."""
    papers: list[str] = []
    if "receipt" in present and name in RECEIPT_FIELDS:
        papers.append("receipt")
    if "application_form" in present and form_fields is not None and name in form_fields:
        papers.append("application_form")
    if "id_copy" in present and name in ID_COPY_FIELDS:
        papers.append("id_copy")
    return papers


def extract_dossier_fields(
    pages: Sequence[PageEvidence],
    catalogue: Catalogue,
    *,
    agency_code: str | None = None,
    crop_reader: CropReader | None = None,
) -> ExtractedFields:
    """Every field of a dossier with its candidates, and why a person must look at it.

    ``agency_code`` is the agency named at upload: a dossier code of another receiving unit
    is flagged, not silently routed. ``crop_reader``, when given, reads the handwritten areas
    that carry their pixels: its reading becomes the field's suggestion, never its value.
    """
    collected, procedure_id = _collect(pages, catalogue)
    fields: dict[str, FieldInfo] = {}
    reasons: list[ReviewReason] = []
    # Where a page holds ink after a field's label that OCR did not read with confidence,
    # whatever OCR made of it is kept as a candidate but gives no vote: it is the misreading
    # of handwriting (or of faded coloured ink), not a reading.
    inked = {(area.field, page.index) for page in pages for area in page.handwritten}
    strength: dict[str, float] = {}
    for name in CANONICAL:
        decided, votes = _decide_field(name, collected.candidates.get(name, []), inked, reasons)
        if decided is not None:
            fields[name] = decided
        if votes is not None:
            strength[name] = votes
    _validate(fields, reasons)
    _handwritten(pages, fields, strength, reasons, crop_reader)
    reasons.extend(_missing(pages, fields, catalogue, procedure_id))
    if (mismatch := agency_mismatch(fields.get("dossier_code"), agency_code)) is not None:
        reasons.append(mismatch)
    unique = list(dict.fromkeys(reasons))
    return ExtractedFields(
        fields, review_reasons=tuple(r.line() for r in unique), reasons=tuple(unique)
    )


def _decide_field(
    name: str,
    candidates: Sequence[FieldCandidate],
    inked: set[tuple[str, int]],
    reasons: list[ReviewReason],
) -> tuple[FieldInfo | None, float | None]:
    """One field from its candidates, and the votes of its chosen value (None when no
    candidate is a value of the field); why a person must look is added to ``reasons``."""
    normalised: list[FieldCandidate] = []
    unreadable: list[FieldCandidate] = []
    doubtful: list[FieldCandidate] = []
    for candidate in candidates:
        if candidate.source == "ocr" and (name, candidate.page) in inked:
            doubtful.append(replace(candidate, confidence=min(candidate.confidence, 0.2)))
            continue
        value, problem = _normalise(name, candidate.value)
        if value is None:
            if problem:
                unreadable.append(candidate)
            continue
        normalised.append(
            FieldCandidate(
                value,
                candidate.source,
                candidate.confidence,
                candidate.where,
                candidate.paper,
                candidate.page,
            )
        )
    if not normalised:
        if unreadable:
            first = unreadable[0]
            reasons.append(
                ReviewReason(name, ReasonCode.UNREADABLE, first.paper, repr(first.value))
            )
        if doubtful:
            handwritten = FieldInfo(
                name, "", "ocr", 0.0, True, None, tuple(doubtful), FieldState.HANDWRITTEN
            )
            return handwritten, None
        return None, None
    chosen, groups = choose(name, normalised)
    ordered = tuple(c for group in groups for c in group) + tuple(doubtful)
    needs_review = len(groups) > 1
    confidence = chosen.confidence
    note = None
    if needs_review:
        confidence = min(confidence, 0.5)
        note = _describe(groups)
        reasons.append(ReviewReason(name, ReasonCode.CONFLICT, None, note))
    elif _votes(groups[0]) >= 2:
        confidence = max(confidence, 0.97)  # independent readings agree
    decided = FieldInfo(
        name=name,
        value=chosen.value,
        source=chosen.source,
        confidence=confidence,
        needs_review=needs_review,
        note=note,
        candidates=ordered,
    )
    return decided, _votes(groups[0])


def _missing(
    pages: Sequence[PageEvidence],
    fields: dict[str, FieldInfo],
    catalogue: Catalogue,
    procedure_id: str | None,
) -> list[ReviewReason]:
    """The required fields no paper gave, each asked of the papers that should carry it;
    and the procedure, when no paper named one."""
    reasons: list[ReviewReason] = []
    procedure = catalogue.procedure(procedure_id) if procedure_id else None
    present = _papers(pages)
    form_fields = frozenset(procedure.form.labels) if procedure else None
    required = list(procedure.required) if procedure else ["dossier_code"]
    if "dossier_code" not in required:
        required.insert(0, "dossier_code")
    for name in required:
        if name in fields:
            continue
        expected = _expected_papers(name, present, form_fields)
        if name == "dossier_code" and not expected:
            expected = ["receipt"]  # the code is what finds a dossier: always asked for
        if expected:
            reasons.append(ReviewReason(name, ReasonCode.MISSING, "|".join(expected)))
    if procedure_id is None:
        reasons.append(ReviewReason("procedure", ReasonCode.PROCEDURE_UNKNOWN))
    return reasons


# A receiving unit's code (QCVN 102:2016): only an agency named this way can be compared.
_UNIT_CODE = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}")


def agency_mismatch(code: FieldInfo | None, agency_code: str | None) -> ReviewReason | None:
    """A reason when the dossier code's receiving unit is not the agency named at upload.

    Only agencies named by their unit code can be compared; an upload naming its agency
    another way ("SGTVT-HN") says nothing either way.
    """
    unit = receiving_unit(code.value if code else None)
    agency = (agency_code or "").strip().upper()
    if unit is None or not _UNIT_CODE.fullmatch(agency) or unit == agency:
        return None
    return ReviewReason(
        "dossier_code", ReasonCode.AGENCY_MISMATCH, None, f"{unit}, không phải {agency}"
    )


def _handwritten(
    pages: Sequence[PageEvidence],
    fields: dict[str, FieldInfo],
    strength: dict[str, float],
    reasons: list[ReviewReason],
    reader: CropReader | None,
) -> None:
    """Send handwritten values OCR could not read to a person, with their crop.

    Not needed when independent papers already agree on the field (two votes or more): the
    handwriting would be a further copy of a value already confirmed. Otherwise the field is
    marked handwritten: empty when no other paper gave it, else holding the lone other
    reading, pre-selected, for the person to compare with the crop.
    """
    for page in pages:
        for area in page.handwritten:
            if area.field not in CANONICAL or strength.get(area.field, 0.0) >= 2:
                continue
            current = fields.get(area.field)
            if current is not None and current.crop_key is not None:
                continue  # a crop from an earlier page is already attached
            suggestion: str | None = None
            suggestion_confidence: float | None = None
            reading = area.suggestion
            if reading is None and reader is not None and area.crop is not None:
                reading = reader.read_crop(area.crop)
            # Only a value of the field's kind, cut from the noise around it (issue 28: dot
            # leaders were offered as ".$$PP.T ?!ỆMttt$ệ …").
            if reading is not None:
                suggestion = suggested_value(area.field, reading.text, reading.confidence)
                suggestion_confidence = reading.confidence if suggestion else None
            where = f"{PAPER_NAMES_VI.get(str(page.kind), 'giấy tờ')}, trang {page.index + 1}"
            reasons.append(ReviewReason(area.field, ReasonCode.HANDWRITTEN, str(page.kind)))
            if current is None:
                current = FieldInfo(area.field, "", "ocr", 0.0)
            fields[area.field] = replace(
                current,
                confidence=min(current.confidence, 0.5),
                needs_review=True,
                note="; ".join(filter(None, (current.note, f"viết tay ở {where}"))),
                state=FieldState.HANDWRITTEN,
                crop_key=area.crop_key,
                suggestion=suggestion,
                suggestion_confidence=suggestion_confidence,
            )


def _flag(fields: dict[str, FieldInfo], name: str, note: str) -> None:
    current = fields[name]
    combined = f"{current.note}; {note}" if current.note else note
    fields[name] = replace(
        current, confidence=min(current.confidence, 0.5), needs_review=True, note=combined
    )


def _validate(all_fields: dict[str, FieldInfo], reasons: list[ReviewReason]) -> None:
    # A handwritten field waiting for a person has no value to check yet.
    fields = {name: f for name, f in all_fields.items() if f.value}
    code = fields.get("dossier_code")
    if code is not None and not DOSSIER_CODE.match(code.value):
        _flag(all_fields, "dossier_code", "not a valid dossier code")
        reasons.append(ReviewReason("dossier_code", ReasonCode.INVALID_CODE, None, code.value))
    birth: date | None = None
    if "date_of_birth" in fields:
        birth = date.fromisoformat(fields["date_of_birth"].value)
        if not date(1900, 1, 1) <= birth <= date.today():
            _flag(all_fields, "date_of_birth", "date of birth out of range")
            reasons.append(
                ReviewReason(
                    "date_of_birth", ReasonCode.DATE_OUT_OF_RANGE, None, f"{birth:%d/%m/%Y}"
                )
            )
    if "id_number" in fields:
        sex = fields["sex"].value if "sex" in fields else None
        problems = check_citizen_id(fields["id_number"].value, date_of_birth=birth, sex=sex)
        for problem in problems:
            _flag(all_fields, "id_number", problem)
        if problems:
            reasons.append(
                ReviewReason("id_number", ReasonCode.ID_MISMATCH, None, "; ".join(problems))
            )
