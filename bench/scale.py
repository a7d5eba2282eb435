"""Throughput and memory as the batch grows: time must grow linearly, memory stay flat.

Builds image-only PDFs of N generated degraded pages (default 50, 100, 200; A4 at 200 dpi),
runs `sohoa process` on each, and samples the resident memory of the whole process tree
(sohoa, the Prefect server when it runs on Prefect, Tesseract and poppler children) every 0.1 s with
psutil. Prints wall time, pages/minute, seconds/page and peak tree RSS per size.

    .venv/bin/python bench/scale.py [--sizes 50,100,200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402


def tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    process = psutil.Process(child.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(process))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    child.wait()
    stop.set()
    sampler.join()
    return time.perf_counter() - started, peak, child.returncode


def make_pdf(pages: int, path: Path) -> None:
    # Generating a page costs ~0.3 s; reuse a pool of 24 distinct pages to build big files.
    pool = synth.mixed_degraded_pages(min(pages, 24))
    synth.save_pdf([pool[i % len(pool)] for i in range(pages)], path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,100,200")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'pages':>6} {'wall s':>8} {'pages/min':>10} {'s/page':>7} {'peak RSS MB':>12}  exit")
    with tempfile.TemporaryDirectory(prefix="sohoa-scale-") as tmp:
        for size in sizes:
            pdf = Path(tmp) / f"{size}.pdf"
            make_pdf(size, pdf)
            env = {**os.environ, "SOHOA_DATA_DIR": str(Path(tmp) / f"data-{size}")}
            wall, peak, code = run_measured(
                [str(REPO / ".venv" / "bin" / "sohoa"), "process", str(pdf)], env
            )
            print(
                f"{size:>6} {wall:8.1f} {size / wall * 60:10.1f} {wall / size:7.2f} "
                f"{peak / 1e6:12.0f}  {code}"
            )


if __name__ == "__main__":
    main()
