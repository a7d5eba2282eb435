from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from config import Settings, process_settings
from flows import runtime
from tests import synth
from tests.pgcluster import ClusterUnavailable, PostgresCluster

REPO = Path(__file__).resolve().parent.parent


def pytest_report_header() -> list[str]:
    return [f"tesseract: {shutil.which('tesseract')}, pdftotext: {shutil.which('pdftotext')}"]


# --- databases: every metadata test runs on SQLite and on a real PostgreSQL ---------------

_postgres_skip_reason: list[str] = []
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster.start()
    except ClusterUnavailable as exc:
        reason = f"PostgreSQL could not be started: {exc}"
        if os.environ.get("SOHOA_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (SOHOA_REQUIRE_POSTGRES=1)", pytrace=False)
        _postgres_skip_reason.append(reason)
        pytest.skip(reason)
    yield cluster
    cluster.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_skip_reason:
        terminalreporter.write_sep("!", "POSTGRESQL TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_postgres_skip_reason[0], red=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database; sohoa migrates it on first use, as in production."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sohoa.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database(f"test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture
def db_settings(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """Embedded settings on each metadata backend (local objects)."""
    runtime.reset()
    yield Settings(data_dir=tmp_path / "data", database_url=database_url, workers=2)
    runtime.reset()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    runtime.reset()
    yield Settings(data_dir=tmp_path / "data", workers=2)
    runtime.reset()


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few generated scans shared by the tests (built once per session)."""
    root = tmp_path_factory.mktemp("samples")
    pages = [
        synth.degrade(
            synth.render_page(synth.corpus_lines(14, seed), dpi=200, font_pt=11),
            spec,
            seed,
        )
        for seed, spec in enumerate(
            [
                synth.Degradation(noise_sigma=6),
                synth.Degradation(rotation=180, skew_deg=2.5, noise_sigma=6),
                synth.Degradation(rotation=90, skew_deg=-4, jpeg_quality=60),
            ]
        )
    ]
    synth.save_pdf(pages, root / "three-pages.pdf")
    synth.save_tiff(pages[:2], root / "two-pages.tiff")
    pages[0].image.save(root / "page.jpg", quality=90, dpi=(200, 200))
    pages[2].image.save(root / "page.png", dpi=(200, 200))
    (root / "truth").mkdir()
    for index, page in enumerate(pages):
        (root / "truth" / f"{index}.txt").write_text(page.text, encoding="utf-8")
    (root / "not-a-pdf.pdf").write_text("Xin chào, this is plain text\n", encoding="utf-8")
    (root / "zero.pdf").write_bytes(b"")
    data = (root / "three-pages.pdf").read_bytes()
    (root / "truncated.pdf").write_bytes(data[: len(data) // 3][:2000])
    return root


@pytest.fixture(scope="session")
def truth(samples_dir: Path) -> list[str]:
    return [(samples_dir / "truth" / f"{i}.txt").read_text(encoding="utf-8") for i in range(3)]


def bgr(page: synth.SynthPage) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(page.image.convert("RGB"))[:, :, ::-1])


@pytest.fixture(autouse=True)
def _quiet_prefect(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    yield
    process_settings.cache_clear()  # a test's environment is not the next one's
