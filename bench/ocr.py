"""sohoa against OCRmyPDF on the same generated degraded Vietnamese scans, in one run.

What it does
------------
1. Generates a test set with ground truth from ``tests/synth.py``: for each named degradation
   LEVEL (clean, noise, skew, blur, jpeg, borders+light, upside-down, sideways, mixed-heavy)
   ``--pages-per-level`` pages of Vietnamese administrative text, cycling through every font
   with Vietnamese glyphs found (DejaVu/Liberation/Noto, sans and serif), 10-14 pt, and
   alternating 200 and 300 dpi within a level. Each level is one image-only PDF (one JPEG per
   page at the page's own dpi, as a scanner writes it: pages saved with ``synth.save_pdf``,
   joined with pikepdf).
2. sohoa: ``SOHOA_DATA_DIR=<set up> sohoa process --json --output-dir OUT LEVEL1.pdf ...``
   (one batch, one dossier per level file, as a counter clerk would submit them; each
   archived dossier's PDF written to OUT, checked against the archive's manifest, as
   ``sohoa get ID --pdf`` would give it). Wall time = that one command.
   ``--orchestrator`` sets SOHOA_ORCHESTRATOR: ``auto`` (default) runs inline (no Prefect)
   unless ``PREFECT_API_URL`` is set; ``prefect`` with no ``PREFECT_API_URL`` includes
   Prefect's temporary server start (about 10 s, once per ``sohoa process``).
3. OCRmyPDF, from its own venv ``bench/.venv-ocrmypdf`` (``bench/setup_ocrmypdf.sh`` creates it
   when the binary is missing; it is never installed into the product's ``.venv``):
   ``ocrmypdf -l vie --rotate-pages --deskew --clean --jobs 2 LEVEL.pdf out.pdf``, one call per
   level file (it takes one input). Output type is OCRmyPDF's default (``auto``: best-effort
   PDF/A-2b through its internal pikepdf backend, Ghostscript only if the validator rejects
   the file), so both tools produce an archival PDF; pass ``--ocrmypdf-arg=--output-type=pdf``
   to drop that step. Both tools call the same system Tesseract and ``vie`` model.
4. Reads each output PDF's text layer back with ``pdftotext -enc UTF-8``, splits pages on form
   feeds and scores each page with ``synth.char_error_rate`` (Levenshtein distance / reference
   length, NFC, whitespace collapsed). A page whose output is missing scores 1.0 (100 %).
5. ``--speed-pages N`` (default 12, 0 = skip): a separate timing run on one N-page PDF
   (``synth.mixed_degraded_pages``, 200 dpi, the set ``bench/cer.py`` uses), in one run:
   sohoa; bare Tesseract over the same page images (JPEG files at 200 dpi, quality 85, as in
   the PDF), ``tesseract IMG OUT -l vie pdf`` as many at once as sohoa has workers (the
   floor: the engine alone on the untouched images); OCRmyPDF with ``--clean`` and without
   it. Prints wall times, pages/minute, CER and each time over sohoa's; and the engine
   alone, warm: the same Tesseract reading of the same images in one process with its
   engines loaded first (no process start-up, no output file), the part of the floor no
   pipeline using this engine can skip.
6. ``--one-page`` (on unless ``--speed-pages 0``): ``sohoa process`` of a single 200 dpi scan
   (a new one each run, into one data dir set up beforehand), ``--one-page-runs`` times
   (default 3; the first warms the caches, the rest are the steady state, their median
   reported) against bare ``tesseract`` on the same file.

Peak memory: a thread polls ``/proc`` every 0.1 s while a command runs, finds the process and
all its descendants (ppid links), and sums their resident set sizes (``/proc/PID/stat`` rss
field). Both tools spawn children (Tesseract, unpaper, Ghostscript, Prefect's server, worker
processes), so the tree sum is the figure that matters; the largest single process is also
reported. RSS sums count shared pages (libraries) once per process, so they overstate the
physical memory a little; processes living under 0.1 s can be missed. psutil is not a product
dependency, hence plain ``/proc`` (Linux only).

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/ocr.py [--pages-per-level 3]
        [--levels clean,skew] [--skip-ocrmypdf] [--skip-accuracy] [--speed-pages 12]
        [--one-page-runs 3] [--orchestrator auto|inline|prefect] [--json figures.json]
        [--workdir DIR]

Speed figures only (about 4 minutes on 2 idle cores):
    OMP_THREAD_LIMIT=1 .venv/bin/python bench/ocr.py --skip-accuracy
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pikepdf

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402
from tests.synth import Degradation  # noqa: E402

SOHOA = REPO / ".venv" / "bin" / "sohoa"
OCRMYPDF = BENCH / ".venv-ocrmypdf" / "bin" / "ocrmypdf"
SETUP_OCRMYPDF = BENCH / "setup_ocrmypdf.sh"
OCRMYPDF_ARGS = ["-l", "vie", "--rotate-pages", "--deskew", "--clean", "--jobs", "2"]

FONT_SIZES = (10, 11, 12, 13, 14)
DPIS = (200, 300)
LINES_PER_PAGE = 16

# Each level cycles through its degradations page by page.
LEVELS: dict[str, tuple[Degradation, ...]] = {
    "clean": (Degradation(),),
    "noise": (
        Degradation(noise_sigma=12, background=235),
        Degradation(noise_sigma=18),
        Degradation(noise_sigma=14, speckles=400),
    ),
    "skew": (
        Degradation(skew_deg=3, noise_sigma=4),
        Degradation(skew_deg=-5, noise_sigma=4),
        Degradation(skew_deg=7.5, noise_sigma=4),
        Degradation(skew_deg=-1.5, noise_sigma=4),
    ),
    "blur": (
        Degradation(blur_sigma=1.0, noise_sigma=4),
        Degradation(blur_sigma=1.4, noise_sigma=3),
    ),
    "jpeg": (
        Degradation(jpeg_quality=40, noise_sigma=3),
        Degradation(jpeg_quality=25, noise_sigma=2),
    ),
    "borders+light": (
        Degradation(dark_border_px=50, gradient=0.35, background=225),
        Degradation(dark_border_px=70, gradient=0.5, background=215, speckles=200),
    ),
    "upside-down": (
        Degradation(rotation=180, noise_sigma=6),
        Degradation(rotation=180, skew_deg=2, noise_sigma=6),
    ),
    "sideways": (
        Degradation(rotation=90, noise_sigma=6),
        Degradation(rotation=270, skew_deg=-2, noise_sigma=6),
    ),
    "mixed-heavy": (
        Degradation(
            rotation=90, skew_deg=4, blur_sigma=0.8, jpeg_quality=45, noise_sigma=8, speckles=200
        ),
        Degradation(
            rotation=180,
            skew_deg=-3,
            dark_border_px=50,
            gradient=0.4,
            background=215,
            noise_sigma=10,
        ),
        Degradation(rotation=270, skew_deg=5, blur_sigma=1.0, jpeg_quality=35, noise_sigma=6),
    ),
}


# ---------------------------------------------------------------------------- test set


@dataclass
class PageSpec:
    level: str
    index: int  # within its level
    font: str
    font_pt: int
    dpi: int
    degradation: Degradation
    truth: str

    def describe(self) -> str:
        d = self.degradation
        parts = [
            f"{name}={getattr(d, name)}"
            for name in Degradation.__dataclass_fields__
            if getattr(d, name) != getattr(Degradation(), name)
        ]
        return " ".join(parts) or "none"


@dataclass
class LevelFile:
    level: str
    path: Path
    pages: list[PageSpec]


def build_level(level: str, count: int, offset: int, fonts: list[str], path: Path) -> LevelFile:
    """``count`` pages of one level as one PDF; ``offset`` varies fonts/sizes across levels."""
    specs: list[PageSpec] = []
    parts: list[Path] = []
    for index in range(count):
        n = offset + index
        font = fonts[n % len(fonts)]
        pt = FONT_SIZES[n % len(FONT_SIZES)]
        dpi = DPIS[index % len(DPIS)]
        degradation = LEVELS[level][index % len(LEVELS[level])]
        base = synth.render_page(
            synth.corpus_lines(LINES_PER_PAGE, seed=1000 + n), dpi=dpi, font_path=font, font_pt=pt
        )
        page = synth.degrade(base, degradation, seed=n)
        part = path.with_suffix(f".p{index}.pdf")
        synth.save_pdf([page], part)
        parts.append(part)
        specs.append(PageSpec(level, index, Path(font).stem, pt, dpi, degradation, page.text))
    with pikepdf.new() as joined:
        for part in parts:
            with pikepdf.open(part) as single:
                joined.pages.extend(single.pages)
        joined.save(path)
    for part in parts:
        part.unlink()
    return LevelFile(level, path, specs)


# ---------------------------------------------------------------------------- measuring


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, rss bytes) for every process visible in /proc."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:  # the process ended meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # fields[0] is field 3 (state)
        table[int(entry.name)] = (int(fields[1]), int(fields[21]) * PAGE_SIZE)
    return table


class TreeMemory:
    """Polls the RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_tree = 0
        self.peak_single = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            if pid in table:
                tree.append(pid)
            todo.extend(children.get(pid, ()))
        rss = [table[pid][1] for pid in tree]
        if rss:
            self.peak_tree = max(self.peak_tree, sum(rss))
            self.peak_single = max(self.peak_single, max(rss))
            self.peak_processes = max(self.peak_processes, len(rss))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


