"""Hostile and broken input: each fails alone and clearly; the rest of the batch goes on."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config import Settings
from flows import runtime, steps
from flows.runtime import metadata_store, object_store
from models import BatchInfo
from models.errors import BadInputError
from models.names import display_name
from pipeline.context import PageContext
from pipeline.load import inspect_source, load_page
from storage import keys
from tests.hostile import make_hostile_inputs
from tests.service_support import run_steps


@pytest.mark.slow
def test_hostile_batch_fails_each_bad_file_alone(tmp_path: Path) -> None:
    inputs = make_hostile_inputs(tmp_path / "in")
    runtime.reset()
    settings = Settings(data_dir=tmp_path / "data", workers=2, max_pages_per_file=2000)
    meta, objects = metadata_store(settings), object_store(settings)
    meta.create_batch(BatchInfo("hostile", datetime.now(UTC), "vie", len(inputs)))
    sources = [steps.SourceRef(str(i.path), i.path.name) for i in inputs]
    run_steps(settings, "hostile", sources, "vie")
    for position, item in enumerate(inputs):
        dossier = meta.get_dossier(keys.dossier_id("hostile", position))
        shown = display_name(item.path.name, "")
        assert dossier.status == item.expect, (shown, dossier.status, dossier.error)
        if item.expect == "failed":
            error = dossier.error or ""
            assert error.startswith(f"{shown}: ") and item.problem in error, error
            assert "\n" not in error and str(tmp_path) not in error
        if item.expect == "duplicate":
            assert dossier.duplicate_of == keys.dossier_id("hostile", 0)
            continue
        key = meta.original_key(dossier.dossier_id)  # every original is kept, refused or not
        assert key and objects.get_bytes(key) == item.path.read_bytes(), shown
    latin = meta.get_dossier(keys.dossier_id("hostile", 5))
    assert latin.source_name == "h\ufffds\ufffd-b\ufffdn-sao.png"  # shown, never a path
    runtime.reset()


FUZZ_EXAMPLES = int(os.environ.get("SOHOA_FUZZ_EXAMPLES", "60"))  # bench/faults.py: more


@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.sampled_from(["pdf", "tiff", "jpeg", "png", "random"]),
    cut=st.integers(min_value=0, max_value=4000),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
)
def test_fuzzed_files_give_bad_input_or_a_page_never_a_crash(
    samples_dir: Path, tmp_path: Path, seed: str, cut: int, flips: list[tuple[int, int]]
) -> None:
    """Truncated and bit-flipped scans: the loaders answer with a page or BadInputError."""
    base = {
        "pdf": samples_dir / "three-pages.pdf",
        "tiff": samples_dir / "two-pages.tiff",
        "jpeg": samples_dir / "page.jpg",
        "png": samples_dir / "page.png",
    }.get(seed)
    data = bytearray(base.read_bytes()[: max(cut * 50, 1)] if base else bytes(cut % 700))
    for offset, value in flips:
        if data:
            data[offset % len(data)] = value
    target = tmp_path / f"fuzz-{seed}.bin"
    target.write_bytes(bytes(data))
    try:
        source = inspect_source(target, name="fuzz.bin", max_pages=50)
        for index in range(min(source.page_count, 2)):
            page = load_page(source, PageContext(source_name="fuzz.bin", page_index=index))
            assert page.image.size > 0
    except BadInputError as exc:
        assert exc.message.startswith("fuzz.bin: ") and "\n" not in exc.message
