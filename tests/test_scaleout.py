"""Scale-out: the deployment's entry flow, the runner's deployment mode, `sohoa deploy` and
`sohoa worker` against a real Prefect server (slow)."""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.runner import BatchRunner
from config import Settings, process_settings
from flows import batch, deployed, limits, prefect_runs, steps
from flows.runtime import metadata_store
from models import BatchInfo, DossierStatus
from models.errors import SohoaError
from storage import keys


def _stored_batch(settings: Settings, samples_dir: Path, files: list[str], count: int) -> str:
    """A batch as `sohoa serve` leaves it: originals stored, dossiers received."""
    batch_id = "20260101-000000-abcdef"
    metadata_store(settings).create_batch(
        BatchInfo(batch_id, datetime.now(UTC), "vie", count, agency_code="000.00.00.H49")
    )
    for position, name in enumerate(files):
        source = steps.SourceRef(str(samples_dir / name), f"quầy-{name}")
        steps.receive_source(
            settings, batch_id, keys.dossier_id(batch_id, position), position, source
        )
    return batch_id


# --- the entry flow rebuilds everything from the stores ------------------------------------


def test_sources_are_rebuilt_from_the_database_in_upload_order(
    settings: Settings, samples_dir: Path
) -> None:
    # Three files were announced; the third never got a dossier row (a crash in between).
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg", "zero.pdf"], count=3)
    sources = batch.batch_sources(settings, batch_id)
    assert sources == [
        steps.SourceRef(path="", name="quầy-page.jpg"),
        steps.SourceRef(path="", name="quầy-zero.pdf"),  # refused at upload: still has its place
        steps.SourceRef(path="", name="file 3"),
    ]
    # The runner reads the same list (resume, retry).
    assert BatchRunner(settings).sources_of(batch_id) == sources


def test_a_worker_needs_only_the_stores(
    settings: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """A worker elsewhere receives the batch again from the object store: no upload path."""
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    shutil.rmtree(settings.work_dir, ignore_errors=True)  # nothing local survives
    (source,) = batch.batch_sources(settings, batch_id)
    received = steps.receive_source(settings, batch_id, keys.dossier_id(batch_id, 0), 0, source)
    assert received.error is None and received.page_count == 1
    assert received.original_key.endswith("original.jpg")


def test_entry_flow_reads_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, samples_dir: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=3)
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    monkeypatch.setenv("SOHOA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOHOA_WORKERS", "3")
    process_settings.cache_clear()  # a worker reads its environment once: this one is new
    calls: list[dict[str, Any]] = []

    def fake_body(got: Settings, bid: str, sources: list[steps.SourceRef], lang: str, *,
                  submitter: object, ocr_limit: str | None) -> list[str]:  # fmt: skip
        calls.append({"settings": got, "batch": bid, "sources": sources, "lang": lang,
                      "limit": ocr_limit, "submitter": submitter})  # fmt: skip
        return [keys.dossier_id(bid, 0)]

    monkeypatch.setattr(batch, "batch_body", fake_body)
    monkeypatch.setattr(prefect_runs, "ocr_limit_for_run", lambda n, slots, create: f"{n}:{create}")
    assert deployed.process_batch_run.fn(batch_id) == [keys.dossier_id(batch_id, 0)]
    (call,) = calls
    assert call["settings"].data_dir == (tmp_path / "data").resolve()
    assert call["sources"] == [steps.SourceRef("", "quầy-page.jpg")]
    assert call["lang"] == "vie"
    # Deployed runs create the machine's limit.
    assert call["limit"] == f"{limits.ocr_limit_name(call['settings'])}:True"
    assert isinstance(call["submitter"], prefect_runs.PrefectSubmitter)
    # The page thread pool follows SOHOA_WORKERS of the machine that runs the flow.
    assert deployed.process_batch_run.task_runner.duplicate()._max_workers == 3
    with pytest.raises(ValueError, match="not a valid id"):
        deployed.process_batch_run.fn("../../etc")


