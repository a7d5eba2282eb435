"""Word recall of the text layer on a real page with columns (UNLV 8087, issue 28).

What search and copy-paste see is ``pdftotext`` of the archived PDF, so that is scored:

* **sohoa**: ``sohoa process`` of the page (``SOHOA_LANG=eng``), then ``pdftotext`` of the
  archived PDF;
* **bare text**: ``tesseract PAGE - -l eng`` (the engine's own reading order, no PDF);
* **bare pdf**: ``tesseract PAGE out -l eng pdf``, then ``pdftotext`` (Tesseract's own
  text layer).

Recall: the share of ground-truth words of two letters or more found, case and
apostrophes folded, line-end hyphenation undone on both sides
(tests/test_reading_order.py ``text_layer_recall``); strict recall (bench/real_pages.py)
beside it.

    .venv/bin/python bench/columns.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.real_pages import word_recall  # noqa: E402
from tests.test_reading_order import FIXTURES, text_layer_recall  # noqa: E402


def _pdftotext(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True)
    return done.stdout.decode("utf-8", errors="replace")


def sohoa_text(image: Path, work: Path) -> str:
    env = {**os.environ, "SOHOA_DATA_DIR": str(work / "data"), "SOHOA_LANG": "eng"}
    env.pop("SOHOA_DATABASE_URL", None)
    sohoa = [str(REPO / ".venv" / "bin" / "sohoa")]
    done = subprocess.run(
        [*sohoa, "process", "--json", str(image)], env=env, capture_output=True, text=True
    )
    dossier = json.loads(done.stdout)["dossiers"][0]["dossier_id"]
    out = work / "sohoa.pdf"
    subprocess.run(
        [*sohoa, "get", dossier, "--pdf", "-o", str(out)], env=env, check=True, capture_output=True
    )
    return _pdftotext(out)


def main() -> None:
    image = FIXTURES / "8087_054.3B.tif"
    truth = (FIXTURES / "8087_054.3B.txt").read_text(encoding="utf-8")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with tempfile.TemporaryDirectory(prefix="sohoa-columns-") as tmp:
        work = Path(tmp)
        bare_text = subprocess.run(
            ["tesseract", str(image), "-", "-l", "eng"], capture_output=True, text=True, env=env
        ).stdout
        subprocess.run(
            ["tesseract", str(image), str(work / "bare"), "-l", "eng", "pdf"],
            capture_output=True,
            env=env,
            check=True,
        )
        texts = {
            "sohoa (pdftotext)": sohoa_text(image, work),
            "bare tesseract text": bare_text,
            "bare tesseract pdf (pdftotext)": _pdftotext(work / "bare.pdf"),
        }
    print(f"UNLV 8087 ({image.name}): word recall")
    for name, text in texts.items():
        print(
            f"  {name:<32} {text_layer_recall(truth, text) * 100:6.2f} %"
            f"   strict {word_recall(truth, text) * 100:6.2f} %"
        )


if __name__ == "__main__":
    main()