@dataclass
class Measured:
    wall_s: float = 0.0
    peak_tree_mib: float = 0.0
    peak_single_mib: float = 0.0
    peak_processes: int = 0
    calls: int = 0

    def add(self, other: Measured, *, count_call: bool = True) -> None:
        """Sequential calls: times add up, peaks are the highest of any call."""
        self.wall_s += other.wall_s
        self.peak_tree_mib = max(self.peak_tree_mib, other.peak_tree_mib)
        self.peak_single_mib = max(self.peak_single_mib, other.peak_single_mib)
        self.peak_processes = max(self.peak_processes, other.peak_processes)
        self.calls += other.calls if count_call else 0


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Measured]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid) as memory:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    mib = 1024 * 1024
    figures = Measured(
        wall, memory.peak_tree / mib, memory.peak_single / mib, memory.peak_processes, 1
    )
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), figures


def pdf_pages_text(pdf: Path) -> list[str]:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    )
    pages = done.stdout.decode("utf-8").split("\f")
    if pages and not pages[-1].strip():
        pages.pop()  # pdftotext ends every page, the last too, with a form feed
    return pages


def score(specs: list[PageSpec], pdf: Path | None) -> list[float]:
    if pdf is None or not pdf.exists():
        return [1.0 for _ in specs]
    texts = pdf_pages_text(pdf)
    return [
        synth.char_error_rate(spec.truth, texts[i] if i < len(texts) else "")
        for i, spec in enumerate(specs)
    ]


