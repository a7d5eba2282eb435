"""Crash anywhere, restart, lose nothing: the short profile of the fault suite.

The full run (every kill point at several occurrences, random-time kills) is
`bench/faults.py`; this one tries each kill point once plus two random-time kills.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults_support import KILL_POINTS, FaultReport, crash_and_recover


@pytest.mark.slow
def test_killed_anywhere_every_dossier_ends_archived_exactly_once(
    samples_dir: Path, tmp_path: Path
) -> None:
    files = [tmp_path / "one.jpg", tmp_path / "two.tiff"]
    shutil.copy(samples_dir / "page.jpg", files[0])
    shutil.copy(samples_dir / "two-pages.tiff", files[1])
    report = FaultReport()
    points = [(p, 1) for p in KILL_POINTS] + [("objects.before-rename", 4)]
    crash_and_recover(tmp_path / "runs", files, report, points=points, random_kills=2)
    print("\nfault suite (short):", report.summary())
    assert report.problems == []
    assert report.lost == 0 and report.duplicated == 0
    assert report.kills_landed >= len(KILL_POINTS) - 2  # the hooks really fire
