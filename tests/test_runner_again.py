"""A rescan while its batch's other files are still being read (issue 26): the batch runs
once more after the pass running now, which had walked past the rescanned dossier."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.runner import BatchRunner
from config import Settings
from flows import runtime
from flows.runtime import metadata_store
from models import BatchInfo


def test_a_batch_asked_again_while_running_runs_once_more_after(tmp_path: Path) -> None:
    runtime.reset()
    settings = Settings(data_dir=tmp_path / "data")
    metadata_store(settings).create_batch(BatchInfo("b26", datetime.now(UTC), "vie", 1))
    release = threading.Event()
    started = threading.Event()
    passes: list[str] = []

    def run(_settings: Settings, batch_id: str, _sources: list[Any], _lang: str) -> None:
        passes.append(batch_id)
        started.set()
        if len(passes) == 1:
            assert release.wait(30)  # the first pass is still reading other files

    runner = BatchRunner(settings, run=run)
    try:
        first = runner.submit("b26")
        assert started.wait(30)
        # Asked twice while the pass runs (two rescans): one more pass, not two.
        assert runner.submit_again("b26") is first
        assert runner.submit_again("b26") is first
        release.set()
        first.result(timeout=30)
        # The second pass is queued by the first's completion (its done callback).
        deadline = time.monotonic() + 30
        while len(passes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.wait("b26", timeout=30)
        assert passes == ["b26", "b26"]
        # Idle: asked again, it simply runs.
        runner.submit_again("b26").result(timeout=30)
        assert passes == ["b26", "b26", "b26"]
    finally:
        release.set()
        runner.shutdown(wait=True)
        runtime.reset()
