"""The never-worse guard on the real pages: both readings of every page, side by side.

For every page of bench/real_vn (or ``--only`` some), the page is loaded and cleaned as
sohoa does it, then read twice: Tesseract on the cleaned page (sohoa's first reading) and
Tesseract on the untouched scan (what the guard compares it with). For each reading the
table shows the figures the guard has without any truth (words, mean confidence, share of
valid syllables, score) and, beside them, the CER against the hand-made truth; then what
the guard (pipeline/guard.py) would keep, whether it reads the untouched scan at all on
that page (``why``), and whether its choice was the better reading.

This reads the OCR text itself, not the archived PDF (bench/real_vn.py does that), so the
two readings are compared on equal terms.

    .venv/bin/python bench/guard.py [--only ID ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import real_vn  # noqa: E402
from models.pagerecord import ReadingFigures  # noqa: E402
from pipeline.context import PageContext  # noqa: E402
from pipeline.guard import KEPT_UNTOUCHED, choose, reading_figures, why_suspect  # noqa: E402
from pipeline.load import inspect_source  # noqa: E402
from pipeline.page import (  # noqa: E402
    CleanStep,
    ExistingTextStep,
    LoadStep,
    OcrStep,
    PageJob,
    read_untouched,
)


def _shown(figures: ReadingFigures, rate: float) -> str:
    syllables = "-" if figures.syllable_rate is None else f"{figures.syllable_rate * 100:.0f}"
    return (
        f"{figures.words:>5}{figures.mean_confidence:>6.1f}{syllables:>5}{figures.score:>8.1f}"
        f"{rate * 100:>7.1f}"
    )


def run(pages: list[real_vn.RealPage]) -> None:
    print(
        f"{'page':<26}{'cleaned: words conf syl score CER':>37}"
        f"{'untouched: words conf syl score CER':>39}  guard"
    )
    right = judged = 0
    with tempfile.TemporaryDirectory(prefix="sohoa-guard-") as tmp:
        work = Path(tmp)
        for page in pages:
            path = real_vn.materialise(page)
            context = PageContext(source_name=path.name, page_index=0)
            job = PageJob(source=inspect_source(path), context=context, work_dir=work)
            for step in (LoadStep(), ExistingTextStep(), CleanStep(), OcrStep()):
                if step.able_to_run(job):
                    step.run(job)
            if job.ocr is None or job.cleaned is None:
                print(f"{page.id:<26}  kept its own text layer: not read")
                continue
            stamps = real_vn.stamp_lines(path, work)
            lang = context.lang
            first = reading_figures(job.ocr, lang)
            first_cer = real_vn.cer(page.truth, real_vn.without(stamps, job.ocr.text))
            _image, bare = read_untouched(job)
            second = reading_figures(bare, lang)
            bare_cer = real_vn.cer(page.truth, real_vn.without(stamps, bare.text))
            why = why_suspect(job.ocr, lang, faded_ink=job.cleaned.faded_ink)
            decision = choose(first, second if why else None, why or "-")
            chosen = bare_cer if decision.kept == KEPT_UNTOUCHED else first_cer
            judged += 1
            right += chosen <= min(first_cer, bare_cer) + 0.005
            verdict = "ok" if chosen <= bare_cer + 0.005 else "WORSE than untouched"
            print(
                f"{page.id:<26}{_shown(first, first_cer):>37}{_shown(second, bare_cer):>39}"
                f"  {decision.kept} ({why or 'not read'}): {verdict}"
            )
    print(f"the guard kept the better reading (within 0.5 points) on {right} of {judged} pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="page ids to run")
    args = parser.parse_args()
    pages = [p for p in real_vn.load_corpus() if p.truth_path.is_file()]
    if args.only:
        pages = [p for p in pages if p.id in args.only]
    run(pages)


if __name__ == "__main__":
    main()
