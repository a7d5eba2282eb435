"""Classify a page: receipt, application form, citizen-ID copy, separator, blank or other.

Evidence, strongest first: a QR the page carries (separator sheet, receipt QR with a
dossier code, chip-ID QR), then the printed titles from the procedure catalogue, matched
on text folded to plain letters so OCR's diacritic slips do not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from rapidfuzz import fuzz

from config.catalogue import Catalogue
from models.textfold import fold
from pipeline.barcodes import Barcode
from pipeline.qrdata import QrKind, read_qr

TITLE_MATCH = 85.0  # rapidfuzz ratio on folded text; titles are long, OCR is good
TITLE_LINES = 12  # titles sit in the upper part of a page, after the agency header
MIN_CAPITALS = 0.8  # titles are printed in capitals; body text that names a form is not


class PageKind(StrEnum):
    RECEIPT = "receipt"
    APPLICATION_FORM = "application_form"
    ID_COPY = "id_copy"
    SEPARATOR = "separator"
    BLANK = "blank"
    OTHER = "other"


@dataclass(frozen=True)
class PageClass:
    kind: PageKind
    confidence: float  # 0..1
    procedure_id: str | None = None  # for application forms (and receipts naming one)
    evidence: str = ""


def _is_capitals(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= MIN_CAPITALS * len(letters)


def _title_score(lines: Sequence[str], titles: Sequence[str]) -> float:
    """Best match of a title against a capitalised line near the top of the page.

    A line may hold the title and a little more (a form number), or the title may wrap
    over two lines: both are tried.
    """
    head = [line for line in lines[:TITLE_LINES] if _is_capitals(line)]
    candidates = [fold(line) for line in head]
    candidates += [f"{fold(a)} {fold(b)}" for a, b in pairwise(head)]
    best = 0.0
    for title in titles:
        wanted = fold(title)
        for candidate in candidates:
            score = fuzz.ratio(wanted, candidate)
            if len(candidate) > len(wanted):
                # Title plus a little: compare with the best-aligned part, but penalise extra.
                extra = (len(candidate) - len(wanted)) / len(candidate)
                score = max(score, fuzz.partial_ratio(wanted, candidate) - 40 * extra)
            best = max(best, score)
    return best


def procedure_from_text(text: str, catalogue: Catalogue) -> str | None:
    """The procedure a receipt's request text names, by the catalogue's keywords."""
    folded = fold(text)
    for procedure in catalogue.procedures:
        if any(fold(keyword) in folded for keyword in procedure.keywords):
            return procedure.procedure_id
    return None


def classify_page(
    text: str, barcodes: Sequence[Barcode], *, blank: bool, catalogue: Catalogue
) -> PageClass:
    qr_kinds = {read_qr(b.text).kind for b in barcodes}  # unknown QRs are no evidence
    if QrKind.SEPARATOR in qr_kinds:
        return PageClass(PageKind.SEPARATOR, 1.0, evidence="separator QR")
    lines = [line for line in text.splitlines() if line.strip()]
    receipt_qr = QrKind.RECEIPT in qr_kinds
    receipt_title = _title_score(lines, catalogue.receipt.titles)
    if receipt_qr or receipt_title >= TITLE_MATCH:
        confidence = 0.99 if receipt_qr else receipt_title / 100.0
        return PageClass(
            PageKind.RECEIPT,
            confidence,
            procedure_from_text(text, catalogue),
            "receipt QR" if receipt_qr else "receipt title",
        )
    best: tuple[float, str | None] = (0.0, None)
    for procedure in catalogue.procedures:
        score = _title_score(lines, procedure.form.titles)
        if score > best[0]:
            best = (score, procedure.procedure_id)
    if best[0] >= TITLE_MATCH:
        return PageClass(PageKind.APPLICATION_FORM, best[0] / 100.0, best[1], "form title")
    if QrKind.CITIZEN_ID in qr_kinds:
        return PageClass(PageKind.ID_COPY, 0.99, evidence="citizen-ID QR")
    id_title = _title_score(lines, catalogue.id_card.titles)
    if id_title >= TITLE_MATCH:
        return PageClass(PageKind.ID_COPY, id_title / 100.0, evidence="ID card title")
    if blank and not barcodes:
        return PageClass(PageKind.BLANK, 0.95, evidence="no ink")
    return PageClass(PageKind.OTHER, 0.5)
