"""Word recall of sohoa's clean+OCR stages against raw Tesseract, on pages with real GT.

Every reference here is the ground truth the package's own tests or test scripts compare
against (except linn.txt, see below). Language packs: eurotext is read with every one of
eng/deu/fra/ita/spa/por that is installed (apt tesseract-ocr-{deu,fra,ita,spa,por}).

The pages and their ground truth come from packages, fetched with the ordinary clients
into ``bench/.cache/real-pages-gt`` (git-ignored):

* Debian source package ``tesseract`` 5.3.0-2, its ``orig-test`` tarball (Tesseract's
  ``test`` repository, which holds ``testing/``): ``apt-get source --download-only`` with
  a private apt state under the cache (the system's apt configuration is only read, to
  reuse its mirror and keyring). Pages and the ground truth Tesseract's own tests use:
    - ``phototest.tif`` / ``phototest.txt``      (unittest/apiexample_test.cc: exact match)
    - ``phototest_2.tif`` / ``phototest.gold.txt`` (unittest/baseapi_test.cc)
    - ``eurotext.tif`` / ``eurotext.txt``        (unittest/apiexample_test.cc)
    - ``8087_054.3B.tif``, ``8071_093.3B.tif`` / ``*.3B.txt``: UNLV-ISRI magazine scans,
      300 dpi bilevel, with the UNLV ground-truth text shipped beside them. ``~`` in
      UNLV text marks a character the GT could not encode: such words are left out.
    - ``8087_054.3G.tif``: the same page stored as 4-bit grey (pixel-identical to the
      3B scan; a loader check), scored against ``8087_054.3B.txt``.
    - ``phototest-rotated-{L,R,180}.png``: phototest turned a quarter left, right, and upside down
      (Tesseract's osd_test uses them for orientation only): scored against
      ``phototest.txt``, which they show turned.
* PyPI sdist ``ocrmypdf`` 17.13.0: ``tests/resources/linn.png`` (a real 300 dpi scan of
  a brochure page, no dpi recorded) with ``linn.txt``. That text is OCRmyPDF's stored
  reference and is itself OCR output (bullets as ``0``, ``EDI]`` for the logo, ...), so
  no engine can reach 100 % on it: compare the two columns, not the absolute figure.

    .venv/bin/python bench/real_pages.py [--only NAME ...] [--show-misses]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache" / "real-pages-gt"

DEBIAN_SOURCE = "tesseract"
DEBIAN_VERSION = "5.3.0-2"
DEBIAN_SUITE = "bookworm"
DEBIAN_TEST_TARBALL = "tesseract_5.3.0.orig-test.tar.gz"
OCRMYPDF_VERSION = "17.13.0"

# Languages tried for the multilingual eurotext page, restricted to those installed.
EUROTEXT_LANGS = ("eng", "deu", "fra", "ita", "spa", "por")


@dataclass(frozen=True)
class PageSpec:
    name: str
    image: str  # path inside the extracted tree
    truth: str
    sha256_image: str
    sha256_truth: str
    lang: str
    note: str = ""


TESSERACT_PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "phototest",
        "testing/phototest.tif",
        "testing/phototest.txt",
        "d2241a1eb6d6cd2eb6544b8e228c2862c852b7467d16ed636caa32179b780692",
        "76ef157baeb6ab275b7d90f310477a8060d5822aea2b2e05d480f459b016a6ed",
        "eng",
    ),
    PageSpec(
        "phototest_2",
        "testing/phototest_2.tif",
        "testing/phototest.gold.txt",
        "84293add818d61ba0e460ff790ca164d876579138d4b533cb1ac3b634d1a6b00",
        "76ef157baeb6ab275b7d90f310477a8060d5822aea2b2e05d480f459b016a6ed",
        "eng",
        "RGB, 72 dpi recorded",
    ),
    PageSpec(
        "eurotext",
        "testing/eurotext.tif",
        "testing/eurotext.txt",
        "7b9bd14aba7d5e30df686fbb6f71782a97f48f81b32dc201a1b75afe6de747d6",
        "26a43b5107b51054910b89f6fea67a03125b5737c0200e588121d4d132c7f3cb",
        "eng",  # widened to the installed EUROTEXT_LANGS in fetch_real_pages
        "en/de/fr/it/es/pt text",
    ),
    PageSpec(
        "unlv-8087_054.3B",
        "testing/8087_054.3B.tif",
        "testing/8087_054.3B.txt",
        "dab6db0f4c32296f313c7f1e7e139b13d7c69be65c64d6016f85ea67ebca9102",
        "9965c66f974f85c25e51041b47aceed287dd2302abd64d7e969af674dca83edb",
        "eng",
        "UNLV magazine scan",
    ),
    PageSpec(
        "unlv-8087_054.3G",
        "testing/8087_054.3G.tif",
        "testing/8087_054.3B.txt",
        "ab4db0234f906ea602f49fdcb44267143d645284f62ac11f3fc56a6efb08bf4d",
        "9965c66f974f85c25e51041b47aceed287dd2302abd64d7e969af674dca83edb",
        "eng",
        "same scan as 4-bit grey TIFF",
    ),
    PageSpec(
        "unlv-8071_093.3B",
        "testing/8071_093.3B.tif",
        "testing/8071_093.3B.txt",
        "d4f01cba19c99f8894d94a6d43eb8ed8013f8cf17fc08af9346bb9fb3697d452",
        "29f290e47012a809f5139c796493b3c693e44e009dd8fb3dafe15420e8b4c7d5",
        "eng",
        "UNLV magazine spread, landscape",
    ),
    PageSpec(
        "phototest-rotated-L",
        "testing/phototest-rotated-L.png",
        "testing/phototest.txt",
        "f9c80afb481abc07fdc6ff013df3048ef31141e7b1b90ec90ccbee8c3eddbea7",
        "76ef157baeb6ab275b7d90f310477a8060d5822aea2b2e05d480f459b016a6ed",
        "eng",
        "quarter turn left",
    ),
    PageSpec(
        "phototest-rotated-R",
        "testing/phototest-rotated-R.png",
        "testing/phototest.txt",
        "8b78f03821e57eec1c3ea3e15f1decb0cd1114322ffceaa1e27c4db91c3eb658",
        "76ef157baeb6ab275b7d90f310477a8060d5822aea2b2e05d480f459b016a6ed",
        "eng",
        "quarter turn right",
    ),
    PageSpec(
        "phototest-rotated-180",
        "testing/phototest-rotated-180.png",
        "testing/phototest.txt",
        "9a2ceaab3685a36a2041ef49b5683db2bedb4ff82d87136be4b52afa030e8114",
        "76ef157baeb6ab275b7d90f310477a8060d5822aea2b2e05d480f459b016a6ed",
        "eng",
        "upside down",
    ),
)

OCRMYPDF_PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "ocrmypdf-linn",
        "tests/resources/linn.png",
        "tests/resources/linn.txt",
        "dcd90f08a6b8a733612f818330153636c13283dd548e2e092cad1fe628ec7bf3",
        "18fbd25ca0fc7783f3b7f0e93e91e9408d2d517739f646fecbdf6209628204b1",
        "eng",
        "reference text is itself OCR output",
    ),
)

ALL_PAGES = TESSERACT_PAGES + OCRMYPDF_PAGES


# --- fetching -----------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(command: list[str], *, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} ... failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def _system_debian_mirror() -> tuple[str, str | None]:
    """The configured Debian mirror URI and keyring (read only; apt's config is untouched)."""
    stanzas: list[dict[str, str]] = []
    sources_d = Path("/etc/apt/sources.list.d")
    for path in sorted(sources_d.glob("*.sources")) if sources_d.is_dir() else []:
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if fields.get("uris"):
                stanzas.append(fields)
    for fields in stanzas:
        suites = fields.get("suites", "").split()
        if DEBIAN_SUITE in suites and "security" not in fields["uris"]:
            return fields["uris"].split()[0], fields.get("signed-by")
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] in ("deb", "deb-src") and "security" not in line:
                uri = next(p for p in parts[1:] if "://" in p)
                return uri, None
    raise RuntimeError("no Debian mirror found in /etc/apt: cannot fetch the tesseract source")


