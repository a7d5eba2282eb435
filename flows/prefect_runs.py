"""Prefect, for running batches: the one module of ``flows/`` and ``app/`` that imports it
to define flows and tasks (its client calls are in ``flows/prefect_client.py``).

The task functions and the batch body are plain (``flows/batch.py``); here they become
Prefect tasks of the same names with the shared retry policy (``flows.submit``), run by
:class:`PrefectSubmitter` inside one of two flows, both named ``sohoa-batch`` (one place
in the Prefect UI):

* :func:`process_batch`: ``sohoa process`` / ``sohoa resume`` / ``sohoa serve`` on their
  own, through :func:`run_batch_on_prefect`, given the settings (by reference) and sources;
* :func:`process_batch_run`: a deployment's flow run on any ``sohoa worker``, given only a
  batch id (``flows.deployed`` names it as the deployment's entry point). Its settings come
  from where the worker runs (``config.process_settings()``, read once per process), the
  batch's files from the database and the object store, and its pages run on
  SOHOA_WORKERS threads, each holding a slot of the machine's Tesseract limit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from prefect import Task, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from config import Settings, process_settings, settings_for, settings_ref
from flows import batch, limits, steps
from flows.prefect_client import ocr_limit_for_run
from flows.runtime import metadata_store
from flows.submit import RETRY_DELAYS_S, retryable
from storage import keys

T = TypeVar("T")

FLOW_NAME = "sohoa-batch"  # in-process and deployed runs: one place in the Prefect UI


def _retry_on_io(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect's side of :func:`flows.submit.retryable`."""
    try:
        state.result()
    except Exception as exc:
        return retryable(exc)
    return False


_task_options: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_S),
    "retry_delay_seconds": list(RETRY_DELAYS_S),
    "retry_condition_fn": _retry_on_io,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}

receive_source_task: Any = task(name="receive-source", **_task_options)(batch.receive_task)
process_page_task: Any = task(name="process-page", **_task_options)(batch.page_task)
split_stack_task: Any = task(name="split-stack", **_task_options)(batch.split_task)
archive_dossier_task: Any = task(name="archive-dossier", **_task_options)(batch.archive_task)

TASKS: dict[Callable[..., Any], Task[Any, Any]] = {
    batch.receive_task: receive_source_task,
    batch.page_task: process_page_task,
    batch.split_task: split_stack_task,
    batch.archive_task: archive_dossier_task,
}


def _ocr_limit(settings: Settings, *, create: bool) -> str | None:
    """This machine's Tesseract limit for a run (``flows/limits.py``), if the server has it."""
    return ocr_limit_for_run(
        limits.ocr_limit_name(settings), slots=limits.ocr_slots(settings), create=create
    )


