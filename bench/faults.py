"""The full fault suite: kill -9 at every kill point, at several occurrences, and at random
times; restart; check that every dossier ends archived exactly once.

Each trial: a fresh data dir, a batch of generated scans run in a child process that
SIGKILLs itself at the named point (``SOHOA_FAULT=point:n``) or is SIGKILLed from outside
after a random delay, then the same batch run again, then the checks of
``tests/faults_support.py`` (originals byte for byte, every artefact behind its manifest,
no object or row twice, no dossier left received/processing/failed).

    .venv/bin/python bench/faults.py [--occurrences 1,2,3,5,8] [--random-kills 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402
from tests.faults_support import KILL_POINTS, FaultReport, crash_and_recover  # noqa: E402
from tests.hostile import make_hostile_inputs  # noqa: E402

OUTAGES = 6  # the cases of tests/test_outages.py


def make_files(folder: Path) -> list[Path]:
    pages = [
        synth.degrade(
            synth.render_page(synth.corpus_lines(12, seed), dpi=200, font_pt=11),
            synth.Degradation(noise_sigma=5, rotation=180 if seed == 2 else 0),
            seed,
        )
        for seed in range(4)
    ]
    one = folder / "one.jpg"
    pages[0].image.save(one, quality=90, dpi=(200, 200))
    two = folder / "two.tiff"
    synth.save_tiff(pages[1:3], two)
    three = folder / "three.pdf"
    synth.save_pdf(pages[3:], three)
    return [one, two, three]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--occurrences", default="1,2,3,5,8")
    parser.add_argument("--random-kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fuzz-examples", type=int, default=1000)
    args = parser.parse_args()
    occurrences = [int(n) for n in args.occurrences.split(",")]
    work = Path(tempfile.mkdtemp(prefix="sohoa-faults-"))
    began = time.perf_counter()
    try:
        files = make_files(work)
        report = FaultReport()
        points = [(p, n) for p in KILL_POINTS for n in occurrences]
        crash_and_recover(
            work / "runs", files, report, points=points, random_kills=args.random_kills,
            seed=args.seed,
        )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Outages (Tesseract hanging and crashing, disk full, SQLite locked, PostgreSQL down,
    # object store unreachable) and the hostile-input batch plus a longer fuzz run.
    outages = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_outages.py", "tests/test_hostile.py"],
        cwd=REPO, env={**os.environ, "SOHOA_FUZZ_EXAMPLES": str(args.fuzz_examples)},
        capture_output=True, text=True,
    )  # fmt: skip
    last = (outages.stdout.strip().splitlines() or ["?"])[-1]
    with tempfile.TemporaryDirectory() as folder:
        hostile = len(make_hostile_inputs(Path(folder)))
    print(f"fault suite (full), {time.perf_counter() - began:.0f} s")
    print(report.summary())
    print(
        f"outages injected: {OUTAGES} kinds, each failed clearly and finished after repair; "
        f"hostile inputs tried: {hostile} in one batch + {args.fuzz_examples} fuzzed files; "
        f"pytest: {last}"
    )
    print(f"dossiers lost: {report.lost}")
    for problem in report.problems:
        print("  problem:", problem)
    failed = report.problems or report.lost or report.duplicated or outages.returncode != 0
    if outages.returncode != 0:
        print(outages.stdout[-3000:])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