# ---------------------------------------------------------------------------- the two tools


@dataclass
class ToolRun:
    tool: str
    measured: Measured = field(default_factory=Measured)
    outputs: dict[str, Path | None] = field(default_factory=dict)  # input path -> output PDF
    errors: list[str] = field(default_factory=list)


def prepare_data_dir(data: Path) -> None:
    """A counter's machine as set up: the database created (``sohoa db upgrade``), untimed.

    Creating the schema happens once per installation, not per batch; a fresh data dir per
    timed call would add it (~0.4 s) to every figure.
    """
    done = subprocess.run(
        [str(SOHOA), "db", "upgrade"],
        env={**os.environ, "SOHOA_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"sohoa db upgrade failed: {done.stderr.strip()}")


def run_sohoa(inputs: list[Path], outdir: Path) -> ToolRun:
    """One ``sohoa process --output-dir``: the batch read, archived and its searchable PDFs
    written out, as the floor and OCRmyPDF write theirs."""
    result = ToolRun("sohoa")
    prepare_data_dir(outdir / "sohoa-data")
    env = {**os.environ, "SOHOA_DATA_DIR": str(outdir / "sohoa-data")}
    pdfs = outdir / "sohoa-pdfs"
    command = [str(SOHOA), "process", "--json", "--output-dir", str(pdfs), *map(str, inputs)]
    done, measured = run_measured(command, env)
    result.measured.add(measured)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        result.errors.append(f"process exit {done.returncode}: {done.stderr.strip()[-400:]}")
        result.outputs = dict.fromkeys(map(str, inputs))
        return result
    if done.returncode != 0:
        result.errors.append(f"process exit {done.returncode}")
    result.errors += [f"{e['source']}: {e['error']}" for e in report.get("errors", [])]
    by_source = {Path(d["source"]).name: d for d in report["dossiers"]}
    for path in inputs:
        dossier = by_source.get(path.name)
        written = dossier.get("pdf_path") if dossier is not None else None
        if dossier is None or dossier.get("status") == "failed" or not written:
            result.outputs[str(path)] = None
            if dossier is not None:
                result.errors.append(f"{path.name}: dossier failed or no PDF written")
            continue
        result.outputs[str(path)] = Path(written)
    return result


def run_ocrmypdf(
    inputs: list[Path], outdir: Path, extra: list[str], *, clean: bool = True
) -> ToolRun:
    result = ToolRun("ocrmypdf" if clean else "ocrmypdf-noclean")
    args = OCRMYPDF_ARGS if clean else [a for a in OCRMYPDF_ARGS if a != "--clean"]
    for path in inputs:
        out = outdir / f"{result.tool}-{path.stem}.pdf"
        done, measured = run_measured([str(OCRMYPDF), *args, *extra, str(path), str(out)])
        result.measured.add(measured)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or [""]
            result.errors.append(f"{path.name}: exit {done.returncode}: {tail[0]}")
        result.outputs[str(path)] = out if done.returncode == 0 and out.exists() else None
    return result


def run_bare_tesseract(images: list[Path], outdir: Path, workers: int) -> ToolRun:
    """The floor: the engine alone on the untouched page images, ``workers`` at once.

    One ``tesseract IMG OUT -l vie pdf`` per page (a searchable PDF, the artefact the other
    tools make); the pages' PDFs are then joined (not timed) so the text reads back in order.
    """
    result = ToolRun("tesseract")
    outdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    # One shell runs the pages, so the memory poller sees every tesseract as its child.
    script = (
        f"printf '%s\\n' \"$@\" | xargs -P {workers} -I IMG "
        f"sh -c 'tesseract IMG {shlex.quote(str(outdir))}/$(basename IMG .jpg) -l vie pdf "
        "2>/dev/null'"
    )
    done, measured = run_measured(["sh", "-c", script, "sh", *map(str, images)], env)
    result.measured.add(measured)
    if done.returncode != 0:
        result.errors.append(f"tesseract exit {done.returncode}: {done.stderr.strip()[-200:]}")
    parts = [outdir / f"{image.stem}.pdf" for image in images]
    joined = outdir / "joined.pdf"
    if all(part.exists() for part in parts):
        with pikepdf.new() as pdf:
            for part in parts:
                with pikepdf.open(part) as single:
                    pdf.pages.extend(single.pages)
            pdf.save(joined)
        result.outputs["images"] = joined
    else:
        result.outputs["images"] = None
        result.errors.append("some pages have no output")
    return result


def engine_alone_s(images: list[Path], workers: int) -> tuple[float, float]:
    """Wall seconds of the engine's own work on these pages, nothing else: on the untouched
    images, and on the pages as sohoa's cleanup hands them to the engine.

    One warm process: Tesseract engines loaded before the clock (as sohoa keeps them), then
    ``workers`` threads read the pages (``pipeline.tesseract.recognise_tsv``, psm 3, 200
    dpi). Untouched: each thread decodes the JPEG and reads it, as the floor does. Cleaned:
    load and cleanup run before the clock, so only the reading is timed; turned pages stand
    upright there, and the engine reads them in full where it gives up early on the
    untouched ones. No interpreter start, no model load, no output file: the part of the
    floor that a pipeline reading these pages with this engine spends too. The floor minus
    the untouched figure is what the floor pays for starting a process a page; it is all a
    pipeline has left for its own start-up, cleanup, archive and database.
    """
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    import numpy as np

    from pipeline import tesseract
    from pipeline.clean import clean_page
    from pipeline.context import PageContext
    from pipeline.load import inspect_source, load_page

    tesseract.preload("vie", workers)

    def read_untouched(image: Path) -> str:
        grey = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise SystemExit(f"{image}: cannot be decoded")
        return tesseract.recognise_tsv(np.asarray(grey), lang="vie", dpi=200)

    cleaned = []
    for image in images:
        context = PageContext(source_name=image.name, page_index=0)
        cleaned.append(clean_page(load_page(inspect_source(image), context), context))

    def timed_map(read: Any, pages: list[Any]) -> float:
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(read, pages))
        return time.perf_counter() - began

    untouched_s = timed_map(read_untouched, images)
    cleaned_s = timed_map(
        lambda page: tesseract.recognise_tsv(page.image, lang="vie", dpi=page.dpi), cleaned
    )
    return untouched_s, cleaned_s


def ensure_ocrmypdf() -> str:
    if not OCRMYPDF.exists():
        print(f"{OCRMYPDF} missing: running {SETUP_OCRMYPDF}", file=sys.stderr)
        subprocess.run(["bash", str(SETUP_OCRMYPDF)], check=True, stdout=sys.stderr)
    done = subprocess.run([str(OCRMYPDF), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


# ---------------------------------------------------------------------------- report


def pct(value: float | None) -> str:
    return "   -   " if value is None else f"{value * 100:6.2f}%"


def summary(rates: list[float]) -> dict[str, float]:
    return {"mean": sum(rates) / len(rates), "worst": max(rates)} if rates else {}


def print_runs(title: str, runs: list[ToolRun], pages: int) -> list[dict[str, object]]:
    print(f"\n{title}")
    print(
        f"  {'tool':<17} {'calls':>5} {'wall s':>8} {'pages/min':>10} "
        f"{'peak RSS tree MiB':>18} {'largest proc MiB':>17} {'procs':>6}  errors"
    )
    rows = []
    for run in runs:
        m = run.measured
        per_min = pages / m.wall_s * 60 if m.wall_s else 0.0
        print(
            f"  {run.tool:<17} {m.calls:>5} {m.wall_s:>8.1f} {per_min:>10.1f} "
            f"{m.peak_tree_mib:>18.0f} {m.peak_single_mib:>17.0f} {m.peak_processes:>6}  "
            f"{len(run.errors)}"
        )
        for error in run.errors:
            print(f"      {run.tool} error: {error}")
        rows.append(
            {
                "tool": run.tool,
                **asdict(m),
                "pages": pages,
                "pages_per_min": per_min,
                "errors": run.errors,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages-per-level", type=int, default=3)
    parser.add_argument("--levels", default=",".join(LEVELS), help="comma-separated subset")
    parser.add_argument("--skip-ocrmypdf", action="store_true")
    parser.add_argument("--speed-pages", type=int, default=12, help="0 skips the timing run")
    parser.add_argument(
        "--skip-accuracy", action="store_true", help="only the speed and one-page runs"
    )
    parser.add_argument("--one-page-runs", type=int, default=3, help="0 skips the one-page run")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="pages at once for sohoa (SOHOA_WORKERS) and for bare Tesseract",
    )
    parser.add_argument(
        "--orchestrator",
        choices=("auto", "inline", "prefect"),
        default="auto",
        help="SOHOA_ORCHESTRATOR for sohoa (auto: inline unless PREFECT_API_URL is set)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--workdir", type=Path, help="keep inputs and outputs here")
    parser.add_argument(
        "--ocrmypdf-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra OCRmyPDF argument (repeat), e.g. --ocrmypdf-arg=--output-type=pdf",
    )
    args = parser.parse_args()
    levels = [name.strip() for name in args.levels.split(",") if name.strip()]
    unknown = [name for name in levels if name not in LEVELS]
    if unknown:
        parser.error(f"unknown level(s) {unknown}; known: {', '.join(LEVELS)}")
    if args.pages_per_level < 1:
        parser.error("--pages-per-level must be at least 1")

    # Every `sohoa` the bench starts inherits it (run_sohoa, one_page_run).
    os.environ["SOHOA_ORCHESTRATOR"] = args.orchestrator
    ocrmypdf_version = None if args.skip_ocrmypdf else ensure_ocrmypdf()
    with tempfile.TemporaryDirectory(prefix="sohoa-bench-ocr-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        figures = bench(args, levels, root, ocrmypdf_version)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"\nfigures written to {args.json}")


def bench(
    args: argparse.Namespace, levels: list[str], root: Path, ocrmypdf_version: str | None
) -> dict[str, object]:
    fonts = synth.available_fonts()
    tesseract = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    if args.orchestrator == "inline" or (
        args.orchestrator == "auto" and not os.environ.get("PREFECT_API_URL")
    ):
        prefect = f"none, SOHOA_ORCHESTRATOR={args.orchestrator}: tasks on threads of sohoa"
    else:
        prefect = os.environ.get("PREFECT_API_URL") or "temporary local server (~10 s a process)"
    print("sohoa vs OCRmyPDF on generated degraded Vietnamese scans")
    print(f"  machine: {os.cpu_count()} cores; {tesseract.stdout.splitlines()[0]}")
    print(f"  sohoa: {SOHOA} process --json --output-dir OUT FILES (Prefect: {prefect})")
    ocr_cmd = shlex.join(["ocrmypdf", *OCRMYPDF_ARGS, *args.ocrmypdf_arg, "IN.pdf", "OUT.pdf"])
    print(f"  ocrmypdf: {ocrmypdf_version or 'skipped'}: {ocr_cmd}")
    print(
        f"  set: {len(levels)} levels x {args.pages_per_level} pages; dpi {DPIS}; "
        f"{len(fonts)} fonts ({', '.join(Path(f).stem for f in fonts)}); sizes {FONT_SIZES} pt"
    )

    inputs_dir = root / "inputs"
    inputs_dir.mkdir(exist_ok=True)
    figures: dict[str, object] = {"tesseract": tesseract.stdout.splitlines()[0]}
    if not args.skip_accuracy:
        files = [
            build_level(
                level,
                args.pages_per_level,
                i * args.pages_per_level,
                fonts,
                inputs_dir / f"{i:02d}-{level.replace('+', '-')}.pdf",
            )
            for i, level in enumerate(levels)
        ]
        figures.update(accuracy_run(args, files, ocr_cmd, ocrmypdf_version, fonts, levels, root))
    if args.speed_pages > 0:
        figures["speed"] = speed_run(args, root)
    if args.one_page_runs > 0:
        figures["one_page"] = one_page_run(args, root)
    return figures


def accuracy_run(
    args: argparse.Namespace,
    files: list[LevelFile],
    ocr_cmd: str,
    ocrmypdf_version: str | None,
    fonts: list[str],
    levels: list[str],
    root: Path,
) -> dict[str, object]:
    total_pages = sum(len(f.pages) for f in files)
    inputs = [f.path for f in files]

    runs = [run_sohoa(inputs, root / "sohoa-acc")]
    if not args.skip_ocrmypdf:
        (root / "ocrmypdf-acc").mkdir(exist_ok=True)
        runs.append(run_ocrmypdf(inputs, root / "ocrmypdf-acc", args.ocrmypdf_arg))
    rates: dict[str, dict[str, list[float]]] = {
        run.tool: {f.level: score(f.pages, run.outputs.get(str(f.path))) for f in files}
        for run in runs
    }
    tools = [run.tool for run in runs]

    print("\nPer page: CER of the PDF text layer (pdftotext) against ground truth")
    header = "".join(f"{tool:>10}" for tool in tools)
    print(f"  {'level':<14}{'#':>2} {'font':<22}{'pt':>3}{'dpi':>5}{header}  degradation")
    pages_out = []
    for f in files:
        for spec in f.pages:
            cells = "".join(f"{pct(rates[t][f.level][spec.index]):>10}" for t in tools)
            print(
                f"  {f.level:<14}{spec.index:>2} {spec.font:<22}{spec.font_pt:>3}{spec.dpi:>5}"
                f"{cells}  {spec.describe()}"
            )
            pages_out.append(
                {
                    "level": f.level,
                    "index": spec.index,
                    "font": spec.font,
                    "font_pt": spec.font_pt,
                    "dpi": spec.dpi,
                    "degradation": spec.describe(),
                    "cer": {t: rates[t][f.level][spec.index] for t in tools},
                }
            )

    print("\nPer level: CER mean / worst page")
    head = "".join(f"{t + ' mean':>15}{t + ' worst':>15}" for t in tools)
    print(f"  {'level':<14}{'pages':>6}{head}")
    levels_out: dict[str, dict[str, dict[str, float]]] = {}
    groups = [(f.level, {t: rates[t][f.level] for t in tools}) for f in files]
    groups.append(("ALL", {t: [r for v in rates[t].values() for r in v] for t in tools}))
    for name, by_tool in groups:
        levels_out[name] = {t: summary(values) for t, values in by_tool.items()}
        cells = "".join(
            f"{pct(levels_out[name][t]['mean']):>15}{pct(levels_out[name][t]['worst']):>15}"
            for t in tools
        )
        print(f"  {name:<14}{len(by_tool[tools[0]]):>6}{cells}")

    accuracy_runs = print_runs(
        f"Accuracy set, {total_pages} pages in {len(files)} files "
        "(sohoa: one batch + one get per file; ocrmypdf: one call per file)",
        runs,
        total_pages,
    )
    figures: dict[str, object] = {
        "config": {
            "levels": levels,
            "pages_per_level": args.pages_per_level,
            "dpis": DPIS,
            "fonts": [Path(f).stem for f in fonts],
            "font_sizes": FONT_SIZES,
            "ocrmypdf": ocrmypdf_version,
            "ocrmypdf_command": ocr_cmd,
            "cpus": os.cpu_count(),
        },
        "pages": pages_out,
        "levels": levels_out,
        "accuracy_runs": accuracy_runs,
    }
    return figures


def speed_run(args: argparse.Namespace, root: Path) -> dict[str, object]:
    pages = synth.mixed_degraded_pages(args.speed_pages, dpi=200)
    scan = root / "inputs" / f"speed-{args.speed_pages}.pdf"
    synth.save_pdf(pages, scan)
    images = []
    for index, page in enumerate(pages):
        # The same JPEG the PDF holds (save_pdf's quality), as a scanner's image file.
        image = root / "inputs" / f"speed-page-{index:03d}.jpg"
        page.image.convert("RGB").save(image, quality=85, dpi=(page.dpi, page.dpi))
        images.append(image)
    os.environ["SOHOA_WORKERS"] = str(args.workers)
    runs = [
        run_sohoa([scan], root / "sohoa-speed"),
        run_bare_tesseract(images, root / "tesseract-speed", args.workers),
    ]
    if not args.skip_ocrmypdf:
        for clean in (True, False):
            folder = root / ("ocrmypdf-speed" if clean else "ocrmypdf-noclean-speed")
            folder.mkdir(exist_ok=True)
            runs.append(run_ocrmypdf([scan], folder, args.ocrmypdf_arg, clean=clean))
    engine_s = engine_alone_s(images, args.workers)
    rows = print_runs(
        f"Speed run: {len(pages)} pages (synth.mixed_degraded_pages, 200 dpi), {args.workers} "
        "at once; sohoa and ocrmypdf: one call on the PDF; tesseract: one call per page image",
        runs,
        len(pages),
    )
    truths = [PageSpec("speed", i, "", 0, 200, Degradation(), p.text) for i, p in enumerate(pages)]
    sohoa_wall = runs[0].measured.wall_s
    floor_wall = runs[1].measured.wall_s
    untouched_s, cleaned_s = engine_s
    print(
        f"  engine alone, warm ({args.workers} threads in one process, engines loaded first, "
        f"no output file): {untouched_s:.1f} s on the untouched images, {cleaned_s:.1f} s on "
        f"sohoa's cleaned pages; the floor spends {floor_wall - untouched_s:.1f} s more than "
        "the engine's reading, starting a process a page"
    )
    out: dict[str, object] = {
        "pages": len(pages),
        "workers": args.workers,
        "runs": rows,
        "engine_alone_warm_s": {"untouched": untouched_s, "cleaned": cleaned_s},
    }
    for run, row in zip(runs, rows, strict=True):
        output = run.outputs.get("images" if run.tool == "tesseract" else str(scan))
        cer = summary(score(truths, output))
        row["cer"] = cer
        ratio = run.measured.wall_s / sohoa_wall if sohoa_wall else 0.0
        row["wall_over_sohoa"] = ratio
        print(
            f"  {run.tool:<17} CER mean {pct(cer['mean'])}, worst {pct(cer['worst'])}; "
            f"wall {ratio:.2f}x sohoa's"
        )
    return out


def one_page_run(args: argparse.Namespace, root: Path) -> dict[str, object]:
    """One scan end to end, steady state, against bare Tesseract on the same file.

    Steady state: one data dir, set up before the first run, as at a counter; each run hands
    in another scan of the same kind (the same scan twice would be found a duplicate).
    """
    data = root / "one-page-data"
    prepare_data_dir(data)
    env = {**os.environ, "SOHOA_DATA_DIR": str(data)}
    sohoa_walls, bare_walls = [], []
    for attempt in range(args.one_page_runs):
        page = synth.mixed_degraded_pages(1, dpi=200, seed=7 + attempt)[0]
        scan = root / "inputs" / f"one-page-{attempt}.jpg"
        page.image.convert("RGB").save(scan, quality=85, dpi=(page.dpi, page.dpi))
        done, measured = run_measured([str(SOHOA), "process", str(scan)], env)
        if done.returncode != 0:
            print(f"  sohoa process exit {done.returncode}: {done.stderr.strip()[-300:]}")
        sohoa_walls.append(measured.wall_s)
        _bare, bare = run_measured(
            ["tesseract", str(scan), str(root / f"one-page-{attempt}"), "-l", "vie", "pdf"],
            {**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
        bare_walls.append(bare.wall_s)
    steady = sohoa_walls[1:] or sohoa_walls
    steady_bare = bare_walls[1:] or bare_walls
    sohoa_s, bare_s = statistics.median(steady), statistics.median(steady_bare)
    print(f"\nOne page end to end (one-page-N.jpg, 200 dpi), {args.one_page_runs} runs")
    print(f"  sohoa process : {', '.join(f'{w:.1f}' for w in sohoa_walls)} s")
    print(f"  tesseract     : {', '.join(f'{w:.1f}' for w in bare_walls)} s")
    print(
        f"  steady state (median after the first): sohoa {sohoa_s:.1f} s, tesseract "
        f"{bare_s:.1f} s, difference {sohoa_s - bare_s:+.1f} s"
    )
    return {"sohoa_s": sohoa_walls, "tesseract_s": bare_walls, "difference_s": sohoa_s - bare_s}


if __name__ == "__main__":
    main()
