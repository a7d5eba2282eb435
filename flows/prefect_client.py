"""Prefect's API, for everything but running flows: one wrapper, like every external program.

The machine's Tesseract limit (a global concurrency limit; its name and size come from
``flows/limits.py``), a deployment's flow runs and their states. Prefect is imported
inside each function: ``app/runner.py`` and ``flows/limits.py`` import this module on
paths that never talk to Prefect (an inline ``sohoa resume``), and importing Prefect
costs seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from models.errors import SohoaError

log = logging.getLogger("sohoa.flows")

# Prefect state types of a flow run that is still to run or running.
LIVE_STATES = frozenset({"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"})


def open_sync_client() -> Any:
    """A synchronous client, entered (the caller keeps it open for the process's life)."""
    from prefect.client.orchestration import get_client

    client = get_client(sync_client=True)
    client.__enter__()
    return client


def ensure_ocr_limit(name: str, *, slots: int) -> str:
    """Create the global concurrency limit ``name`` with ``slots``, or correct its value."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, slots)
    return name


def ocr_limit_for_run(name: str, *, slots: int, create: bool) -> str | None:
    """The limit this run's pages take, or None (missing, or the API would not say).

    ``create``: make it (with ``slots``) when missing; else only look it up.
    """
    from prefect.exceptions import ObjectNotFound

    try:
        if create:
            return ensure_ocr_limit(name, slots=slots)
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(name)
        return name
    except ObjectNotFound:
        return None
    except Exception as exc:  # the API answered badly: process anyway, uncapped
        log.warning("Tesseract limit not used: %s: %s", type(exc).__name__, exc)
        return None


def queue_deployment_run(deployment: str, batch_id: str) -> str:
    """Create the batch's flow run on the deployment's work pool; return at once."""
    from prefect.deployments import run_deployment

    flow_run: Any = run_deployment(
        deployment,
        parameters={"batch_id": batch_id},
        timeout=0,
        flow_run_name=f"batch-{batch_id}",
        as_subflow=False,
    )
    return str(flow_run.id)


def flow_run_state(flow_run_id: str) -> tuple[str, str] | None:
    """(state type, message) of a flow run; None if the server does not know it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        run_id = UUID(flow_run_id)
    except ValueError:
        return None
    with get_client(sync_client=True) as client:
        try:
            flow_run = client.read_flow_run(run_id)
        except ObjectNotFound:
            return None
    state = flow_run.state
    if state is None:
        return ("SCHEDULED", "")
    return (state.type.value, state.message or "")


def count_live_runs(deployment: str) -> int:
    """The deployment's flow runs scheduled, pending or running: one API call."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        return int(
            client.count_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType(s) for s in LIVE_STATES])
                    )
                ),
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])),
            )
        )


def check_deployment(deployment: str) -> None:
    """Fail with one line when the deployment is not on the Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    api = os.environ.get("PREFECT_API_URL") or "Prefect's temporary server"
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(deployment)
    except ObjectNotFound:
        raise SohoaError(
            f"SOHOA_DEPLOYMENT={deployment}: no such deployment on {api}: "
            "run `sohoa deploy` against that server (PREFECT_API_URL) first"
        ) from None
    except Exception as exc:
        raise SohoaError(
            f"SOHOA_DEPLOYMENT={deployment}: Prefect server {api} did not answer: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def ensure_work_pool(pool: str, *, pool_type: str, description: str) -> bool:
    """Create the work pool if missing; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=pool,
                    type=pool_type,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                    description=description,
                )
            )
        except ObjectAlreadyExists:  # another `sohoa deploy`/worker got there first
            return False
    return True


def deployment_entrypoint(deployment_id: UUID) -> str | None:
    """The entry point a deployment runs (``module.flow`` or ``file:flow``)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        entrypoint: str | None = client.read_deployment(deployment_id).entrypoint
    return entrypoint


def requeue_flow_runs(run_ids: Sequence[UUID]) -> list[str]:
    """Put unfinished flow runs back in the queue (Scheduled); one line per run said."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    said = []
    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            try:
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    continue  # it ended while the worker was stopping: nothing to resume
                client.set_flow_run_state(
                    run_id,
                    Scheduled(name="Requeued", message="its worker stopped; any worker resumes it"),
                    force=True,
                )
                said.append(f"flow run {run_id} put back in the queue")
            except Exception as exc:
                said.append(f"flow run {run_id} not requeued: {exc}")
    return said