def _fetch_debian_test_tarball(cache: Path) -> Path:
    target = cache / "debian" / DEBIAN_TEST_TARBALL
    if target.is_file():
        return target
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get not found: the tesseract test pages come from Debian")
    state = cache / "apt-state"
    for sub in ("lists/partial", "cache/archives/partial", "etc"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    uri, keyring = _system_debian_mirror()
    sources = state / "etc" / "src.sources"
    lines = ["Types: deb-src", f"URIs: {uri}", f"Suites: {DEBIAN_SUITE}", "Components: main"]
    if keyring:
        lines.append(f"Signed-By: {keyring}")
    sources.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = [
        "-o", f"Dir::Etc::SourceList={sources}",
        "-o", "Dir::Etc::SourceParts=/nonexistent",
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"Dir::Cache={state / 'cache'}",
        "-o", "APT::Sandbox::User=root" if os.geteuid() == 0 else "Debug::NoLocking=1",
    ]  # fmt: skip
    print(f"fetching Debian source {DEBIAN_SOURCE} {DEBIAN_VERSION} ...", file=sys.stderr)
    _run(["apt-get", "-q", *options, "update"])
    download = cache / "debian"
    download.mkdir(parents=True, exist_ok=True)
    package = f"{DEBIAN_SOURCE}={DEBIAN_VERSION}"
    _run(["apt-get", "-q", *options, "source", "--download-only", package], cwd=download)
    if not target.is_file():
        raise RuntimeError(f"apt-get source did not produce {DEBIAN_TEST_TARBALL}")
    return target


def _fetch_ocrmypdf_sdist(cache: Path) -> Path:
    download = cache / "pypi"
    target = download / f"ocrmypdf-{OCRMYPDF_VERSION}.tar.gz"
    if target.is_file():
        return target
    download.mkdir(parents=True, exist_ok=True)
    print(f"fetching PyPI sdist ocrmypdf {OCRMYPDF_VERSION} ...", file=sys.stderr)
    _run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", f"ocrmypdf=={OCRMYPDF_VERSION}", "-d", str(download),
        ]
    )  # fmt: skip
    if not target.is_file():
        raise RuntimeError(f"pip download did not produce {target.name}")
    return target


