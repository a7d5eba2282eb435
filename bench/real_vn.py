"""Real Vietnamese paper: sohoa against the engine alone and OCRmyPDF, page by page.

The pages are real documents nobody here made (bench/real_vn/corpus.toml says where each
comes from), with their printed text transcribed by hand in bench/real_vn/truth/. For every
page, in one run:

* **sohoa**: ``sohoa process`` of all pages as one batch, then the archived PDF of each
  dossier through ``pdftotext`` (what an agency's search and copy-paste see);
* **bare**: ``tesseract -l vie`` on the untouched image (a PDF page rendered at its scan's
  own resolution), the engine alone with its defaults;
* **ocrmypdf** (when bench/setup_ocrmypdf.sh has installed it):
  ``--force-ocr --rotate-pages --deskew --clean -l vie`` (its default refuses PDFs that
  already carry text or a signature), then ``pdftotext``.

CER is Levenshtein distance over the truth's length, NFC, whitespace collapsed. The run
also prints pages where sohoa is more than 0.5 points above bare Tesseract, and the mean
against the better of bare Tesseract and OCRmyPDF. ``--stamped N`` adds N generated pages
with a red seal and blue ink over the text (200 dpi colour).

Where the pages come from: the files are not in this repository (they are other people's
documents). They are looked up, in order, in ``$SOHOA_REAL_VN_DIR``, ``../shared/real-vn``,
``bench/real_vn/export`` (pages newly added, until they are placed in ../shared/real-vn;
files named ``<id>.pdf|.jpg|.png``), and the local snapshot of each source repository
(``/work/.mirror/<owner>+<name>``, as the workplace's fetch tool leaves it); every file is
checked against its SHA-256. ``--export DIR`` writes the single pages there, to be placed
where CI and other machines can see them.

``--rescan 0.97 1.03`` instead reads every page again as if scanned at those multiples of
its resolution, and prints how far each page's CER moves: a reading tuned to these exact
pixels would move on another scanner too.

    .venv/bin/python bench/real_vn.py [--only ID ...] [--no-ocrmypdf] [--stamped 6]
    .venv/bin/python bench/real_vn.py --rescan 0.97 1.03
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402

HERE = REPO / "bench" / "real_vn"
CACHE = REPO / "bench" / ".cache" / "real-vn"
MIRRORS = Path(os.environ.get("SOHOA_MIRROR_DIR", "/work/.mirror"))
OCRMYPDF = REPO / "bench" / ".venv-ocrmypdf" / "bin" / "ocrmypdf"
SUFFIXES = (".pdf", ".jpg", ".png", ".tif")


@dataclass(frozen=True)
class RealPage:
    id: str
    origin: str
    repo: str
    commit: str
    path: str
    page: int  # 1-based page of a PDF, 0 for an image file
    sha256: str
    licence: str
    note: str

    @property
    def truth_path(self) -> Path:
        return HERE / "truth" / f"{self.id}.txt"

    @property
    def truth(self) -> str:
        return self.truth_path.read_text(encoding="utf-8")


def load_corpus() -> list[RealPage]:
    data = tomllib.loads((HERE / "corpus.toml").read_text(encoding="utf-8"))
    return [RealPage(**entry) for entry in data["page"]]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("SOHOA_REAL_VN_DIR"):
        dirs.append(Path(os.environ["SOHOA_REAL_VN_DIR"]))
    dirs.append(REPO.parent / "shared" / "real-vn")
    # Pages added to the corpus and exported here until they are placed in ../shared/real-vn.
    dirs.append(HERE / "export")
    return dirs


def _from_mirror(page: RealPage, target: Path) -> bool:
    """The whole source file from the repository snapshot, checked against its SHA-256."""
    git_dir = MIRRORS / page.repo.replace("/", "+") / "repo"
    if (git_dir / ".git").is_dir():  # some snapshots are clones with a work tree
        git_dir = git_dir / ".git"
    if not git_dir.is_dir():
        return False
    done = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "blob", f"{page.commit}:{page.path}"],
        capture_output=True,
    )
    if done.returncode != 0:
        return False
    if hashlib.sha256(done.stdout).hexdigest() != page.sha256:
        raise SystemExit(f"{page.id}: {page.repo}:{page.path} does not match its SHA-256")
    target.write_bytes(done.stdout)
    return True


def _sniff_suffix(data: bytes) -> str:
    if data.startswith(b"%PDF") or b"%PDF-" in data[:1024]:
        return ".pdf"
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".bin"


def materialise(page: RealPage) -> Path:
    """A file holding just this page, as the counter would hand it in."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for base in [CACHE, *_search_dirs()]:
        for suffix in SUFFIXES:
            candidate = base / f"{page.id}{suffix}"
            if candidate.is_file():
                return candidate
    whole = CACHE / f"{page.id}.source"
    if not _from_mirror(page, whole):
        raise SystemExit(
            f"{page.id}: not found in {', '.join(map(str, _search_dirs()))} nor in a snapshot of"
            f" {page.repo} under {MIRRORS}"
        )
    data = whole.read_bytes()
    suffix = _sniff_suffix(data)
    out = CACHE / f"{page.id}{'.png' if suffix == '.webp' else suffix}"
    if suffix == ".pdf":
        subprocess.run(
            # Some source PDFs are slightly damaged (a repeated /Info key): qpdf mends them
            # and warns, which is no failure here.
            [
                *("qpdf", "--warning-exit-0", str(whole)),
                *("--pages", ".", str(page.page), "--", str(out)),
            ],
            check=True,
            capture_output=True,
        )
    elif suffix == ".webp":  # a web image: the counter's browser would save it as PNG
        from PIL import Image

        with Image.open(whole) as image:
            image.convert("RGB").save(out)
    else:
        shutil.copyfile(whole, out)
    whole.unlink()
    return out