def test_tesseract_limit_is_named_per_machine_and_optional(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert limits.ocr_limit_name(settings).startswith("tesseract-")
    named = Settings(data_dir=settings.data_dir, ocr_host="node-7", ocr_slots=5)
    assert limits.ocr_limit_name(named) == "tesseract-node-7"
    assert limits.ocr_slots(named) == 5
    assert limits.ocr_slots(settings) == limits.machine_cpus()
    with limits.ocr_slot(settings, None, "d", 0):  # no limit: nothing is asked of Prefect
        pass

    def broken(_name: str, _lease: float) -> str:
        raise ConnectionError("server gone")

    monkeypatch.setattr(limits, "_acquire", broken)
    ran = []
    with limits.ocr_slot(settings, "tesseract-x", "d", 0):  # a page never fails for it
        ran.append(True)
    assert ran == [True]


# --- the runner in deployment mode ---------------------------------------------------------


class FakePrefect:
    def __init__(self) -> None:
        self.created: list[tuple[str, str]] = []
        self.states: dict[str, tuple[str, str]] = {}

    def queue(self, deployment: str, batch_id: str) -> str:
        run_id = f"00000000-0000-0000-0000-{len(self.created) + 1:012d}"
        self.created.append((deployment, batch_id))
        self.states[run_id] = ("SCHEDULED", "")
        return run_id

    def state(self, run_id: str) -> tuple[str, str] | None:
        return self.states.get(run_id)

    def live(self, _deployment: str) -> int:
        return sum(1 for kind, _ in self.states.values() if kind in ("SCHEDULED", "RUNNING"))


def _deployment_runner(settings: Settings, fake: FakePrefect) -> BatchRunner:
    configured = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        deployment="sohoa-batch/default",
    )
    return BatchRunner(
        configured, queue=fake.queue, run_state=fake.state, live_runs=fake.live, poll_s=0.01
    )


def test_submit_creates_a_flow_run_instead_of_processing(
    settings: Settings, samples_dir: Path
) -> None:
    fake = FakePrefect()
    processed: list[str] = []
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    runner = _deployment_runner(settings, fake)
    runner._run = lambda *args: processed.append(args[1])  # must never run here
    first = runner.submit(batch_id).result(timeout=1)
    assert fake.created == [("sohoa-batch/default", batch_id)]
    assert metadata_store(settings).get_batch(batch_id).flow_run_id == first
    # Queued or running: not queued twice (upload + retry, serve restarting).
    assert runner.submit(batch_id).result(timeout=1) == first
    fake.states[str(first)] = ("RUNNING", "")
    assert runner.busy() == 1
    assert runner.submit(batch_id).result(timeout=1) == first
    assert len(fake.created) == 1
    # Finished: a retry queues a new run.
    fake.states[str(first)] = ("COMPLETED", "")
    assert runner.busy() == 0
    second = runner.submit(batch_id).result(timeout=1)
    assert second != first and len(fake.created) == 2
    assert processed == []


