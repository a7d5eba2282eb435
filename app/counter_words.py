"""The counter's verdict in the clerk's words (the catalogue's [counter] section): one
headline and one line per thing to say or do, most urgent first. The codes stay beside the
words in the JSON, so a program keys on them and a person reads the words."""

from __future__ import annotations

from typing import Any

from app.i18n import Messages
from pipeline.counter import CounterProblem, CounterVerdict, ProblemCode, Severity

_ORDER = {Severity.RESCAN: 0, Severity.CHECK: 1, Severity.NOTE: 2}


def _say(words: Messages, key: str, **values: object) -> str:
    return words.sentence("counter", key, **values)


def _problem_line(words: Messages, problem: CounterProblem, verdict: CounterVerdict) -> str:
    code, page = problem.code, problem.page
    if code is ProblemCode.COLOUR:
        mode = {"grey": "mode_grey", "black and white (1-bit)": "mode_bilevel"}.get(
            problem.detail, "mode_other"
        )
        return _say(words, "colour", page=page, mode=_say(words, mode))
    if code is ProblemCode.LOW_DPI:
        return _say(words, "low_dpi", page=page, dpi=problem.detail)
    if code is ProblemCode.CUT_OFF:
        return _say(words, "cut_off", page=page, edge=_say(words, f"edge_{problem.detail}"))
    if code is ProblemCode.MISSING_PAPER:
        paper = next((p.name for p in verdict.missing if p.kind == problem.detail), "")
        return _say(words, "missing_paper", paper=paper or words.kind(problem.detail))
    if code is ProblemCode.FIELD:
        if problem.text:
            return _say(
                words, "field_reason", field=words.field(problem.detail), reason=problem.text
            )
        return _say(words, "field", field=words.field(problem.detail))
    if code is ProblemCode.PROCEDURE_UNKNOWN:
        return _say(words, "procedure_unknown")
    return _say(words, str(code), page=page)  # blurred, blank, turned


def verdict_view(verdict: CounterVerdict, words: Messages, *, file: str = "") -> dict[str, Any]:
    """The verdict's JSON (codes) with its words: ``headline`` and ``lines`` (each with the
    severity a page styles it by: rescan, check or note)."""
    lines: list[dict[str, str]] = []
    if verdict.error:
        lines.append({"severity": "rescan", "text": words.error(verdict.error, file=file or None)})
    for problem in sorted(verdict.problems, key=lambda p: _ORDER[p.severity]):
        lines.append(
            {"severity": str(problem.severity), "text": _problem_line(words, problem, verdict)}
        )
    if verdict.check_by_eye:
        names = ", ".join(p.name for p in verdict.check_by_eye)
        lines.append({"severity": "note", "text": _say(words, "check_by_eye", papers=names)})
    found = ""
    if verdict.papers:
        found = _say(
            words,
            "papers_found",
            papers="; ".join(
                _say(
                    words,
                    "paper_pages",
                    paper=words.kind(p.kind),
                    pages=", ".join(map(str, p.pages)),
                )
                for p in verdict.papers
            ),
        )
    elif verdict.verdict not in ("processing", "failed", "duplicate"):
        found = _say(words, "no_papers")
    headline = f"verdict_{verdict.verdict}"
    if verdict.verdict == "complete" and verdict.fields_to_check:
        headline = "verdict_complete_fields"
    return {
        **verdict.to_json(),
        "headline": _say(words, headline),
        "found": found,
        "lines": lines,
    }


def verdict_text_lines(view: dict[str, Any]) -> list[str]:
    """The verdict as plain lines (the CLI's report): headline, papers found, each line."""
    lines = [view["headline"], view["found"], *(line["text"] for line in view["lines"])]
    return [line for line in lines if line]
