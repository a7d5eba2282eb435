"""Field extraction and stack splitting on generated dossiers, through `sohoa process`.

Generates stacks (receipt with QR + application form + ID copy with chip QR, sometimes a
supporting paper, scanned at 200 dpi with noise, skew, JPEG and upside-down pages; see
tests/dossiers.py), runs `sohoa process --json`, and prints: dossiers found vs expected,
codes in order, per-field exact-match rate, and how many dossiers were flagged for review.

    .venv/bin/python bench/fields.py [--dossiers 30] [--per-stack 10] [--separators]

``--suites`` runs issue 14's sets instead (``tests.dossiers.Variant``): printed dossiers whose
receipt QR uses each supported layout (JSON, key=value, pipes, the Art. 26 pipe order with a
date for the time, a look-up URL); forms filled in by hand (with and without the ID copy);
dossiers without an ID copy; and an ID copy whose chip QR disagrees with every other paper.
For each set it prints the exact-match rate per field and the review rate, and checks every
stored candidate: no field taken from the wrong kind of QR (a receipt QR gives only the
dossier code and the ID; a chip-ID QR only what that card's QR holds), and every field the
citizen wrote by hand either read right or in review, marked handwritten, with its crop stored.

    .venv/bin/python bench/fields.py --suites [--repeat 2]
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
    parser.add_argument("--suites", action="store_true", help="issue 14's sets (see above)")
    parser.add_argument("--repeat", type=int, default=1, help="--suites: stacks per set")
    args = parser.parse_args()
    if args.suites:
        run_suites(args.repeat)
        return
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


# --- issue 14's sets --------------------------------------------------------------------------

V = dossiers.Variant
SUITES: dict[str, list[dossiers.Variant]] = {
    "printed": [V(qr_style=style) for style in dossiers.ALL_QR_STYLES],
    "handwritten": [V(handwritten=True), V(handwritten=True, with_id_copy=False)],
    "no ID copy": [V(with_id_copy=False, qr_style="art26"), V(with_id_copy=False)],
    "conflicting": [V(conflicting_qr=True, qr_style="art26"), V(conflicting_qr=True)],
}
# What each kind of QR may give (pipeline.qrdata): anything else is a field from the wrong QR.
QR_GIVES = {
    "receipt_qr": {"dossier_code", "id_number"},
    "citizen_id_qr": {"id_number", "full_name", "date_of_birth", "sex", "address"},
}
# The fields a citizen writes by hand on each form (and the bench checks).
HAND_FIELDS = {
    "doi-gplx": ("full_name", "date_of_birth", "id_number"),
    "lltp": ("full_name", "date_of_birth", "sex", "id_number", "address", "phone"),
}


def _qr_truth(truth: dossiers.DossierTruth, paper: str) -> dict[str, str]:
    if paper == "receipt_qr":
        return {"dossier_code": truth.dossier_code, "id_number": truth.person.id_number}
    card = truth.id_qr_person or truth.person
    return {
        "id_number": card.id_number,
        "full_name": card.full_name,
        "date_of_birth": card.date_of_birth.isoformat(),
        "sex": card.sex,
        "address": card.address,
    }


def run_suites(repeat: int) -> None:
    from config import Settings
    from flows.runtime import metadata_store, object_store
    from models.textfold import fold

    with tempfile.TemporaryDirectory(prefix="sohoa-fields14-") as tmp:
        root = Path(tmp)
        plan: list[tuple[str, Path, list[dossiers.DossierTruth]]] = []
        for number, (suite, variants) in enumerate(SUITES.items()):
            for copy in range(repeat):
                pages, truths, _ = dossiers.make_stack(
                    len(variants), seed=1400 + 10 * number + copy, variants=variants
                )
                path = root / f"{suite.replace(' ', '-')}-{copy}.pdf"
                dossiers.save_stack_pdf(pages, path)
                plan.append((suite, path, truths))
        env = {**os.environ, "SOHOA_DATA_DIR": str(root / "data"), "OMP_THREAD_LIMIT": "1"}
        started = time.perf_counter()
        done = subprocess.run(
            [str(REPO / ".venv" / "bin" / "sohoa"), "process", "--json"]
            + [str(path) for _, path, _ in plan],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        report = json.loads(done.stdout)
        settings = Settings(data_dir=root / "data")
        meta, objects = metadata_store(settings), object_store(settings)
        print(f"{len(plan)} stack(s), sohoa exit {done.returncode}, {wall:.0f} s")
        wrong_qr = 0
        hand_total = hand_ok = in_review = suggested = 0
        hand_problems: list[str] = []
        all_right: Counter[str] = Counter()
        all_seen: Counter[str] = Counter()
        for suite in SUITES:
            right: Counter[str] = Counter()
            seen: Counter[str] = Counter()
            flagged = count = 0
            for name_of_suite, path, truths in plan:
                if name_of_suite != suite:
                    continue
                found = [d for d in report["dossiers"] if d["source"] == path.name]
                if len(found) != len(truths):
                    print(f"  {path.name}: {len(found)} dossiers found, {len(truths)} made")
                for summary, truth in zip(found, truths, strict=False):
                    count += 1
                    flagged += int(summary["needs_review"])
                    if summary["needs_review"]:
                        print(f"  review {path.name}: {'; '.join(summary['review_reasons'])}")
                    dossier = meta.get_dossier(summary["dossier_id"])
                    details = {f.name: f for f in dossier.field_details}
                    expected = truth.expected_fields()
                    for name, value in expected.items():
                        seen[name] += 1
                        right[name] += int(summary["fields"].get(name) == value)
                    for field in dossier.field_details:
                        for candidate in field.candidates:
                            if candidate.paper not in QR_GIVES:
                                continue
                            allowed = QR_GIVES[candidate.paper]
                            held = _qr_truth(truth, candidate.paper).get(field.name)
                            same = held is not None and (
                                fold(candidate.value) == fold(held) or field.name == "address"
                            )
                            if field.name not in allowed or not same:
                                wrong_qr += 1
                                print(
                                    f"  wrong QR: {path.name} {field.name} = "
                                    f"{candidate.value!r} from {candidate.where}"
                                )
                    if not truth.handwritten:
                        continue
                    for name in HAND_FIELDS[truth.procedure]:
                        hand_total += 1
                        field_info = details.get(name)
                        if summary["fields"].get(name) == expected[name]:
                            hand_ok += 1
                            continue
                        crop_ok = (
                            field_info is not None
                            and field_info.state == "handwritten"
                            and field_info.crop_key is not None
                            and objects.exists(field_info.crop_key)
                        )
                        if dossier.needs_review and crop_ok:
                            hand_ok += 1
                            in_review += 1
                            # Issue 19: the second reader's reading, pre-filled for a person.
                            suggested += bool(field_info and field_info.suggestion)
                        else:
                            got = summary["fields"].get(name)
                            hand_problems.append(
                                f"{path.name} {summary['dossier_id']} {name}: {got!r} "
                                f"(truth {expected[name]!r}, "
                                f"state {field_info.state if field_info else None}, "
                                f"review {dossier.needs_review})"
                            )
            total_right, total = sum(right.values()), sum(seen.values())
            all_right.update(right)
            all_seen.update(seen)
            print(
                f"{suite}: {count} dossiers, fields exact {total_right}/{total} = "
                f"{total_right / max(1, total) * 100:.2f} %, review {flagged}/{count}"
            )
            for name in seen:
                print(
                    f"  {name:<14} {right[name]:>4}/{seen[name]:<4} "
                    f"{right[name] / seen[name] * 100:6.1f} %"
                )
        print(f"fields taken from the wrong kind of QR: {wrong_qr}")
        print(f"handwritten fields read right or in review with their crop: {hand_ok}/{hand_total}")
        print(f"handwritten fields in review with a reader's suggestion: {suggested}/{in_review}")
        for problem in hand_problems:
            print(f"  not so: {problem}")


if __name__ == "__main__":
    main()