def test_a_new_service_finds_the_live_run_in_the_database(
    settings: Settings, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.runner as runner_module

    fake = FakePrefect()
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    first = _deployment_runner(settings, fake).submit(batch_id).result(timeout=1)
    # `sohoa serve` restarts: resume sees the batch unfinished but its run still queued.
    checked: list[str] = []
    monkeypatch.setattr(runner_module, "check_deployment", checked.append)
    again = _deployment_runner(settings, fake)
    assert again.resume_unfinished() == [batch_id]
    assert checked == ["sohoa-batch/default"]  # a missing deployment stops serve at start
    assert len(fake.created) == 1
    # A run id from another server (a temporary one, long gone) does not count as live.
    fake.states.pop(str(first))
    assert again.submit(batch_id).result(timeout=1) != first


def test_a_running_flow_run_without_progress_is_queued_again(
    settings: Settings, samples_dir: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.runner import STALE_AFTER
    from storage.metadata import DossierRow

    fake = FakePrefect()
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    runner = _deployment_runner(settings, fake)
    first = str(runner.submit(batch_id).result(timeout=1))
    fake.states[first] = ("RUNNING", "")
    assert runner.submit(batch_id).result(timeout=1) == first  # alive: left alone
    # Its worker was killed: the run stays "Running" but nothing moves any more.
    long_ago = datetime.now(UTC) - STALE_AFTER - timedelta(minutes=1)
    with metadata_store(settings).engine.begin() as connection:
        connection.execute(
            update(DossierRow).where(DossierRow.batch_id == batch_id).values(updated_at=long_ago)
        )
    second = str(runner.submit(batch_id).result(timeout=1))
    assert second != first and len(fake.created) == 2


def test_wait_follows_the_flow_run(settings: Settings, samples_dir: Path) -> None:
    fake = FakePrefect()
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    runner = _deployment_runner(settings, fake)
    run_id = str(runner.submit(batch_id).result(timeout=1))
    with pytest.raises(FutureTimeout):
        runner.wait(batch_id, timeout=0.05)
    fake.states[run_id] = ("COMPLETED", "")
    runner.wait(batch_id, timeout=1)
    fake.states[run_id] = ("CRASHED", "worker lost")
    with pytest.raises(RuntimeError, match="CRASHED: worker lost"):
        runner.wait(batch_id, timeout=1)


def test_submit_calls_run_deployment_without_waiting(
    settings: Settings, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prefect.deployments

    calls: list[dict[str, Any]] = []

    class Run:
        id = "11111111-2222-3333-4444-555555555555"

    def fake_run_deployment(name: str, **kwargs: Any) -> Run:
        calls.append({"name": name, **kwargs})
        return Run()

    monkeypatch.setattr(prefect.deployments, "run_deployment", fake_run_deployment)
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    configured = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        deployment="sohoa-batch/default",
    )
    runner = BatchRunner(configured, run_state=lambda _id: None)
    assert runner.submit(batch_id).result(timeout=1) == Run.id
    (call,) = calls
    assert call["name"] == "sohoa-batch/default"
    assert call["parameters"] == {"batch_id": batch_id}
    assert call["timeout"] == 0  # the service only queues
    assert call["as_subflow"] is False
    assert metadata_store(settings).get_batch(batch_id).flow_run_id == Run.id


def test_in_process_mode_is_unchanged(settings: Settings, samples_dir: Path) -> None:
    batch_id = _stored_batch(settings, samples_dir, ["page.jpg"], count=1)
    seen: list[tuple[str, list[steps.SourceRef]]] = []
    runner = BatchRunner(
        settings,
        run=lambda _s, bid, sources, _lang: seen.append((bid, sources)),
        queue=lambda *_: pytest.fail("in-process mode must not queue on a deployment"),
    )
    runner.submit(batch_id).result(timeout=5)
    runner.wait(batch_id)
    assert seen == [(batch_id, [steps.SourceRef("", "quầy-page.jpg")])]
    assert runner.busy() == 0
    runner.shutdown(wait=True)


def test_missing_deployment_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.exceptions import ObjectNotFound

    import app.runner as runner_module

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read_deployment_by_name(self, name: str) -> None:
            raise ObjectNotFound(http_exc=Exception("404"))

    monkeypatch.setattr(
        "prefect.client.orchestration.get_client", lambda sync_client=False: Client()
    )
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    with pytest.raises(SohoaError, match="run `sohoa deploy`") as caught:
        runner_module.check_deployment("sohoa-batch/default")
    assert "\n" not in caught.value.message


# --- the real thing: a Prefect server, `sohoa deploy`, a worker, `sohoa serve` --------------


@pytest.mark.slow
def test_deploy_worker_and_serve_process_an_upload() -> None:
    """One Prefect server on PostgreSQL, `sohoa deploy` (twice: idempotent), one `sohoa
    worker`, `sohoa serve` with SOHOA_DEPLOYMENT; a one-page upload ends archived."""
    from bench.load import make_scans
    from bench.multiworker import Topology, run_configuration
    from tests.pgcluster import ClusterUnavailable

    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    root = Path(tempfile.mkdtemp(prefix="sohoa-scaleout-"))
    topo = Topology(root)
    try:
        try:
            topo.start_postgres()
        except ClusterUnavailable as exc:
            if os.environ.get("SOHOA_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"PostgreSQL could not be started: {exc}")
            pytest.skip(f"PostgreSQL could not be started: {exc}")
        topo.start_prefect()
        env = topo.sohoa_env(topo.database("sohoa_setup"), root / "data-setup")
        first = topo.sohoa(["deploy"], env)
        second = topo.sohoa(["deploy"], env)
        assert "work pool sohoa (process): created" in first
        assert "work pool sohoa (process): exists" in second
        deployments = topo.api("POST", "/deployments/filter", {"limit": 10})
        assert [d["name"] for d in deployments] == ["default"]
        assert deployments[0]["entrypoint"] == "flows.deployed.process_batch_run"
        limit = topo.api("GET", f"/v2/concurrency_limits/{limits_name(env)}")
        assert limit["limit"] >= 1

        scans = make_scans(1, 1, root / "scans", seed=7)
        outcome = run_configuration(topo, "test", 1, [scans], timeout_s=240)
        assert outcome.problems == []
        (batch,) = outcome.batches
        assert [d["status"] for d in batch["dossiers"]] == ["archived"]
        run = topo.api("GET", f"/flow_runs/{batch['flow_run_id']}")
        assert run["state_type"] == "COMPLETED"
        assert run["name"] == f"batch-{batch['batch_id']}"
        # The page held a slot of the machine's Tesseract limit, and gave it back.
        limit = topo.api("GET", f"/v2/concurrency_limits/{limits_name(env)}")
        assert limit["active_slots"] == 0
        stages = outcome.stage_log.read_text()
        assert '"stage": "slot-wait"' in stages and '"stage": "page"' in stages
    finally:
        topo.close()
        shutil.rmtree(root, ignore_errors=True)


def limits_name(env: dict[str, str]) -> str:
    host = env.get("SOHOA_OCR_HOST") or __import__("socket").gethostname()
    return f"tesseract-{host}"


def test_status_names_match_prefect() -> None:
    from prefect.client.schemas.objects import StateType

    from app.runner import LIVE_STATES

    assert {s.value for s in StateType} >= LIVE_STATES
    assert DossierStatus.ARCHIVED.value == "archived"