# --- the three readers -------------------------------------------------------------------


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8", errors="replace")


def _pdf_scan_dpi(pdf: Path) -> int:
    """The resolution of the page's largest image, as pdfimages reports it."""
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    best, dpi = 0, 300
    for row in listing:
        cols = row.split()
        if len(cols) >= 14 and cols[2] == "image":
            pixels = int(cols[3]) * int(cols[4])
            if pixels > best:
                best, dpi = pixels, round(float(cols[12]))
    return dpi


def untouched_image(path: Path, work: Path) -> Path:
    """What bare Tesseract is given: the image file itself, or the PDF page's scan (at its
    own resolution, without the stamps a signing system laid over it as annotations)."""
    if path.suffix != ".pdf":
        return path
    out = work / f"{path.stem}-render"
    subprocess.run(
        [
            *("pdftoppm", "-r", str(_pdf_scan_dpi(path)), "-hide-annotations", "-png"),
            *("-singlefile", str(path), str(out)),
        ],
        check=True,
        capture_output=True,
    )
    return out.with_suffix(".png")


def stamp_lines(path: Path, work: Path) -> set[str]:
    """The text of a PDF page's annotations (e-signature stamps: "Ký bởi: …").

    The truth leaves it out (it is not on the paper); every archive copies it exactly as
    vector text, so it is taken out of every reader's output before scoring.
    """
    if path.suffix != ".pdf":
        return set()
    import pikepdf

    only_annotations = work / f"{path.stem}-annotations.pdf"
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            page.obj.Contents = pdf.make_stream(b"")
        pdf.save(only_annotations)
    return {" ".join(line.split()) for line in _pdf_text(only_annotations).splitlines()} - {""}


def without(lines: set[str], text: str) -> str:
    return "\n".join(line for line in text.splitlines() if " ".join(line.split()) not in lines)


