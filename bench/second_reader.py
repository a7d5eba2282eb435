"""The second reader: Tesseract alone, the neural line reader alone, and the combination.

Every page goes through sohoa's page pipeline (load, clean, Tesseract, ...) three times, in
one process, one page at a time:

* **tesseract**: the pipeline without the neural step;
* **neural**: every line Tesseract found re-read by the neural reader, whose text is kept
  wherever it read anything (the reader alone, on Tesseract's line boxes: it has no layout);
* **combined**: the pipeline as shipped (the neural reader on doubtful lines and hard pages,
  the better reading of each line kept).

Sets: the 12 generated degraded pages (tests.synth.mixed_degraded_pages, 200 dpi JPEG as
bench/cer.py makes them), the generated stamped pages (red seal, blue ink) and the real
Vietnamese pages of bench/real_vn with hand-checked truth (those at hand). CER as
tests.synth.char_error_rate; e-signature stamp text is taken out of real PDF pages as
bench/real_vn.py does. Time is per page (the reader's one-off load is taken before).

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/second_reader.py [--sets generated,stamped,real]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from bench import real_vn  # noqa: E402
from pipeline.context import PageContext  # noqa: E402
from pipeline.linereader import shared_reader  # noqa: E402
from pipeline.load import inspect_source  # noqa: E402
from pipeline.page import PAGE_STEPS, NeuralReadingStep, PageStep, process_page  # noqa: E402
from tests import synth  # noqa: E402

TIE_TRIAL = 60.0
WITHOUT_NEURAL = tuple(s for s in PAGE_STEPS if not isinstance(s, NeuralReadingStep))
MODES: dict[str, tuple[PageStep, ...]] = {
    "tesseract": WITHOUT_NEURAL,
    "neural": tuple(
        NeuralReadingStep(every_line=True, always_neural=True)
        if isinstance(s, NeuralReadingStep)
        else s
        for s in PAGE_STEPS
    ),
    "combined": PAGE_STEPS,
    # The tie rule under trial: on equally good Vietnamese, Tesseract's reading stays unless
    # its confidence is under TIE_TRIAL.
    "tie60": tuple(
        NeuralReadingStep(tie_below=TIE_TRIAL) if isinstance(s, NeuralReadingStep) else s
        for s in PAGE_STEPS
    ),
}


@dataclass(frozen=True)
class BenchPage:
    name: str
    path: Path
    truth: str
    drop_lines: frozenset[str] = frozenset()


@dataclass
class Result:
    cer: dict[str, float]
    seconds: dict[str, float]


def generated(work: Path) -> list[BenchPage]:
    pages = []
    for index, page in enumerate(synth.mixed_degraded_pages(12, dpi=200)):
        path = work / f"degraded-{index + 1:02d}.jpg"
        page.image.save(path, "JPEG", quality=85, dpi=(200, 200))
        pages.append(BenchPage(path.name, path, page.text))
    return pages


def stamped(work: Path) -> list[BenchPage]:
    pages = []
    for index, page in enumerate(synth.stamped_pages(6, dpi=200)):
        path = work / f"stamped-{index + 1:02d}.jpg"
        page.image.save(path, "JPEG", quality=90, dpi=(200, 200))
        pages.append(BenchPage(path.name, path, page.text))
    return pages


def real(work: Path) -> list[BenchPage]:
    pages = []
    for entry in real_vn.load_corpus():
        try:
            path = real_vn.materialise(entry)
        except SystemExit as missing:
            print(f"  (skipped {entry.id}: {missing})", file=sys.stderr)
            continue
        stamps = frozenset(real_vn.stamp_lines(path, work))
        pages.append(BenchPage(entry.id, path, entry.truth, stamps))
    return pages


def run_page(page: BenchPage, work: Path) -> Result:
    source = inspect_source(page.path)
    result = Result({}, {})
    for mode, steps in MODES.items():
        out = work / mode / page.name
        started = time.perf_counter()
        texts = []
        for index in range(source.page_count):
            context = PageContext(source_name=page.name, page_index=index, second_reader=True)
            outcome = process_page(source, context, out, steps=steps)
            texts.append(outcome.text_path.read_text(encoding="utf-8"))
        result.seconds[mode] = time.perf_counter() - started
        text = real_vn.without(set(page.drop_lines), "\n".join(texts))
        result.cer[mode] = synth.char_error_rate(page.truth, text)
    return result


def report(title: str, pages: list[BenchPage], work: Path) -> dict[str, float]:
    print(f"\n{title}: {len(pages)} pages")
    print(f"{'page':<30}" + "".join(f"{m:>12}" for m in MODES) + "   seconds per mode")
    results = []
    for page in pages:
        result = run_page(page, work)
        results.append(result)
        cells = "".join(f"{result.cer[m] * 100:>11.2f}%" for m in MODES)
        times = " / ".join(f"{result.seconds[m]:.1f}" for m in MODES)
        print(f"{page.name:<30}{cells}   {times}", flush=True)
    n = len(results)
    means = {m: sum(r.cer[m] for r in results) / n for m in MODES}
    totals = {m: sum(r.seconds[m] for r in results) for m in MODES}
    print(
        f"{'mean CER':<30}"
        + "".join(f"{means[m] * 100:>11.2f}%" for m in MODES)
        + f"   worst combined {max(r.cer['combined'] for r in results) * 100:.2f} %"
    )
    print(
        f"{'seconds per page':<30}"
        + "".join(f"{totals[m] / n:>12.2f}" for m in MODES)
        + f"   combined / tesseract {totals['combined'] / totals['tesseract']:.2f}x"
    )
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="generated,stamped,real")
    args = parser.parse_args()
    chosen = args.sets.split(",")
    loading = time.perf_counter()
    shared_reader()  # loaded once per process in production too; not a page's cost
    print(f"neural reader loaded in {time.perf_counter() - loading:.1f} s")
    with tempfile.TemporaryDirectory(prefix="sohoa-second-reader-") as tmp:
        work = Path(tmp)
        makers = {"generated": generated, "stamped": stamped, "real": real}
        titles = {
            "generated": "generated degraded (goal: combined mean <= 0.3 %, <= 1.3x time)",
            "stamped": "stamped, red seal + blue ink (goal: combined mean <= 1 %)",
            "real": "real Vietnamese pages (goal: combined better than either alone)",
        }
        for name in chosen:
            report(titles[name], makers[name](work), work)


if __name__ == "__main__":
    main()
