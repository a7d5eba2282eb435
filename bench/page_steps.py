"""Where one page's time goes: each page step timed, on the speed set of bench/ocr.py.

Runs ``pipeline.page.process_page`` in this process (engines loaded once, one page at a
time, one thread) over ``synth.mixed_degraded_pages(N, dpi=200)`` saved as the same JPEG
files bench/ocr.py gives bare Tesseract, and prints per step: pages it ran on, total and
mean seconds; then the OSD calls (orientation detection) and bare ``tesseract`` on the
same files for the floor. Figures are one thread's; noisy on a busy machine.

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/page_steps.py [--pages 12]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import tesseract  # noqa: E402
from pipeline.context import PageContext  # noqa: E402
from pipeline.load import inspect_source  # noqa: E402
from pipeline.page import PAGE_STEPS, PageJob, PageStep, process_page  # noqa: E402
from tests import synth  # noqa: E402


class Timed:
    """A page step that adds its run time to ``totals``."""

    def __init__(self, step: PageStep, totals: dict[str, list[float]]) -> None:
        self.step = step
        self.name = getattr(step, "name", type(step).__name__)
        self.totals = totals

    def able_to_run(self, job: PageJob) -> bool:
        return self.step.able_to_run(job)

    def run(self, job: PageJob) -> None:
        began = time.perf_counter()
        try:
            self.step.run(job)
        finally:
            self.totals[self.name].append(time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    totals: dict[str, list[float]] = defaultdict(list)
    steps = tuple(Timed(step, totals) for step in PAGE_STEPS)
    osd_calls: list[float] = []
    real_detect = tesseract.detect_rotation

    def counted_detect(*a: object, **k: object) -> tuple[int, float] | None:
        began = time.perf_counter()
        try:
            return real_detect(*a, **k)  # type: ignore[arg-type]
        finally:
            osd_calls.append(time.perf_counter() - began)

    tesseract.detect_rotation = counted_detect  # type: ignore[assignment]
    tesseract.preload("vie", 1)
    with tempfile.TemporaryDirectory(prefix="sohoa-bench-steps-") as tmp:
        root = Path(tmp)
        pages = synth.mixed_degraded_pages(args.pages, dpi=200)
        files = []
        for index, page in enumerate(pages):
            path = root / f"page-{index:03d}.jpg"
            page.image.convert("RGB").save(path, quality=85, dpi=(page.dpi, page.dpi))
            files.append(path)
        walls = []
        for index, path in enumerate(files):
            source = inspect_source(path)
            context = PageContext(source_name=path.name, page_index=0)
            began = time.perf_counter()
            process_page(source, context, root / f"work-{index}", steps=steps)
            walls.append(time.perf_counter() - began)
        bare = []
        for path in files:
            began = time.perf_counter()
            subprocess.run(
                ["tesseract", str(path), str(root / "bare"), "-l", "vie", "pdf"],
                capture_output=True,
                check=True,
            )
            bare.append(time.perf_counter() - began)
    n = len(files)
    print(f"{n} pages (synth.mixed_degraded_pages, 200 dpi), one thread, steady engines")
    print(f"  {'step':<16} {'pages':>5} {'total s':>8} {'mean s':>7}")
    for name, times in totals.items():
        print(f"  {name:<16} {len(times):>5} {sum(times):>8.2f} {sum(times) / len(times):>7.2f}")
    print(f"  of which OSD     {len(osd_calls):>5} {sum(osd_calls):>8.2f}")
    print(f"  process_page     {n:>5} {sum(walls):>8.2f} {sum(walls) / n:>7.2f}")
    print(f"  bare tesseract   {n:>5} {sum(bare):>8.2f} {sum(bare) / n:>7.2f}  (a process a page)")


if __name__ == "__main__":
    main()
