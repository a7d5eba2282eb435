"""The upload page's counts add up (issue 29): pages read never go back while a stack is
split and its dossiers are archived one after another."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.views import batch_json
from config import Settings
from flows import runtime
from flows.runtime import metadata_store
from models import BatchInfo, DossierStatus, FieldInfo, PageInfo, Principal, Role


def _page(index: int) -> PageInfo:
    return PageInfo(index=index, width_px=1654, height_px=2339, dpi=200.0, kind="receipt")


def test_progress_never_runs_backwards_while_a_stack_is_split(tmp_path: Path) -> None:
    runtime.reset()
    settings = Settings(data_dir=tmp_path / "data")
    meta = metadata_store(settings)
    meta.create_batch(BatchInfo("b1", datetime.now(UTC), "vie", 1, agency_code="A"))
    meta.add_dossier("b1-001", "b1", 0, "stack.pdf")
    meta.record_original(
        "b1-001", key="k", sha256="0" * 64, size=1, media_type="application/pdf", page_count=3
    )
    seen: list[tuple[int, int]] = []
    operator = Principal(token_id="t", name="operator", role=Role.OPERATOR)

    def progress() -> None:
        shown = batch_json(settings, meta.get_batch("b1"), operator)["progress"]
        seen.append((shown["pages_done"], shown["pages_total"]))

    for index in range(3):
        meta.record_page("b1-001", _page(index))
        progress()
    # The stack holds two dossiers: page 1, and pages 2-3.
    meta.set_source_pages("b1-001", [0])
    meta.add_split_dossier("b1-001-02", from_dossier_id="b1-001", pages=[1, 2])
    progress()
    meta.mark_archived("b1-001", fields=[FieldInfo("full_name", "A", "ocr", 0.9)], pages=[_page(0)])
    progress()
    meta.mark_archived(
        "b1-001-02", fields=[FieldInfo("full_name", "B", "ocr", 0.9)], pages=[_page(0), _page(1)]
    )
    progress()
    assert seen == [(1, 3), (2, 3), (3, 3), (3, 3), (3, 3), (3, 3)]
    assert meta.get_dossier("b1-001-02").status is DossierStatus.ARCHIVED
    runtime.reset()
