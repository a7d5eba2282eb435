"""Crash-and-restart runs and the checks that nothing was lost or duplicated.

Shared by the CI short profile (tests/test_faults.py) and the full run (bench/faults.py).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from config import Settings
from flows import runtime
from flows.runtime import metadata_store, object_store
from models import DossierStatus
from storage import keys
from storage.archive import read_manifest, verified_bytes

REPO = Path(__file__).resolve().parent.parent

# Where state is half-written; each is tried at its 1st, 2nd ... occurrence.
KILL_POINTS = (
    "objects.before-rename",
    "objects.after-rename",
    "metadata.before-commit",
    "page.after-ocr",
    "archive.after-assemble",
    "archive.after-manifest",
)


@dataclass
class FaultReport:
    kill_points: list[str] = field(default_factory=list)
    kills_landed: int = 0
    random_kills: int = 0
    dossiers_checked: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"kill points tried: {len(self.kill_points)} ({self.kills_landed} killed the run, "
            f"{self.random_kills} random-time kills); dossiers checked: "
            f"{self.dossiers_checked}; lost: {self.lost}; duplicated: {self.duplicated}"
        )


def run_driver(
    data_dir: Path, batch_id: str, files: list[Path], *, fault: str | None = None,
    kill_after_s: float | None = None, timeout: float = 600,
) -> int:  # fmt: skip
    """One run of the batch in a child process; its return code (-9 when killed)."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    env.pop("SOHOA_FAULT", None)
    if fault:
        env["SOHOA_FAULT"] = fault
    command = [sys.executable, "-m", "tests.fault_driver", str(data_dir), batch_id]
    process = subprocess.Popen(
        [*command, *map(str, files)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    if kill_after_s is not None:
        try:
            process.wait(timeout=kill_after_s)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    process.wait(timeout=timeout)
    return process.returncode


def check_batch(data_dir: Path, batch_id: str, files: list[Path], report: FaultReport) -> None:
    """Every file archived exactly once, byte for byte, with every artefact, nothing extra."""
    runtime.reset()
    settings = Settings(data_dir=data_dir)
    meta, objects = metadata_store(settings), object_store(settings)
    dossiers = meta.batch_dossiers(batch_id)
    report.dossiers_checked += len(dossiers)
    by_id = {d.dossier_id: d for d in dossiers}
    for position, path in enumerate(files):
        dossier_id = keys.dossier_id(batch_id, position)
        dossier = by_id.get(dossier_id)
        if dossier is None:
            report.lost += 1
            report.problems.append(f"{path.name}: no dossier")
            continue
        if dossier.status is not DossierStatus.ARCHIVED:
            report.lost += 1
            report.problems.append(f"{dossier_id}: {dossier.status} ({dossier.error})")
            continue
        original = objects.get_bytes(meta.original_key(dossier_id) or "")
        if hashlib.sha256(original).hexdigest() != hashlib.sha256(path.read_bytes()).hexdigest():
            report.lost += 1
            report.problems.append(f"{dossier_id}: original differs from {path.name}")
        manifest = read_manifest(objects, dossier_id)
        for entry in manifest["objects"]:
            if entry["role"] in ("pdf", "text", "fields"):
                verified_bytes(objects, dossier_id, entry["key"])  # raises on any mismatch
        expected = {e["key"] for e in manifest["objects"]} | {keys.manifest_key(dossier_id)}
        stored = set(objects.list(keys.dossier_prefix(dossier_id)))
        extra = stored - expected
        if extra:
            report.duplicated += len(extra)
            report.problems.append(f"{dossier_id}: objects outside its manifest: {sorted(extra)}")
        info = meta.get_dossier(dossier_id)
        indices = {p.index for p in info.pages}
        if len(info.pages) != info.page_count or len(indices) != len(info.pages):
            report.duplicated += 1
            report.problems.append(f"{dossier_id}: {len(info.pages)} page rows")
    with meta.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT count(*) FROM dossiers WHERE batch_id = :b"), {"b": batch_id}
        ).scalar_one()
    if rows != len(dossiers):
        report.duplicated += 1
    runtime.reset()


def crash_and_recover(
    work: Path, files: list[Path], report: FaultReport, *, points: list[tuple[str, int]],
    random_kills: int = 0, seed: int = 1,
) -> None:  # fmt: skip
    """For each kill point: a fresh data dir, a run killed there, a clean restart, checks."""
    rng = random.Random(seed)
    trials: list[tuple[str | None, float | None]] = [(f"{p}:{n}", None) for p, n in points]
    trials += [(None, rng.uniform(0.5, 8.0)) for _ in range(random_kills)]
    for number, (fault, delay) in enumerate(trials):
        data_dir = work / f"run-{number:03d}"
        batch_id = f"crash{number:03d}"
        code = run_driver(data_dir, batch_id, files, fault=fault, kill_after_s=delay)
        label = fault or f"random kill after {delay:.1f} s"
        report.kill_points.append(label)
        if code == -signal.SIGKILL:
            report.kills_landed += 1
            report.random_kills += delay is not None
        # The restart: the same batch again, nothing else.
        for _attempt in range(2):
            if run_driver(data_dir, batch_id, files) == 0:
                break
            time.sleep(0.2)
        check_batch(data_dir, batch_id, files, report)
