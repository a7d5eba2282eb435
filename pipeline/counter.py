"""The counter's verdict on a dossier, while the citizen waits: is it complete, is every page
legible, and if not, what exactly the clerk must do now.

A plain function of the dossier as recorded (``DossierInfo``) and the procedure catalogue:
no store, no words. It gives codes and numbers; ``app.counter_words`` puts them in the
clerk's language. It answers, in this order of urgency:

- the file could not be taken in (damaged, cut off): send it again;
- a page must be scanned again (not colour, under 200 dpi, cut off at an edge, too blurred
  to read) or a paper the procedure requires is not among the pages: act before the citizen
  leaves;
- the procedure is not known: the papers could not be checked;
- complete (a field an operator must still check, conflicting papers or handwriting, is
  named with it: no reason to hold the citizen).

What it does not know it says: an unknown procedure's papers are not checked ("unknown"),
never guessed; a paper no page kind recognises (a health certificate) is listed for the clerk
to check by eye, never reported found or missing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from config.catalogue import Catalogue, PaperSpec
from models import DossierInfo, DossierStatus, PageInfo
from pipeline.reasons import parse_reason

__all__ = [
    "CounterProblem",
    "CounterVerdict",
    "PaperFound",
    "ProblemCode",
    "Verdict",
    "counter_verdict",
]


class Verdict(StrEnum):
    PROCESSING = "processing"  # not every page has been read yet
    FAILED = "failed"  # the file was not taken in: send it again
    DUPLICATE = "duplicate"  # the same bytes were already received
    INCOMPLETE = "incomplete"  # rescan a page or bring a missing paper, now
    CHECK = "check"  # taken in, but its papers could not be checked (procedure unknown)
    COMPLETE = "complete"  # every required paper there and legible (fields may await a person)


class ProblemCode(StrEnum):
    COLOUR = "colour"  # not a colour scan where colour is required
    LOW_DPI = "low_dpi"  # under the 200 dpi the archive requires
    CUT_OFF = "cut_off"  # text runs off an edge: part of the paper was not scanned
    BLURRED = "blurred"  # the machine could hardly read it
    BLANK = "blank"  # an empty page (a blank back, or the wrong side scanned)
    TURNED = "turned"  # upside down or sideways; turned upright by sohoa
    MISSING_PAPER = "missing_paper"  # a required paper is on no page
    PROCEDURE_UNKNOWN = "procedure_unknown"  # no paper names a procedure of the catalogue
    FIELD = "field"  # a field a person must check


class Severity(StrEnum):
    RESCAN = "rescan"  # the clerk acts before the citizen leaves
    CHECK = "check"  # an operator checks later; the dossier is taken in
    NOTE = "note"  # done by sohoa, said so the clerk knows


_SEVERITY = {
    ProblemCode.COLOUR: Severity.RESCAN,
    ProblemCode.LOW_DPI: Severity.RESCAN,
    ProblemCode.CUT_OFF: Severity.RESCAN,
    ProblemCode.BLURRED: Severity.RESCAN,
    ProblemCode.MISSING_PAPER: Severity.RESCAN,
    ProblemCode.BLANK: Severity.NOTE,
    ProblemCode.TURNED: Severity.NOTE,
    ProblemCode.PROCEDURE_UNKNOWN: Severity.CHECK,
    ProblemCode.FIELD: Severity.CHECK,
}

# Mean word confidence under which a page is too blurred to trust (0-100). Clean scans read
# at 85-96; the blurred handheld photo of bench/real_vn at 52; handwritten forms 70-85.
BLURRED_CONFIDENCE = 45.0
# Pages whose warnings these texts start or hold come from pipeline.page / pipeline.edges.
_COLOUR = "colour is required"
_LOW_DPI = re.compile(r"under the \d{2,4} dpi required")
_SCANNED_AT = re.compile(r"scanned at (?:about )?(\d{1,4}) dpi")
_CUT_OFF = re.compile(r"text runs off the (left|right|top|bottom) edge")
_MODE = re.compile(r"scan is (.{1,40}?), colour is required")


@dataclass(frozen=True)
class CounterProblem:
    code: ProblemCode
    page: int | None = None  # 1-based page of the dossier
    detail: str = ""  # the edge, the dpi, the colour mode, the paper's name, the field
    text: str = ""  # a sentence already in the reader's language (a review reason)

    @property
    def severity(self) -> Severity:
        return _SEVERITY[self.code]

    def to_json(self) -> dict[str, object]:
        return {
            "code": str(self.code),
            "severity": str(self.severity),
            "page": self.page,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PaperFound:
    kind: str  # receipt, application_form, id_copy, other
    pages: tuple[int, ...]  # 1-based


@dataclass(frozen=True)
class CounterVerdict:
    verdict: Verdict
    procedure_id: str | None
    procedure_known: bool
    papers: tuple[PaperFound, ...] = ()
    missing: tuple[PaperSpec, ...] = ()
    check_by_eye: tuple[PaperSpec, ...] = ()  # required papers no page kind recognises
    problems: tuple[CounterProblem, ...] = field(default_factory=tuple)
    fields_to_check: tuple[str, ...] = ()
    error: str | None = None  # why the file was not taken in, as recorded

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": str(self.verdict),
            "procedure": self.procedure_id,
            "procedure_known": self.procedure_known,
            "papers": [{"kind": p.kind, "pages": list(p.pages)} for p in self.papers],
            "missing": [_paper_json(p) for p in self.missing],
            "check_by_eye": [_paper_json(p) for p in self.check_by_eye],
            "problems": [p.to_json() for p in self.problems],
            "fields_to_check": list(self.fields_to_check),
        }


def _paper_json(paper: PaperSpec) -> dict[str, object]:
    return {"name": paper.name, "kind": paper.kind, "code": paper.code}


def page_problems(page: PageInfo) -> list[CounterProblem]:
    """What is wrong with one page, or what sohoa mended on it, in the order a clerk acts."""
    number = page.index + 1
    problems: list[CounterProblem] = []
    for warning in page.warnings:
        if _COLOUR in warning:
            mode = _MODE.search(warning)
            problems.append(
                CounterProblem(ProblemCode.COLOUR, number, mode.group(1) if mode else "")
            )
        elif _LOW_DPI.search(warning):
            # The scan's own resolution, as the warning says it (a PDF page is rendered at
            # 150 dpi at least: the page's dpi is the rendering's).
            scanned = _SCANNED_AT.search(warning)
            dpi = scanned.group(1) if scanned else f"{page.dpi:.0f}"
            problems.append(CounterProblem(ProblemCode.LOW_DPI, number, dpi))
        else:
            edge = _CUT_OFF.search(warning)
            if edge:
                problems.append(CounterProblem(ProblemCode.CUT_OFF, number, edge.group(1)))
    blank = page.blank or page.kind == "blank"
    if blank:
        problems.append(CounterProblem(ProblemCode.BLANK, number))
    elif (
        page.text_source == "ocr"
        and page.ocr_confidence is not None
        and page.ocr_confidence < BLURRED_CONFIDENCE
    ):
        problems.append(CounterProblem(ProblemCode.BLURRED, number, f"{page.ocr_confidence:.0f}"))
    if page.rotation % 360:
        problems.append(CounterProblem(ProblemCode.TURNED, number, str(page.rotation % 360)))
    return problems


def papers_found(pages: Sequence[PageInfo]) -> tuple[PaperFound, ...]:
    """The papers among the pages, by kind, in the order they first appear."""
    by_kind: dict[str, list[int]] = {}
    for page in pages:
        if page.blank or page.kind in ("blank", "separator"):
            continue
        by_kind.setdefault(page.kind or "other", []).append(page.index + 1)
    return tuple(PaperFound(kind, tuple(numbers)) for kind, numbers in by_kind.items())


def counter_verdict(info: DossierInfo, catalogue: Catalogue) -> CounterVerdict:
    """The verdict on one dossier as it is recorded now."""
    procedure_id = info.procedure
    procedure = catalogue.procedure(procedure_id) if procedure_id else None
    known = procedure is not None
    if info.status is DossierStatus.FAILED:
        return CounterVerdict(Verdict.FAILED, procedure_id, known, error=info.error)
    if info.status is DossierStatus.DUPLICATE:
        return CounterVerdict(Verdict.DUPLICATE, procedure_id, known)
    if info.status is not DossierStatus.ARCHIVED:
        return CounterVerdict(Verdict.PROCESSING, procedure_id, known)
    papers = papers_found(info.pages)
    kinds = {paper.kind for paper in papers}
    problems: list[CounterProblem] = []
    for page in info.pages:
        problems.extend(page_problems(page))
    missing: tuple[PaperSpec, ...] = ()
    by_eye: tuple[PaperSpec, ...] = ()
    if procedure is None:
        problems.append(CounterProblem(ProblemCode.PROCEDURE_UNKNOWN, detail=procedure_id or ""))
    else:
        missing = tuple(
            p for p in procedure.papers if p.required and p.kind and p.kind not in kinds
        )
        by_eye = tuple(p for p in procedure.papers if p.required and not p.kind)
        problems.extend(
            CounterProblem(ProblemCode.MISSING_PAPER, detail=p.kind or "") for p in missing
        )
    fields: list[str] = []
    for line in info.review_reasons:
        name, code, sentence = parse_reason(line)
        if code is not None and str(code) == "procedure_unknown":
            continue  # said once above, from the recorded procedure
        if name and name not in fields:
            fields.append(name)
            problems.append(CounterProblem(ProblemCode.FIELD, detail=name, text=sentence))
    for detail in info.field_details:
        if detail.needs_review and detail.name not in fields:
            fields.append(detail.name)
            problems.append(CounterProblem(ProblemCode.FIELD, detail=detail.name))
    # The counter's question is whether the papers are all there and legible: a field an
    # operator must still check (OCR misread a typed value, a conflict between papers) is
    # named, but is no reason to hold the citizen. An unknown procedure is: its papers could
    # not be checked at all.
    if any(problem.severity is Severity.RESCAN for problem in problems):
        verdict = Verdict.INCOMPLETE
    elif procedure is None:
        verdict = Verdict.CHECK
    else:
        verdict = Verdict.COMPLETE
    return CounterVerdict(
        verdict=verdict,
        procedure_id=procedure_id,
        procedure_known=known,
        papers=papers,
        missing=missing,
        check_by_eye=by_eye,
        problems=tuple(problems),
        fields_to_check=tuple(fields),
    )