def _extract(tarball: Path, specs: tuple[PageSpec, ...], out: Path) -> dict[str, Path]:
    """Extract just the files ``specs`` name (matched below the tarball's top folder)."""
    wanted = {p for spec in specs for p in (spec.image, spec.truth)}
    found: dict[str, Path] = {}
    if all((out / rel).is_file() for rel in wanted):
        return {rel: out / rel for rel in wanted}
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
            if rel not in wanted or not member.isfile():
                continue
            stream = archive.extractfile(member)
            if stream is None:
                continue
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(stream.read())
            found[rel] = dest
    missing = wanted - found.keys()
    if missing:
        raise RuntimeError(f"{tarball.name} lacks {sorted(missing)}")
    return found


def installed_languages() -> set[str]:
    done = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    lines = (done.stdout or done.stderr).splitlines()
    return {line.strip() for line in lines[1:] if line.strip()}


def fetch_real_pages(dest: Path = CACHE) -> list[tuple[Path, str, str]]:
    """Download (once) and extract the test pages: (image, ground truth, tesseract lang)."""
    return [(page.image, page.truth, page.lang) for page in fetch_pages(dest)]


@dataclass(frozen=True)
class RealPage:
    spec: PageSpec
    image: Path
    truth: str
    lang: str


def fetch_pages(dest: Path = CACHE, only: set[str] | None = None) -> list[RealPage]:
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    groups = (
        (TESSERACT_PAGES, _fetch_debian_test_tarball, "tesseract-test"),
        (OCRMYPDF_PAGES, _fetch_ocrmypdf_sdist, f"ocrmypdf-{OCRMYPDF_VERSION}"),
    )
    chosen: list[PageSpec] = []
    for specs, fetch, folder in groups:
        specs = tuple(s for s in specs if only is None or s.name in only)
        if not specs:
            continue
        extracted = _extract(fetch(dest), specs, dest / "pages" / folder)
        files.update({f"{folder}:{rel}": path for rel, path in extracted.items()})
        for spec in specs:
            for rel, expected in ((spec.image, spec.sha256_image), (spec.truth, spec.sha256_truth)):
                actual = _sha256(files[f"{folder}:{rel}"])
                if actual != expected:
                    raise RuntimeError(f"{folder}/{rel}: sha256 {actual}, expected {expected}")
            chosen.append(spec)
            files[spec.name] = files[f"{folder}:{spec.image}"]
            files[spec.name + ":truth"] = files[f"{folder}:{spec.truth}"]
    have = installed_languages()
    pages: list[RealPage] = []
    for spec in chosen:
        lang = spec.lang
        if spec.name == "eurotext":
            lang = "+".join(code for code in EUROTEXT_LANGS if code in have) or "eng"
        truth = files[spec.name + ":truth"].read_text(encoding="utf-8")
        pages.append(RealPage(spec, files[spec.name], truth, lang))
    return pages


