"""Field extraction and stack splitting on generated dossiers, through `sohoa process`.

Generates stacks (receipt with QR + application form + ID copy with chip QR, sometimes a
supporting paper, scanned at 200 dpi with noise, skew, JPEG and upside-down pages; see
tests/dossiers.py), runs `sohoa process --json`, and prints: dossiers found vs expected,
codes in order, per-field exact-match rate, and how many dossiers were flagged for review.

    .venv/bin/python bench/fields.py [--dossiers 30] [--per-stack 10] [--separators]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import dossiers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=30)
    parser.add_argument("--per-stack", type=int, default=10)
    parser.add_argument("--separators", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sohoa-fields-") as tmp:
        root = Path(tmp)
        files, truths = [], []
        for number, start in enumerate(range(0, args.dossiers, args.per_stack)):
            count = min(args.per_stack, args.dossiers - start)
            pages, stack_truths, _ = dossiers.make_stack(
                count, seed=1000 + number, separators=args.separators
            )
            path = root / f"stack-{number:02d}.pdf"
            dossiers.save_stack_pdf(pages, path)
            files.append(str(path))
            truths.append(stack_truths)
        env = {**os.environ, "SOHOA_DATA_DIR": str(root / "data")}
        started = time.perf_counter()
        done = subprocess.run(
            [str(REPO / ".venv" / "bin" / "sohoa"), "process", "--json", *files],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        report = json.loads(done.stdout)
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    split_ok = 0
    flagged = 0
    for path, stack_truths in zip(files, truths, strict=True):
        # The report names a file as the clerk would see it: its name, without our folders.
        found = [d for d in report["dossiers"] if d["source"] in (path, Path(path).name)]
        codes_ok = [d["dossier_code"] for d in found] == [t.dossier_code for t in stack_truths]
        split_ok += int(len(found) == len(stack_truths) and codes_ok)
        for dossier, truth in zip(found, stack_truths, strict=False):
            flagged += int(dossier["needs_review"])
            for name, value in truth.expected_fields().items():
                seen[name] += 1
                right[name] += int(dossier["fields"].get(name) == value)
    total_right, total = sum(right.values()), sum(seen.values())
    print(
        f"{args.dossiers} dossiers in {len(files)} stack(s); "
        f"sohoa exit {done.returncode}; {wall:.0f} s"
    )
    print(f"stacks split exactly (count and codes in order): {split_ok}/{len(files)}")
    for name in seen:
        print(
            f"  {name:<14} {right[name]:>4}/{seen[name]:<4} {right[name] / seen[name] * 100:6.1f} %"
        )
    print(f"fields exactly right: {total_right}/{total} = {total_right / total * 100:.2f} %")
    print(f"dossiers flagged for review: {flagged}/{args.dossiers}")


if __name__ == "__main__":
    main()