class PrefectSubmitter:
    """Each task function as a Prefect task run of the current flow run."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Any:
        return TASKS[fn].submit(*args)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        task_: Any = TASKS[fn]  # called inside a flow run: a task run, its result returned
        result: T = task_(*args)
        return result

    def run_id(self) -> str | None:
        run_id = flow_run.get_id()
        return str(run_id) if run_id else None


@flow(name=FLOW_NAME, log_prints=False, persist_result=False)
def process_batch(
    batch_id: str, sources: list[steps.SourceRef], lang: str, settings_id: str = ""
) -> list[str]:
    """Process one batch; returns the dossier ids in input order.

    ``settings_id`` is a :func:`config.settings_ref` (an opaque id, never the settings).
    """
    settings = settings_for(settings_id)
    # On Prefect's temporary server there is no limit: one lookup, then none is taken.
    return batch.batch_body(
        settings,
        batch_id,
        sources,
        lang,
        submitter=PrefectSubmitter(),
        ocr_limit=_ocr_limit(settings, create=False),
    )


def run_batch_on_prefect(
    settings: Settings, batch_id: str, sources: list[steps.SourceRef], lang: str
) -> list[str]:
    runner: Any = ThreadPoolTaskRunner(max_workers=settings.workers)
    configured = process_batch.with_options(task_runner=runner)
    return configured(batch_id, sources, lang, settings_ref(settings))


class SettingsThreadPoolTaskRunner(ThreadPoolTaskRunner[Any]):
    """SOHOA_WORKERS threads, read from the worker's environment when a run starts.

    A deployment's flow is imported before its settings can be read (and ``sohoa deploy``
    imports it on a machine that may have other settings), so the pool size cannot be
    fixed at import; Prefect starts every run with ``duplicate()``.
    """

    def duplicate(self) -> SettingsThreadPoolTaskRunner:
        return SettingsThreadPoolTaskRunner(max_workers=process_settings().workers)


_task_runner: Any = SettingsThreadPoolTaskRunner()  # Prefect's stubs want a PrefectFuture runner


@flow(
    name=FLOW_NAME,
    task_runner=_task_runner,
    log_prints=False,
    persist_result=False,
)
def process_batch_run(batch_id: str) -> list[str]:
    """Process one stored batch by its id; returns the dossier ids in input order."""
    settings = process_settings()
    batch_id = keys.check_id(batch_id)
    stored = metadata_store(settings).get_batch(batch_id)  # unknown id: the run fails, here
    return batch.batch_body(
        settings,
        batch_id,
        batch.batch_sources(settings, batch_id),
        stored.lang,
        submitter=PrefectSubmitter(),
        ocr_limit=_ocr_limit(settings, create=True),
    )


def apply_deployment(name: str, *, pool: str, entrypoint: str) -> str:
    """Create or update the deployment ``sohoa-batch/NAME`` of :func:`process_batch_run`."""
    from prefect.deployments.runner import EntrypointType

    deployment: Any = process_batch_run.to_deployment(
        name=name,
        work_pool_name=pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="One sohoa batch (its id): originals from the object store, records in "
        "the database; settings from the worker's environment.",
        tags=["sohoa"],
    )
    # The flow is defined here; deployments name it by the module that re-exports it
    # (flows.deployed), as before, so deployments and workers of any version agree.
    deployment.entrypoint = entrypoint
    return str(deployment.apply())


def run_batch_flow_run(flow_run: Any) -> None:
    """Run one queued flow run of :func:`process_batch_run` in this thread."""
    from prefect.flow_engine import run_flow

    run_flow(
        process_batch_run,
        flow_run=flow_run,
        parameters=dict(flow_run.parameters),
        return_type="state",
    )


def in_process_worker_class(run_here: Callable[[Any], int]) -> type:
    """A Prefect worker that runs the pool's flow runs with ``run_here`` in its threads.

    Defined on demand: importing Prefect's worker module costs ~1 s.
    """
    import anyio
    import anyio.to_thread
    from prefect.workers.base import BaseWorker, BaseWorkerResult
    from prefect.workers.process import ProcessJobConfiguration

    class InProcessResult(BaseWorkerResult):
        pass

    class InProcessWorker(BaseWorker):
        """Runs the pool's flow runs in threads of this process (no process start per run)."""

        type = "sohoa-in-process"
        job_configuration = ProcessJobConfiguration  # the pool's ("process") template
        _description = "Runs sohoa batch flow runs in threads of the worker's process."

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.in_flight: dict[UUID, Any] = {}
            self.lock = threading.Lock()

        async def run(
            self,
            flow_run: Any,
            configuration: Any,
            task_status: Any = None,
        ) -> InProcessResult:
            if task_status is not None:
                task_status.started(os.getpid())
            with self.lock:
                self.in_flight[flow_run.id] = flow_run
            try:
                code = await anyio.to_thread.run_sync(run_here, flow_run, abandon_on_cancel=True)
            finally:
                with self.lock:
                    self.in_flight.pop(flow_run.id, None)
            return InProcessResult(status_code=code, identifier=f"{os.getpid()}:{flow_run.id}")

    return InProcessWorker