# --- scoring ------------------------------------------------------------------------------


# Typographic apostrophes and dashes that ASCII ground truth (UNLV) writes as ' and -.
_ASCII_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2014": "-", "\u2013": "-"})


def words(text: str, *, drop_unlv_unknown: bool = False, fold: bool = False) -> list[str]:
    """NFC words with punctuation stripped from both ends; case kept.

    ``fold`` also maps curly apostrophes and dashes inside words to ASCII, for ground
    truth written in ASCII (UNLV's "didn't" against Tesseract's "didn’t").
    """
    text = unicodedata.normalize("NFC", text)
    if fold:
        text = text.translate(_ASCII_FOLD)
    out: list[str] = []
    for raw in text.split():
        if drop_unlv_unknown and "~" in raw:
            continue  # UNLV ground truth's mark for a character it could not encode
        start, end = 0, len(raw)
        while start < end and unicodedata.category(raw[start]).startswith("P"):
            start += 1
        while end > start and unicodedata.category(raw[end - 1]).startswith("P"):
            end -= 1
        if start < end:
            out.append(raw[start:end])
    return out


def word_recall(
    truth: str, hypothesis: str, *, drop_unlv_unknown: bool = True, fold: bool = False
) -> float:
    """Fraction of ground-truth words found in the hypothesis, counted as multisets."""
    expected = Counter(words(truth, drop_unlv_unknown=drop_unlv_unknown, fold=fold))
    total = sum(expected.values())
    if total == 0:
        return 1.0
    found = Counter(words(hypothesis, fold=fold))
    return sum(min(count, found[word]) for word, count in expected.items()) / total


def missed_words(truth: str, hypothesis: str) -> list[str]:
    expected = Counter(words(truth, drop_unlv_unknown=True))
    found = Counter(words(hypothesis))
    return sorted((expected - found).elements())


# --- running ------------------------------------------------------------------------------


def raw_tesseract(image: Path, lang: str) -> str:
    done = subprocess.run(
        ["tesseract", str(image), "-", "-l", lang],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # as sohoa runs it
    )
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed on {image.name}: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class SohoaResult:
    text: str
    rotation: int
    skew_deg: float
    dpi: float
    dpi_assumed: bool


