"""What runs a batch's tasks: Prefect, or threads of this process with no Prefect at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import Settings, orchestrator_for
from flows.submit import RETRY_DELAYS_S, InlineSubmitter, retryable
from models.errors import BadInputError, OcrEngineError, StorageError
from storage.metadata import MetadataStore

REPO = Path(__file__).resolve().parent.parent


def test_auto_is_inline_only_for_one_shot_commands_without_a_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    auto = Settings(data_dir=tmp_path)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert orchestrator_for(auto, long_lived=False) == "inline"
    assert orchestrator_for(auto, long_lived=True) == "prefect"  # sohoa serve, as before
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    assert orchestrator_for(auto, long_lived=False) == "prefect"  # runs others can see
    forced = Settings(data_dir=tmp_path, orchestrator="inline")
    assert orchestrator_for(forced, long_lived=True) == "inline"
    monkeypatch.delenv("PREFECT_API_URL")
    forced = Settings(data_dir=tmp_path, orchestrator="prefect")
    assert orchestrator_for(forced, long_lived=False) == "prefect"


class Flaky:
    """Fails with ``error`` for the first ``failures`` calls, then returns its argument."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.calls = 0
        self.__name__ = "flaky"

    def __call__(self, value: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return value


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (OSError("disk full"), True),
        (StorageError("store down"), True),
        (BadInputError("scan.pdf", "not a PDF"), False),
        (OcrEngineError("tesseract crashed"), False),
        (ValueError("a bug"), False),
    ],
)
def test_inline_tasks_retry_what_a_second_try_can_fix(error: Exception, retried: bool) -> None:
    assert retryable(error) is retried
    slept: list[float] = []
    with InlineSubmitter(2, sleep=slept.append) as submitter:
        once = Flaky(error, failures=2)
        if retried:
            assert submitter.submit(once, "page").result() == "page"
            assert slept == [1.0, 5.0] == list(RETRY_DELAYS_S)
            assert once.calls == 3
        else:
            with pytest.raises(type(error)):
                submitter.submit(once, "page").result()
            assert (slept, once.calls) == ([], 1)
        slept.clear()
        always = Flaky(error, failures=10)
        with pytest.raises(type(error)):
            submitter.call(always, "page")
        assert always.calls == (3 if retried else 1)  # the first try and two more at most
        assert submitter.run_id() is None


def test_prefect_tasks_share_the_inline_retry_policy() -> None:
    from prefect.states import Completed, Failed

    from flows import prefect_runs

    for prefect_task in prefect_runs.TASKS.values():
        assert prefect_task.retries == 2
        assert prefect_task.retry_delay_seconds == [1.0, 5.0]
        assert prefect_task.retry_condition_fn is prefect_runs._retry_on_io
    for error in (
        OSError("x"),
        StorageError("x"),
        BadInputError("a.pdf", "x"),
        OcrEngineError("x"),
    ):
        state = Failed(data=error)
        assert prefect_runs._retry_on_io(None, None, state) is retryable(error)
    assert prefect_runs._retry_on_io(None, None, Completed(data=1)) is False


def _sohoa(data_dir: Path, args: list[str], *, orchestrator: str | None) -> tuple[str, list[str]]:
    """`sohoa ARGS` in a fresh interpreter: its stdout and the Prefect modules it imported."""
    env = {**os.environ, "SOHOA_DATA_DIR": str(data_dir), "OMP_THREAD_LIMIT": "1"}
    env["PREFECT_HOME"] = str(data_dir.parent / "prefect-home")
    env.pop("PREFECT_API_URL", None)
    env.pop("SOHOA_ORCHESTRATOR", None)
    if orchestrator is not None:
        env["SOHOA_ORCHESTRATOR"] = orchestrator
    script = (
        "import sys\n"
        "from app.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')\n"
        "sys.stderr.write('PREFECT-MODULES ' + ' '.join(loaded) + '\\n')\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, env=env, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("PREFECT-MODULES")]
    return done.stdout, line.split()[1:]


def _process_one_page(
    samples_dir: Path, data_dir: Path, *, orchestrator: str | None
) -> tuple[dict[str, object], list[str]]:
    page = str(samples_dir / "page.jpg")
    out, modules = _sohoa(data_dir, ["process", "--json", page], orchestrator=orchestrator)
    return json.loads(out), modules


@pytest.mark.slow
def test_one_shot_process_runs_inline_without_importing_prefect(
    samples_dir: Path, tmp_path: Path
) -> None:
    report, prefect_modules = _process_one_page(samples_dir, tmp_path / "data", orchestrator=None)
    assert prefect_modules == []
    (dossier,) = report["dossiers"]  # type: ignore[misc]
    assert dossier["status"] == "archived" and dossier["pages"] == 1
    store = MetadataStore(f"sqlite:///{tmp_path / 'data' / 'sohoa.db'}")
    try:
        assert store.get_batch(str(report["batch_id"])).flow_run_id is None  # no Prefect run
    finally:
        store.close()


@pytest.mark.slow
def test_forced_prefect_runs_a_flow_on_the_temporary_server(
    samples_dir: Path, tmp_path: Path
) -> None:
    report, prefect_modules = _process_one_page(
        samples_dir, tmp_path / "data", orchestrator="prefect"
    )
    assert "prefect.flows" in prefect_modules
    (dossier,) = report["dossiers"]  # type: ignore[misc]
    assert dossier["status"] == "archived"
    store = MetadataStore(f"sqlite:///{tmp_path / 'data' / 'sohoa.db'}")
    try:
        assert store.get_batch(str(report["batch_id"])).flow_run_id  # operators can follow it
    finally:
        store.close()


@pytest.mark.slow
def test_resume_finishes_a_received_batch_inline(samples_dir: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from flows import runtime, steps
    from models import BatchInfo
    from storage import keys

    # What a crash right after intake leaves: the original stored, the dossier received.
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    batch_id = "20260101-000000-abcdef"
    batch = BatchInfo(batch_id, datetime.now(UTC), "vie", 1)
    steps.receive_batch(settings, batch, [steps.SourceRef(str(samples_dir / "page.jpg"), "p.jpg")])
    runtime.reset()  # the subprocess opens the database on its own
    out, prefect_modules = _sohoa(tmp_path / "data", ["resume"], orchestrator=None)
    assert prefect_modules == []
    assert out.split() == ["archived", keys.dossier_id(batch_id, 0), "p.jpg"]


@pytest.mark.parametrize(("orchestrator", "started"), [("inline", False), ("prefect", True)])
def test_serve_starts_prefects_temporary_server_only_to_run_on_prefect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, orchestrator: str, started: bool
) -> None:
    import argparse

    import app.prefect_env
    import app.serverlimits
    from app import cli

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    servers: list[Settings] = []
    served: list[str] = []
    monkeypatch.setattr(app.prefect_env, "start_temporary_server", lambda s: servers.append(s))
    monkeypatch.setattr(app.prefect_env, "configure_prefect", lambda s, verbose=False: None)
    # The service's own server (app/serverlimits.py, uvicorn with its limits): not started.
    monkeypatch.setattr(
        app.serverlimits, "serve", lambda app, host, port, settings: served.append(host)
    )
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)  # keep pytest's SIGTERM
    settings = Settings(data_dir=tmp_path, orchestrator=orchestrator)  # type: ignore[arg-type]
    args = argparse.Namespace(verbose=False, host="127.0.0.1", port=0)
    assert cli.cmd_serve(args, settings) == 0
    assert served == ["127.0.0.1"]  # the service came up either way
    assert bool(servers) is started
