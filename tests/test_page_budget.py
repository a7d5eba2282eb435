"""One page's time budget covers every step, not only Tesseract (issue 31).

Slow steps are fakes (a step that sleeps, a loop that spins): no test here depends on how
fast the real OCR is."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import Settings
from flows import steps
from flows.orchestrator import run_batch
from flows.runtime import metadata_store
from models import BatchInfo, DossierStatus
from models.errors import PageTimeoutError
from models.pagerecord import OcrWord
from pipeline import page as page_module
from pipeline.context import PageContext
from pipeline.deadline import PageDeadline, check_deadline, page_deadline
from pipeline.load import inspect_source
from pipeline.tables import read_crossed_cells
from storage import keys
from tests.test_tables import CellReader, _first_reading
from tests.test_tables import _page as table_page


class SleepyStep:
    """A step that overruns in one go (a slow native call that returns in the end)."""

    name = "barcodes"

    def able_to_run(self, job: Any) -> bool:
        return True

    def run(self, job: Any) -> None:
        time.sleep(0.6)


class SpinningStep:
    """A pure-Python loop with no end of its own (a parser fed a hostile page), checking
    the page's deadline between items as the pipeline's long loops do."""

    name = "cleanup"

    def able_to_run(self, job: Any) -> bool:
        return True

    def run(self, job: Any) -> None:
        while True:
            check_deadline("cleaning up")


def _context(name: str, budget_s: float) -> PageContext:
    return PageContext(source_name=name, page_index=0, ocr_timeout_s=budget_s)


def test_a_step_past_the_budget_fails_the_page_in_one_line(
    samples_dir: Path, tmp_path: Path
) -> None:
    source = inspect_source(samples_dir / "page.jpg", name="đơn.jpg")
    with pytest.raises(PageTimeoutError) as failed:
        page_module.process_page(
            source, _context("đơn.jpg", 0.3), tmp_path,
            steps=(page_module.LoadStep(), SleepyStep(), page_module.ExistingTextStep()),
        )  # fmt: skip
    assert failed.value.message == (
        "đơn.jpg: page 1 took longer than 0.3 s: stopped in the barcodes step"
    )


def test_a_spinning_loop_is_stopped_at_the_budget(samples_dir: Path, tmp_path: Path) -> None:
    source = inspect_source(samples_dir / "page.jpg", name="scan.jpg")
    started = time.monotonic()
    with pytest.raises(PageTimeoutError, match=r"^scan.jpg: page 1 took longer than 0.5 s: "):
        page_module.process_page(
            source, _context("scan.jpg", 0.5), tmp_path,
            steps=(page_module.LoadStep(), SpinningStep()),
        )  # fmt: skip
    assert time.monotonic() - started < 15.0  # the budget (and a loaded machine), not forever


def test_tesseract_gets_only_what_is_left_of_the_budget(samples_dir: Path, tmp_path: Path) -> None:
    seen: list[float] = []

    class Probe:
        name = "ocr"

        def able_to_run(self, job: Any) -> bool:
            return True

        def run(self, job: Any) -> None:
            seen.append(job.context.ocr_timeout_s)

    source = inspect_source(samples_dir / "page.jpg", name="scan.jpg")
    with pytest.raises(KeyError):  # no outputs written by these steps: fine, seen is filled
        page_module.process_page(
            source, _context("scan.jpg", 60.0), tmp_path,
            steps=(page_module.LoadStep(), SleepyStep(), Probe()),
        )  # fmt: skip
    assert len(seen) == 1 and 1.0 <= seen[0] <= 59.5


@pytest.mark.slow
def test_the_batch_goes_on_past_a_page_over_its_budget(
    db_settings: Settings, samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file's page spins; it fails with its one line, the other file is archived."""
    good, slow = tmp_path / "good.jpg", tmp_path / "slow.jpg"
    shutil.copy(samples_dir / "page.jpg", good)
    slow.write_bytes((samples_dir / "page.jpg").read_bytes() + b"\0")  # other bytes
    real = steps.process_page

    def process_page(source: Any, context: PageContext, work: Path, **kw: Any) -> Any:
        if context.source_name == "slow.jpg":
            return real(
                source, replace(context, ocr_timeout_s=0.5), work,
                steps=(page_module.LoadStep(), SpinningStep()),
            )  # fmt: skip
        return real(source, context, work, **kw)

    monkeypatch.setattr(steps, "process_page", process_page)
    settings = db_settings.model_copy(update={"orchestrator": "inline"})
    meta = metadata_store(settings)
    batch = BatchInfo("budget", datetime.now(UTC), "vie", 2)
    meta.create_batch(batch)
    sources = [steps.SourceRef(str(slow), "slow.jpg"), steps.SourceRef(str(good), "good.jpg")]
    run_batch(settings, "budget", sources, "vie")
    failed = meta.get_dossier(keys.dossier_id("budget", 0))
    archived = meta.get_dossier(keys.dossier_id("budget", 1))
    assert failed.status is DossierStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith("slow.jpg: page 1 took longer than 0.5 s: stopped ")
    assert "\n" not in failed.error
    assert archived.status is DossierStatus.ARCHIVED, archived.error


def test_parts_read_again_share_what_is_left_of_the_budget() -> None:
    """A table's cells read again one after another inside the OCR step: each read gets
    only what is left of the page's budget, not the step's whole timeout again, and the
    page stops once it is spent. The engine is a fake that "takes" 0.6 s a cell by moving
    the deadline's start back: nothing here waits or depends on the machine's speed."""
    deadline = PageDeadline("list.jpg", 1, budget_s=1.0)

    class SlowCellReader(CellReader):
        def __init__(self) -> None:
            super().__init__()
            self.timeouts: list[float] = []

        def read(self, image: np.ndarray, **kwargs: Any) -> tuple[OcrWord, ...]:
            self.timeouts.append(kwargs["timeout_s"])
            deadline.started -= 0.6
            return super().read(image, **kwargs)

    reader = SlowCellReader()
    with page_deadline(deadline), pytest.raises(PageTimeoutError) as failed:
        read_crossed_cells(
            _first_reading(header_confidence=45.0), table_page(), reader,
            page_dpi=200.0, dpi=200.0, timeout_s=30.0, label="list.jpg p1",
        )  # fmt: skip
    assert len(reader.timeouts) == 2  # of the header's three cells: the third never started
    assert 0.9 <= reader.timeouts[0] <= 1.0 and 0.3 <= reader.timeouts[1] <= 0.4
    assert failed.value.message == (
        "list.jpg: page 1 took longer than 1 s: stopped reading part of the page again"
    )