def sohoa_pipeline(image: Path, lang: str) -> SohoaResult:
    sys.path.insert(0, str(REPO))
    from pipeline.clean import clean_page
    from pipeline.context import PageContext
    from pipeline.load import inspect_source, load_page
    from pipeline.ocr import ocr_page

    source = inspect_source(image)
    context = PageContext(source_name=image.name, page_index=0, lang=lang)
    loaded = load_page(source, context)
    cleaned = clean_page(loaded, context)
    result = ocr_page(cleaned, context)
    return SohoaResult(
        result.text, cleaned.rotation, cleaned.skew_deg, loaded.dpi, loaded.dpi_assumed
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="page names to run (default: all)")
    parser.add_argument("--show-misses", action="store_true", help="list missed words")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    only = set(args.only) if args.only else None
    pages = fetch_pages(args.cache, only)
    languages = " ".join(sorted(installed_languages()))
    print(f"tesseract: {_tesseract_version()}; languages: {languages}")
    print("word recall: strict (NFC, end punctuation stripped, case kept) | folded (also")
    print("curly apostrophes/dashes -> ASCII, for ASCII ground truth)")
    header = (
        f"{'page':<22} {'lang':<13} {'words':>5}  {'raw':>7} {'sohoa':>7} {'delta':>6} |"
        f" {'raw':>7} {'sohoa':>7}  rot/skew/dpi  time raw/sohoa"
    )
    print(header)
    print("-" * (len(header) + 6))
    rows: list[tuple[str, tuple[float, float, float, float]]] = []
    for page in pages:
        started = time.perf_counter()
        raw_text = raw_tesseract(page.image, page.lang)
        raw_s = time.perf_counter() - started
        started = time.perf_counter()
        sohoa = sohoa_pipeline(page.image, page.lang)
        sohoa_s = time.perf_counter() - started
        raw = word_recall(page.truth, raw_text)
        ours = word_recall(page.truth, sohoa.text)
        raw_f = word_recall(page.truth, raw_text, fold=True)
        ours_f = word_recall(page.truth, sohoa.text, fold=True)
        rows.append((page.spec.name, (raw, ours, raw_f, ours_f)))
        count = len(words(page.truth, drop_unlv_unknown=True))
        geometry = f"{sohoa.rotation}/{sohoa.skew_deg:+.1f}/{sohoa.dpi:.0f}" + (
            "*" if sohoa.dpi_assumed else ""
        )
        print(
            f"{page.spec.name:<22} {page.lang:<13} {count:>5}  {raw * 100:6.2f}% "
            f"{ours * 100:6.2f}% {(ours - raw) * 100:+6.2f} | {raw_f * 100:6.2f}% "
            f"{ours_f * 100:6.2f}%  {geometry:<12}  {raw_s:4.1f}s/{sohoa_s:4.1f}s  "
            f"{page.spec.note}"
        )
        if args.show_misses:
            print(f"    raw missed:   {' '.join(missed_words(page.truth, raw_text))}")
            print(f"    sohoa missed: {' '.join(missed_words(page.truth, sohoa.text))}")
    if rows:
        means = [sum(row[1][i] for row in rows) / len(rows) * 100 for i in range(4)]
        print("-" * (len(header) + 6))
        print(
            f"{'mean':<22} {'':<13} {'':>5}  {means[0]:6.2f}% {means[1]:6.2f}% "
            f"{means[1] - means[0]:+6.2f} | {means[2]:6.2f}% {means[3]:6.2f}%"
        )
        worse = [name for name, (r, o, rf, of) in rows if o < r or of < rf]
        print(f"pages where sohoa < raw: {', '.join(worse) or 'none'}")
        print("rot/skew/dpi: sohoa's clean step; * = dpi assumed (none usable in the file)")


def _tesseract_version() -> str:
    done = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).splitlines()[0].strip()


if __name__ == "__main__":
    main()
