"""Tesseract in process (tesserocr, pooled engines) against one subprocess per page.

What it prints, on generated 200 dpi Vietnamese pages (``synth.mixed_degraded_pages``):

1. Same output: the TSV of both paths compared byte for byte on the first pages, and the
   orientation both give for the same page turned 180 and 90 degrees.
2. Speed, one thread: seconds a page for OCR and for orientation detection, each path.
3. Parallel: the same pages read by 1 and 2 threads in process (wall and CPU seconds), and
   how fast a pure-Python loop runs while an engine reads (near 0 % would mean the engine
   holds the GIL; a loaded machine lowers it too, since the loop then shares a core).
4. Memory over ``--pages`` pages (default 200) read in process by ``--threads`` threads:
   the process's resident set every 25 pages and engines loaded. Flat means no leak.

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/tesseract_engine.py [--pages 200] [--threads 2]

About 3 minutes on 2 idle cores (most of it the 200-page run).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import tesseract  # noqa: E402
from tests import synth  # noqa: E402

LANG = "vie"
DPI = 200
DISTINCT_PAGES = 8  # the memory run cycles through these (rendering 200 would take longer)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def read(image: np.ndarray) -> str:
    return tesseract.recognise_tsv(image, lang=LANG, dpi=DPI, timeout_s=180)


def timed(work: list[np.ndarray], threads: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(read, work))
    return time.perf_counter() - wall, time.process_time() - cpu


def python_loop_share(image: np.ndarray) -> float:
    """Loop rate while an engine reads in another thread, over the rate alone."""

    def spin(stop: threading.Event) -> float:
        began, count = time.perf_counter(), 0
        while not stop.is_set():
            count += 1
        return count / (time.perf_counter() - began)

    alone = threading.Event()
    threading.Timer(1.0, alone.set).start()
    base = spin(alone)
    reading = threading.Event()

    def ocr() -> None:
        read(image)
        reading.set()

    threading.Thread(target=ocr).start()
    return spin(reading) / base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare", type=int, default=4, help="pages for checks 1-3")
    args = parser.parse_args()
    api = tesseract.TESSEROCR
    if api is None:
        sys.exit("tesserocr is not installed: nothing to compare (scripts/setup.sh installs it)")
    print(f"tesserocr {api.__version__}; {api.tesseract_version().splitlines()[0]}")
    pages = [
        cv2.cvtColor(np.array(page.image), cv2.COLOR_RGB2GRAY)
        for page in synth.mixed_degraded_pages(DISTINCT_PAGES, dpi=DPI)
    ]
    sample = pages[: args.compare]

    print("\n1. Same output, subprocess vs in process")
    identical = 0
    for image in sample:
        tesseract.TESSEROCR = None
        by_program = read(image)
        tesseract.TESSEROCR = api
        identical += by_program == read(image)
    print(f"  TSV byte-identical on {identical}/{len(sample)} pages")
    for turn, code in ((180, cv2.ROTATE_180), (90, cv2.ROTATE_90_CLOCKWISE)):
        turned = cv2.rotate(sample[0], code)
        tesseract.TESSEROCR = None
        by_program_osd = tesseract.detect_rotation(turned)
        tesseract.TESSEROCR = api
        print(
            f"  page turned {turn}: OSD subprocess {by_program_osd}, "
            f"in process {tesseract.detect_rotation(turned)}"
        )

    print("\n2. One thread, seconds a page")
    for name, module in (("subprocess", None), ("in process", api)):
        tesseract.TESSEROCR = module
        read(sample[0])  # the in-process engine loads once, before the clock
        wall, _cpu = timed(sample, 1)
        began = time.perf_counter()
        for image in sample:
            tesseract.detect_rotation(image)
        osd = (time.perf_counter() - began) / len(sample)
        print(f"  {name:<11} OCR {wall / len(sample):5.2f} s   orientation {osd:5.2f} s")
    tesseract.TESSEROCR = api

    print("\n3. Parallel, in process")
    one, one_cpu = timed(sample, 1)
    two, two_cpu = timed(sample, 2)
    print(f"  1 thread : wall {one:5.1f} s, CPU {one_cpu:5.1f} s")
    print(f"  2 threads: wall {two:5.1f} s, CPU {two_cpu:5.1f} s  (speed-up {one / two:.2f}x)")
    share = python_loop_share(sample[0])
    print(f"  Python loop while an engine reads: {share:.0%} of its rate alone (GIL released)")

    print(f"\n4. Memory, {args.pages} pages in process, {args.threads} threads")
    work = [pages[i % len(pages)] for i in range(args.pages)]
    start_rss = rss_mib()
    print(f"  before: RSS {start_rss:6.0f} MiB, engines loaded {tesseract.POOL.created}")
    began = time.perf_counter()
    done = 0
    step = 25
    with ThreadPoolExecutor(args.threads) as pool:
        for chunk in range(0, len(work), step):
            list(pool.map(read, work[chunk : chunk + step]))
            done += len(work[chunk : chunk + step])
            rate = done / (time.perf_counter() - began) * 60
            print(
                f"  {done:4d} pages: RSS {rss_mib():6.0f} MiB, engines loaded "
                f"{tesseract.POOL.created}, {rate:5.1f} pages/min so far"
            )
    print(f"  growth over the run: {rss_mib() - start_rss:+.0f} MiB")


if __name__ == "__main__":
    main()
