"""Character error rate of sohoa's searchable PDF on a generated degraded Vietnamese scan.

Generates N pages (default 12) cycling through tests.synth.MIXED_DEGRADATIONS, runs
`sohoa process` then `sohoa get --pdf`, reads the text layer back with pdftotext and
compares each page with its ground truth (Levenshtein distance / reference length, NFC,
whitespace collapsed). Prints per-page CER, mean, worst, and wall time.

    .venv/bin/python bench/cer.py [--pages 12] [--dpi 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sohoa-cer-") as tmp:
        root = Path(tmp)
        pages = synth.mixed_degraded_pages(args.pages, dpi=args.dpi)
        scan = root / "degraded.pdf"
        synth.save_pdf(pages, scan)
        env = {**os.environ, "SOHOA_DATA_DIR": str(root / "data")}
        sohoa = [str(REPO / ".venv" / "bin" / "sohoa")]
        started = time.perf_counter()
        done = subprocess.run(
            [*sohoa, "process", "--json", str(scan)], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"sohoa process failed ({done.returncode}): {done.stderr.strip()}")
        dossier = json.loads(done.stdout)["dossiers"][0]["dossier_id"]
        out = root / "out.pdf"
        subprocess.run([*sohoa, "get", dossier, "--pdf", "-o", str(out)], env=env, check=True)
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True, check=True
        ).stdout.decode()
        rates = [
            synth.char_error_rate(p.text, t) for p, t in zip(pages, text.split("\f"), strict=False)
        ]
        print(f"pages: {len(pages)} at {args.dpi} dpi; sohoa process wall time {wall:.1f} s")
        for index, (page, rate) in enumerate(zip(pages, rates, strict=True), start=1):
            spec = page.meta.get("degradation")
            print(f"  page {index:>2}  CER {rate * 100:6.2f} %   {spec}")
        print(f"mean CER {sum(rates) / len(rates) * 100:.2f} %, worst {max(rates) * 100:.2f} %")


if __name__ == "__main__":
    main()