def read_bare(path: Path, work: Path) -> tuple[str, float]:
    image = untouched_image(path, work)
    started = time.perf_counter()
    done = subprocess.run(
        ["tesseract", str(image), "stdout", "-l", "vie"],
        capture_output=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return done.stdout.decode("utf-8", errors="replace"), time.perf_counter() - started


def read_ocrmypdf(path: Path, work: Path) -> tuple[str | None, float]:
    if not OCRMYPDF.exists():
        return None, 0.0
    out = work / f"{path.stem}-ocrmypdf.pdf"
    command = [str(OCRMYPDF), "-q", "--force-ocr", "--rotate-pages", "--deskew", "--clean"]
    command += ["-l", "vie", "--output-type", "pdf", "--invalidate-digital-signatures"]
    if path.suffix != ".pdf":
        # OCRmyPDF refuses an image without a credible resolution; give it what the file says,
        # or the web's 96 dpi (it only tells Tesseract; the pixels are the same).
        from PIL import Image

        with Image.open(path) as image:
            recorded = float((image.info.get("dpi") or (0, 0))[0] or 0)
        command += ["--image-dpi", str(round(recorded) if recorded >= 72 else 96)]
    started = time.perf_counter()
    done = subprocess.run([*command, str(path), str(out)], capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        print(f"  ocrmypdf failed on {path.name}: {done.stderr.strip()[-200:]}", file=sys.stderr)
        return "", took
    return _pdf_text(out), took


def sohoa_command(env: dict[str, str]) -> list[str]:
    """The ``sohoa`` program of this checkout: its own venv's, or (a git worktree without a
    venv) this interpreter running this checkout's package, which ``env`` is set to import."""
    program = REPO / ".venv" / "bin" / "sohoa"
    if program.exists():
        return [str(program)]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return [sys.executable, "-c", "from app.startup import console_main; console_main()"]


def read_sohoa(paths: list[Path], work: Path) -> tuple[dict[str, str], float, dict[str, object]]:
    """One ``sohoa process`` batch of every page; the archived PDF's text per file name."""
    env = {**os.environ, "SOHOA_DATA_DIR": str(work / "sohoa-data")}
    env.pop("SOHOA_DATABASE_URL", None)
    sohoa = sohoa_command(env)
    started = time.perf_counter()
    done = subprocess.run(
        [*sohoa, "process", "--json", *map(str, paths)], env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        message = f"sohoa process failed ({done.returncode}): {done.stderr[-800:]}"
        raise SystemExit(message) from None
    texts: dict[str, str] = {}
    details: dict[str, object] = {}
    for dossier in report.get("dossiers", []):
        name = str(dossier.get("source_name") or dossier.get("source") or "")
        if dossier.get("status") != "archived":
            details[name] = dossier.get("error") or dossier.get("status")
            texts.setdefault(name, "")
            continue
        out = work / f"{dossier['dossier_id']}.pdf"
        subprocess.run(
            [*sohoa, "get", dossier["dossier_id"], "--pdf", "-o", str(out)],
            env=env,
            check=True,
            capture_output=True,
        )
        texts[name] = texts.get(name, "") + _pdf_text(out)
        shown = subprocess.run(
            [*sohoa, "show", dossier["dossier_id"], "--json"], env=env, capture_output=True
        )
        if shown.returncode == 0:
            pages = json.loads(shown.stdout).get("page_details", [])
            details[name] = [p.get("warnings") for p in pages]
    return texts, took, details


def cer(truth: str, text: str) -> float:
    return synth.char_error_rate(truth, text)


# --- the run ---------------------------------------------------------------------------


def run_real(pages: list[RealPage], *, with_ocrmypdf: bool, verbose: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="sohoa-real-vn-") as tmp:
        work = Path(tmp)
        files = {page.id: materialise(page) for page in pages}
        texts, sohoa_s, details = read_sohoa(list(files.values()), work)
        print(f"{len(pages)} real pages; sohoa process (one batch): {sohoa_s:.1f} s")
        header = f"{'page':<28}{'origin':<18}{'sohoa':>8}{'bare':>8}{'ocrmypdf':>10}{'Δ bare':>9}"
        print(header)
        rows = []
        bare_total = ocrmypdf_total = 0.0
        for page in pages:
            truth = page.truth
            path = files[page.id]
            bare_text, bare_s = read_bare(path, work)
            bare_total += bare_s
            ocrmypdf_text, ocrmypdf_s = read_ocrmypdf(path, work) if with_ocrmypdf else (None, 0.0)
            ocrmypdf_total += ocrmypdf_s
            stamps = stamp_lines(path, work)
            ours = cer(truth, without(stamps, texts.get(path.name, "")))
            bare = cer(truth, without(stamps, bare_text))
            theirs = None if ocrmypdf_text is None else cer(truth, without(stamps, ocrmypdf_text))
            rows.append((page, ours, bare, theirs))
            shown_theirs = "-" if theirs is None else f"{theirs * 100:.1f}"
            flag = "  <-- worse" if ours > bare + 0.005 else ""
            print(
                f"{page.id:<28}{page.origin:<18}{ours * 100:>7.1f}%{bare * 100:>7.1f}%"
                f"{shown_theirs:>9}%{(ours - bare) * 100:>+8.1f}{flag}"
            )
            if verbose:
                print(f"    {details.get(path.name)}")
        n = len(rows)
        mean_ours = sum(r[1] for r in rows) / n
        mean_bare = sum(r[2] for r in rows) / n
        print(
            f"mean CER: sohoa {mean_ours * 100:.2f} %, bare Tesseract {mean_bare * 100:.2f} %",
            end="",
        )
        if all(r[3] is not None for r in rows):
            mean_theirs = sum(float(r[3] or 0.0) for r in rows) / n
            best = min(mean_bare, mean_theirs)
            print(f", OCRmyPDF {mean_theirs * 100:.2f} %")
            print(f"sohoa / better baseline: {mean_ours / best:.2f}x (goal <= 0.8x)")
        else:
            print()
        failed = {name: why for name, why in details.items() if isinstance(why, str) or not why}
        print(
            f"archived as PDF/A: {len(files) - len(failed)} of {len(files)}"
            + (f"; not archived: {failed}" if failed else "")
        )
        worse = [r[0].id for r in rows if r[1] > r[2] + 0.005]
        print(f"pages more than 0.5 points above bare Tesseract: {len(worse)} {worse or ''}")
        print(
            f"time: sohoa {sohoa_s:.1f} s (batch, start-up included), bare Tesseract"
            f" {bare_total:.1f} s (one page at a time), OCRmyPDF {ocrmypdf_total:.1f} s"
        )


def rescanned(untouched: Path, name: str, work: Path, factor: float) -> Path:
    """The page as a scanner set ``factor`` times finer (or coarser) would have given it: its
    untouched image (``untouched_image``) resampled, its recorded resolution scaled alike (a
    file without one stays without), written as ``name``.png; PNG, so nothing else changes
    (a PDF's stamps and own text are gone: nothing is left to take out before scoring)."""
    from PIL import Image

    with Image.open(untouched) as image:
        dpi = image.info.get("dpi")
        grey_or_colour = image.convert("RGB" if image.mode not in ("1", "L") else "L")
    size = (round(grey_or_colour.width * factor), round(grey_or_colour.height * factor))
    resample = Image.Resampling.BOX if factor < 1 else Image.Resampling.BICUBIC
    out = work / f"rescan-{factor:g}" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    resized = grey_or_colour.resize(size, resample)
    if dpi:
        resized.save(out, dpi=(float(dpi[0]) * factor, float(dpi[1]) * factor))
    else:
        resized.save(out)
    return out


def run_rescans(pages: list[RealPage], factors: list[float]) -> None:
    """How steady the reading is: every page read again as rescanned at each factor.

    A layout rule tuned to these exact pixels shows here: a page whose CER jumps with a 3 %
    change of resolution would jump on another scanner too.
    """
    with tempfile.TemporaryDirectory(prefix="sohoa-rescan-") as tmp:
        work = Path(tmp)
        # Each page rendered once; every column resamples that render.
        untouched = {page.id: untouched_image(materialise(page), work) for page in pages}
        columns = [1.0, *factors]
        ours: dict[float, dict[str, float]] = {}
        bare: dict[float, dict[str, float]] = {}
        for factor in columns:
            run = work / f"run-{factor:g}"
            run.mkdir()
            # x1 goes the same way (the scan as a PNG at its own resolution), so every
            # column differs from the others in resolution only.
            paths = {page.id: rescanned(untouched[page.id], page.id, run, factor) for page in pages}
            texts, _took, _details = read_sohoa(list(paths.values()), run)
            ours[factor], bare[factor] = {}, {}
            for page in pages:
                ours[factor][page.id] = cer(page.truth, texts.get(paths[page.id].name, ""))
                bare[factor][page.id] = cer(page.truth, read_bare(paths[page.id], run)[0])
        heads = "".join(f"{f'x{factor:g}':>8}" for factor in columns)
        print("Rescanned: sohoa CER per resolution factor; bare: bare Tesseract's worst of them")
        print(f"{'page':<28}{heads}{'spread':>8}{'bare':>8}")
        unsteady = []
        for page in pages:
            rates = [ours[factor][page.id] for factor in columns]
            spread = max(rates) - min(rates)
            worst_bare = max(bare[factor][page.id] for factor in columns)
            cells = "".join(f"{rate * 100:>7.1f}%" for rate in rates)
            print(f"{page.id:<28}{cells}{spread * 100:>7.1f}%{worst_bare * 100:>7.1f}%")
            if spread > 0.02:
                unsteady.append(page.id)
        means = "".join(
            f"{sum(ours[factor].values()) / len(pages) * 100:>7.2f}%" for factor in columns
        )
        bare_means = "".join(
            f"{sum(bare[factor].values()) / len(pages) * 100:>7.2f}%" for factor in columns
        )
        print(f"{'mean sohoa':<28}{means}")
        print(f"{'mean bare':<28}{bare_means}")
        worse = sorted(
            {
                page.id
                for factor in columns
                for page in pages
                if ours[factor][page.id] > bare[factor][page.id] + 0.005
            }
        )
        print(f"pages more than 2 points apart between resolutions: {len(unsteady)} {unsteady}")
        print(f"pages more than 0.5 points above bare Tesseract at any: {len(worse)} {worse}")


def run_stamped(count: int) -> None:
    """Generated 200 dpi colour pages with a red seal and blue ink over the text."""
    with tempfile.TemporaryDirectory(prefix="sohoa-stamped-") as tmp:
        work = Path(tmp)
        pages = synth.stamped_pages(count, dpi=200)
        paths = []
        for index, page in enumerate(pages):
            path = work / f"stamped-{index + 1:02d}.jpg"
            page.image.save(path, "JPEG", quality=90, dpi=(200, 200))
            paths.append(path)
        texts, took, _ = read_sohoa(paths, work)
        rates = []
        print(f"{count} stamped pages (200 dpi colour, red seal + blue ink over text)")
        for page, path in zip(pages, paths, strict=True):
            ours = cer(page.text, texts.get(path.name, ""))
            bare = cer(page.text, read_bare(path, work)[0])
            rates.append((ours, bare))
            print(f"  {path.name}  sohoa {ours * 100:5.2f} %   bare {bare * 100:5.2f} %")
        print(
            f"stamped mean CER: sohoa {sum(r[0] for r in rates) / count * 100:.2f} % (goal <= 2 %),"
            f" bare Tesseract {sum(r[1] for r in rates) / count * 100:.2f} %; sohoa {took:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="page ids to run")
    parser.add_argument("--no-ocrmypdf", action="store_true")
    parser.add_argument("--stamped", type=int, default=0, help="also N generated stamped pages")
    parser.add_argument("--no-real", action="store_true", help="only the generated stamped pages")
    parser.add_argument("--export", metavar="DIR", help="write the single pages to DIR and stop")
    parser.add_argument("-v", "--verbose", action="store_true", help="page warnings too")
    parser.add_argument(
        "--rescan",
        nargs="+",
        type=float,
        metavar="FACTOR",
        help="instead: read every page again rescanned at FACTOR x its resolution (0.97 1.03)",
    )
    args = parser.parse_args()
    pages = [p for p in load_corpus() if p.truth_path.is_file()]
    if args.only:
        pages = [p for p in pages if p.id in args.only]
    if args.export:
        target = Path(args.export)
        target.mkdir(parents=True, exist_ok=True)
        for page in pages:
            shutil.copy2(materialise(page), target)
        print(f"{len(pages)} pages written to {target}")
        return
    if args.rescan:
        run_rescans(pages, args.rescan)
        return
    if not args.no_real:
        run_real(pages, with_ocrmypdf=not args.no_ocrmypdf, verbose=args.verbose)
    if args.stamped:
        run_stamped(args.stamped)


if __name__ == "__main__":
    main()
