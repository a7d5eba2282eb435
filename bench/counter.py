"""The counter's verdict against dossiers with known defects (issue 26): is every defect named
in Vietnamese, how long after the upload, and is there any false alarm on clean dossiers?

The service runs in this process under uvicorn on 127.0.0.1 (a real HTTP server; batches are
processed by the flow's own steps on the service's runner threads, the inline orchestrator,
as ``tests/test_browser.py`` runs it). One counter token; each case of
``tests/counter_defects.py`` is uploaded alone, as the upload page sends it (one multipart
``POST /api/batches`` with the file and the agency; the procedure left to the papers unless
``--choose-procedure``), then ``GET /api/batches/{id}`` is polled the way the page polls it
(at once, then every ``--poll`` seconds, 1 s on the page) until the dossier's verdict is no
longer "processing" (so the seconds are when the page would show it, to within a poll;
``--poll 0.1`` for the service's own time). A damaged file is refused by the upload itself
(422): its time is the refusal's.

For each case it prints the seconds from the start of the upload to the verdict, the
verdict, the problem codes (page in brackets), whether every expected defect was named by
its code *and* by its Vietnamese line, and any alarm that should not be there (on a clean
dossier any rescan, or an unknown procedure; on a blank-page dossier any rescan; on a real
letter cut_off or blurred). Then one summary line; exit 1 if any expectation failed or any
generated dossier took longer than ``--limit`` seconds.

Before the cases one clean dossier is uploaded and not counted (``--no-warmup`` to skip):
the service at a counter is long-running, and the first page of a fresh process loads the
OCR models.

    PYTHONPATH=. .venv/bin/python bench/counter.py [--real] [--json] [--only cut_off ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from app.i18n import load_messages  # noqa: E402
from pipeline.counter import ProblemCode  # noqa: E402
from tests.counter_defects import (  # noqa: E402
    DefectCase,
    cut_off_sweep,
    defect_cases,
    real_pages,
)

DEFAULT_AGENCY = "000.00.00.H49"
LIMIT_S = 10.0
DAMAGED_WORDS = "tệp bị cắt cụt"
_UNIT = re.compile(r"^(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-")


def marker(code: ProblemCode, page: int | None) -> tuple[str, str]:
    """What the clerk's line for ``code`` says whatever its values: it starts "Trang {page}:"
    when the catalogue's sentence names a page, and ends with the sentence's words after its
    last placeholder ("... — quét lại bằng màu")."""
    template = load_messages("vi").sections["counter"][str(code)]
    head = f"Trang {page}:" if page is not None and template.startswith("Trang {page}") else ""
    return head, template.rsplit("}", 1)[-1]


@dataclass
class Outcome:
    case: DefectCase
    seconds: float
    status: int  # of the upload
    verdict: str = ""
    codes: list[str] = field(default_factory=list)  # "code[page]"
    lines: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # expected but not named (code or words)
    unexpected: list[str] = field(default_factory=list)  # alarms that must not be there
    wrong_verdict: str = ""
    dossiers: int = 1
    refusal: str = ""
    slow: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.wrong_verdict or self.slow)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case.name,
            "defect": self.case.defect,
            "pages": self.case.pages,
            "seconds": round(self.seconds, 2),
            "upload_status": self.status,
            "verdict": self.verdict,
            "codes": self.codes,
            "lines": self.lines,
            "expected": sorted(map(str, self.case.expected)),
            "missing": self.missing,
            "unexpected": self.unexpected,
            "wrong_verdict": self.wrong_verdict,
            "dossiers": self.dossiers,
            "refusal": self.refusal,
            "slow": self.slow,
            "notes": list(self.case.notes),
            "ok": self.ok,
        }


def _agency(case: DefectCase) -> str:
    found = _UNIT.match(case.dossier_code or "")
    return found.group(1) if found else DEFAULT_AGENCY


def upload_and_wait(
    client: httpx.Client,
    token: str,
    case: DefectCase,
    *,
    poll_s: float,
    choose_procedure: bool,
    timeout_s: float = 300.0,
) -> Outcome:
    form = {"agency": _agency(case)}
    if choose_procedure and case.procedure:
        form["procedure"] = case.procedure
    headers = {"Authorization": f"Bearer {token}"}
    data = case.path.read_bytes()
    started = time.perf_counter()
    answer = client.post(
        "/api/batches",
        headers=headers,
        files=[("files", (case.path.name, data, "application/octet-stream"))],
        data=form,
    )
    if answer.status_code != 202:
        outcome = Outcome(case, time.perf_counter() - started, answer.status_code, "refused")
        body = answer.json() if answer.headers.get("content-type", "").startswith("app") else {}
        shown = [f.get("shown", "") for f in body.get("files", [])]
        outcome.refusal = " | ".join(shown) or answer.text[:200]
        return _judge(outcome, [])
    batch_id = answer.json()["batch_id"]
    deadline = started + timeout_s
    while True:
        batch = client.get(f"/api/batches/{batch_id}", headers=headers).json()
        verdicts = [d.get("verdict") or {} for d in batch["dossiers"]]
        if verdicts and all(v.get("verdict", "processing") != "processing" for v in verdicts):
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"{case.name}: no verdict after {timeout_s:.0f} s")
        time.sleep(poll_s)
    outcome = Outcome(case, time.perf_counter() - started, answer.status_code)
    outcome.dossiers = len(verdicts)
    outcome.verdict = ",".join(v["verdict"] for v in verdicts)
    return _judge(outcome, verdicts)


def _judge(outcome: Outcome, verdicts: list[dict[str, Any]]) -> Outcome:
    case = outcome.case
    problems = [p for v in verdicts for p in v.get("problems", [])]
    lines = [line["text"] for v in verdicts for line in v.get("lines", [])]
    outcome.codes = [
        f"{p['code']}[{p['page']}]" if p.get("page") else str(p["code"]) for p in problems
    ]
    outcome.lines = lines
    if case.refused:
        if outcome.status != 422 or DAMAGED_WORDS not in outcome.refusal:
            outcome.missing.append(f"refusal with '{DAMAGED_WORDS}' (got {outcome.status})")
        return outcome
    if outcome.status != 202:
        outcome.missing.append(f"upload answered {outcome.status}: {outcome.refusal}")
        return outcome
    for code in sorted(case.expected):
        page = case.page if code is not ProblemCode.MISSING_PAPER else None
        named = [p for p in problems if p["code"] == str(code)]
        if page is not None:
            named = [p for p in named if p.get("page") == page]
        if not named:
            outcome.missing.append(f"{code}" + (f"[{page}]" if page else ""))
            continue
        head, tail = marker(code, page)
        if not any(tail in line and line.startswith(head) for line in lines):
            outcome.missing.append(f"{code} words ('{head}…{tail.strip()}')")
    for problem in problems:
        if ProblemCode(problem["code"]) in case.forbidden:
            label = problem["code"] + (f"[{problem['page']}]" if problem.get("page") else "")
            outcome.unexpected.append(
                label + (f" {problem['detail']}" if problem["detail"] else "")
            )
    if case.verdict is not None and outcome.verdict != str(case.verdict):
        outcome.wrong_verdict = f"{outcome.verdict} (expected {case.verdict})"
    if outcome.dossiers != 1:
        outcome.wrong_verdict += f" {outcome.dossiers} dossiers from one file"
    return outcome


def run(args: argparse.Namespace) -> list[Outcome]:
    from app.runner import BatchRunner
    from app.service import create_app
    from config import Settings
    from flows import runtime
    from flows.runtime import metadata_store
    from models import Role
    from tests.service_support import live_server, run_steps

    with tempfile.TemporaryDirectory(prefix="sohoa-counter-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        cases = defect_cases(root / "files", seed=args.seed, only=args.only, clean=args.clean)
        if args.cut_sweep:
            cases += cut_off_sweep(root / "cut-sweep")
        if args.real:
            cases += real_pages()
        warmup = [] if args.no_warmup else defect_cases(root / "warmup", seed=9, only=["clean"])
        runtime.reset()
        settings = Settings(data_dir=root / "data", workers=args.workers)
        runner = BatchRunner(settings, run=run_steps)
        stack.callback(runtime.reset)
        stack.callback(runner.shutdown, wait=True)
        base_url = stack.enter_context(live_server(create_app(settings, runner=runner)))
        _info, token = metadata_store(settings).create_token(
            name="Quầy thử", role=Role.COUNTER, counter_id="BENCH-01"
        )
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=120))
        for case in warmup[:1]:
            done = upload_and_wait(
                client, token, case, poll_s=args.poll, choose_procedure=args.choose_procedure
            )
            if not args.json:
                print(f"(warm-up {case.name}: {done.seconds:.1f} s, not counted)", flush=True)
        outcomes = []
        for case in cases:
            outcome = upload_and_wait(
                client, token, case, poll_s=args.poll, choose_procedure=args.choose_procedure
            )
            outcome.slow = case.defect != "real" and outcome.seconds > args.limit
            outcomes.append(outcome)
            if not args.json:
                _print(outcome)
        return outcomes


def _print(o: Outcome) -> None:
    expected = ",".join(sorted(map(str, o.case.expected))) or "-"
    named = "yes" if not o.missing else "NO: " + "; ".join(o.missing)
    alarm = "none" if not o.unexpected else "YES: " + ", ".join(o.unexpected)
    print(
        f"{o.case.name:<28} {o.case.pages}p {o.seconds:6.2f} s  {o.verdict or '-':<10} "
        f"codes={','.join(o.codes) or '-'}  expected={expected}  named={named}  "
        f"false_alarm={alarm}"
        + (f"  VERDICT {o.wrong_verdict}" if o.wrong_verdict else "")
        + ("  SLOW" if o.slow else ""),
        flush=True,
    )
    if o.refusal:
        print(f"{'':<28} refused: {o.refusal}")
    if o.case.notes and o.case.defect != "real":
        print(f"{'':<28} ({'; '.join(o.case.notes)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="also the real letters (real_vn)")
    parser.add_argument(
        "--cut-sweep", action="store_true", help="also 12 cut_off cases (6 sheets, pages 1-2)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="defects to run (clean, cut_off…)")
    parser.add_argument("--json", action="store_true", help="one JSON report on stdout")
    parser.add_argument("--seed", type=int, default=2600)
    parser.add_argument("--clean", type=int, default=2, help="clean dossiers (lltp, doi-gplx…)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls (page: 1)")
    parser.add_argument("--limit", type=float, default=LIMIT_S, help="seconds allowed per dossier")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--choose-procedure", action="store_true", help="send the procedure too")
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args()
    started_load = os.getloadavg()
    outcomes = run(args)
    generated = [o for o in outcomes if o.case.defect != "real"]
    worst = max((o.seconds for o in generated), default=0.0)
    failed = [o.case.name for o in outcomes if not o.ok]
    clean = [o for o in outcomes if o.case.defect == "clean"]
    false_alarms = sum(1 for o in clean if o.unexpected)
    summary = {
        "cases": len(outcomes),
        "generated": len(generated),
        "real": len(outcomes) - len(generated),
        "max_seconds_generated": round(worst, 2),
        "limit_seconds": args.limit,
        "defects_named": sum(1 for o in generated if o.case.defect != "clean" and not o.missing),
        "defect_cases": sum(1 for o in generated if o.case.defect != "clean"),
        "clean_with_false_alarm": false_alarms,
        "clean": len(clean),
        "failed": failed,
        "load_before": [round(v, 2) for v in started_load],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
        "workers": args.workers,
    }
    real = f" + {summary['real']} real" if summary["real"] else ""
    if args.json:
        print(json.dumps({"summary": summary, "cases": [o.to_json() for o in outcomes]}, indent=1))
    else:
        print(
            f"SUMMARY: {summary['defects_named']}/{summary['defect_cases']} defect dossiers "
            f"named; {false_alarms}/{len(clean)} clean dossiers with a false alarm; "
            f"max {worst:.2f} s (limit {args.limit:.0f} s) over {len(generated)} generated"
            f"{real}; "
            f"load {summary['load_before'][0]:.2f} before, {summary['load_after'][0]:.2f} after "
            f"on {summary['cpus']} cpus; "
            + ("ALL OK" if not failed else f"FAILED: {', '.join(failed)}")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
