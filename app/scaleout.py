"""`sohoa deploy` and `sohoa worker`: batches as flow runs any machine can pick up.

What touches Prefect is in ``flows/prefect_runs.py`` (the flow, the deployment, the
worker class) and ``flows/prefect_client.py`` (the work pool, requeueing); this module is
the command line around them.

``sohoa deploy`` (idempotent) creates the work pool (Prefect type ``process``) if missing,
creates or updates the deployment of ``flows.deployed.process_batch_run`` on it, and the
Tesseract limit of the machine it runs on. ``sohoa serve`` with SOHOA_DEPLOYMENT then
queues each upload as a flow run of that deployment.

``sohoa worker`` polls the pool and runs those flow runs. By default it runs them in
threads of its own process (``flows.prefect_runs.in_process_worker_class``): a Prefect
process worker starts a new Python for every flow run, which must import Prefect, OpenCV
and sohoa again (2.3 s of CPU each); here that happens once per worker
(bench/multiworker.py, two workers on two cores, 12-page batches: 64.4 pages/min
in-process, 59.6 with process workers).
``--process`` runs Prefect's own process worker instead (the same as ``prefect worker
start --pool sohoa --type process``): each flow run in its own process, for isolation.
Both take the pool's runs one at a time by default (SOHOA_WORKER_RUNS); pages are parallel
inside a run (SOHOA_WORKERS) and capped per machine by ``tesseract-<host>``.

A stopped in-process worker (SIGTERM, SIGINT) puts its unfinished flow runs back in the
queue (Scheduled) before it exits, and another worker finishes them: every step is
idempotent, so what was stored is not stored twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from config import Settings
from models.errors import ExitCode, SohoaError

log = logging.getLogger("sohoa.scaleout")

DEFAULT_DEPLOYMENT_NAME = "default"
POOL_TYPE = "process"  # Prefect's standard type: `prefect worker start --type process` works


def _configure(args: argparse.Namespace, settings: Settings) -> str:
    """Prefect's environment (before Prefect is imported); the server's API URL."""
    from app.prefect_env import configure_prefect

    configure_prefect(settings, verbose=args.verbose)
    # Prefect's default is 10 s: a clerk would wait up to that before a batch starts.
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")
    api = os.environ.get("PREFECT_API_URL", "")
    if not api:
        raise SohoaError(
            f"sohoa {args.command} needs the shared Prefect server: set PREFECT_API_URL "
            "(e.g. http://prefect:4200/api)"
        )
    return api


def _wait_for_api(api: str, timeout_s: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{api.rstrip('/')}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise SohoaError(f"Prefect server {api} did not answer: {exc}") from None
        time.sleep(1.0)


def deployment_full_name(settings: Settings, name: str | None) -> str:
    from flows.deployed import FLOW_NAME

    if name:
        return f"{FLOW_NAME}/{name}"
    configured = settings.deployment.strip()
    return configured if configured else f"{FLOW_NAME}/{DEFAULT_DEPLOYMENT_NAME}"


def ensure_work_pool(pool: str) -> bool:
    """Create the work pool if missing; True when it was created."""
    from flows.prefect_client import ensure_work_pool as ensure

    return ensure(
        pool,
        pool_type=POOL_TYPE,
        description="sohoa batches: `sohoa worker` on any machine runs them",
    )


def cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    api = _configure(args, settings)
    _wait_for_api(api, args.wait)
    from flows.deployed import ENTRYPOINT, FLOW_NAME
    from flows.limits import ocr_limit_name, ocr_slots
    from flows.prefect_client import ensure_ocr_limit
    from flows.prefect_runs import apply_deployment

    full_name = deployment_full_name(settings, args.name)
    flow_name, _, name = full_name.partition("/")
    if flow_name != FLOW_NAME or not name:
        raise SohoaError(f"deployment {full_name!r}: must be {FLOW_NAME}/NAME")
    pool = args.pool or settings.work_pool
    created = ensure_work_pool(pool)
    deployment_id = apply_deployment(name, pool=pool, entrypoint=ENTRYPOINT)
    limit = ensure_ocr_limit(ocr_limit_name(settings), slots=ocr_slots(settings))
    sys.stdout.write(
        f"work pool {pool} ({POOL_TYPE}): {'created' if created else 'exists'}\n"
        f"deployment {full_name} ({deployment_id}): entrypoint {ENTRYPOINT}\n"
        f"concurrency limit {limit}: {ocr_slots(settings)} slot(s)\n"
        f"on {api}; set SOHOA_DEPLOYMENT={full_name} for `sohoa serve`, "
        f"start `sohoa worker` on each processing machine\n"
    )
    return ExitCode.OK


# --- the worker ---------------------------------------------------------------------------


_deployment_entrypoints: dict[Any, str | None] = {}


def _entrypoint_of(deployment_id: Any) -> str | None:
    if deployment_id not in _deployment_entrypoints:
        from flows.prefect_client import deployment_entrypoint

        _deployment_entrypoints[deployment_id] = deployment_entrypoint(deployment_id)
    return _deployment_entrypoints[deployment_id]


def run_flow_run_here(flow_run: Any) -> int:
    """Run one flow run of the batch deployment in this thread; 0 when it ran to an end.

    A failed batch is a Failed flow run (recorded by the engine), still 0 here; non-zero
    means the engine itself could not run it, and the worker marks the run Crashed.
    """
    from flows.deployed import ENTRYPOINT

    run_log = logging.getLogger("sohoa.worker")
    if flow_run.deployment_id is None or _entrypoint_of(flow_run.deployment_id) != ENTRYPOINT:
        run_log.error(
            "flow run %s is not a run of %s: `sohoa worker` runs only sohoa batches "
            "(use a Prefect process worker for other flows)",
            flow_run.id,
            ENTRYPOINT,
        )
        return 2
    from flows.prefect_runs import run_batch_flow_run

    try:
        run_batch_flow_run(flow_run)
    except BaseException:
        run_log.exception("flow run %s: the engine failed", flow_run.id)
        return 1
    return 0


class _QuietTypeMismatch(logging.Filter):
    """The pool is of Prefect's type `process` so both kinds of worker can poll it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Worker type mismatch" not in record.getMessage()


def _requeue(worker: Any) -> None:
    """Put this worker's unfinished flow runs back in the queue, for another worker."""
    from flows.prefect_client import requeue_flow_runs

    with worker.lock:
        runs = list(worker.in_flight)
    if runs:
        for line in requeue_flow_runs(runs):
            sys.stderr.write(f"sohoa: {line}\n")


def _kill_children() -> None:
    """Tesseract and poppler children would outlive an abrupt exit."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == me:
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    api = _configure(args, settings)
    from app.collector import collector_on
    from flows.runtime import metadata_store, object_store
    from pipeline.tesseract import check_languages

    check_languages(settings.lang)  # a worker that cannot read Vietnamese takes no runs
    collector_on()  # imports done; a worker runs for days
    metadata_store(settings)  # reach (and migrate) the database before taking runs
    object_store(settings)
    _wait_for_api(api, args.wait)
    pool = args.pool or settings.work_pool
    host = settings.ocr_host.strip() or socket.gethostname()
    name = args.name or f"sohoa-{host}-{os.getpid()}"
    if args.process:
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool]
        command += ["--type", POOL_TYPE, "--name", name, "--limit", str(settings.worker_runs)]
        command += ["--install-policy", "never"]
        _prepare_pool(settings, pool)
        sys.stderr.write(f"sohoa: {' '.join(command[1:])}\n")
        sys.stderr.flush()
        os.execv(sys.executable, command)
    _prepare_pool(settings, pool)
    from flows.prefect_runs import in_process_worker_class

    worker_class = in_process_worker_class(run_flow_run_here)
    worker = worker_class(work_pool_name=pool, name=name, limit=settings.worker_runs)
    worker_logger = getattr(worker._logger, "logger", worker._logger)
    if isinstance(worker_logger, logging.Logger):
        worker_logger.addFilter(_QuietTypeMismatch())

    def stop(signum: int, _frame: object) -> None:
        sys.stderr.write(f"sohoa: worker {name}: {signal.Signals(signum).name}, stopping\n")
        _requeue(worker)
        _kill_children()
        from flows.limits import release_held_slots

        release_held_slots()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write(
        f"sohoa: worker {name} on pool {pool} ({api}): {settings.worker_runs} batch(es) at "
        f"once, {settings.workers} page thread(s) each\n"
    )
    sys.stderr.flush()
    asyncio.run(worker.start(printer=lambda *a, **k: None))
    return ExitCode.OK


def _prepare_pool(settings: Settings, pool: str) -> None:
    from flows.limits import ocr_limit_name, ocr_slots
    from flows.prefect_client import ensure_ocr_limit

    ensure_work_pool(pool)
    limit = ensure_ocr_limit(ocr_limit_name(settings), slots=ocr_slots(settings))
    log.info("concurrency limit %s: %d slot(s)", limit, ocr_slots(settings))


def add_commands(commands: Any) -> None:
    """`deploy` and `worker` on the `sohoa` command line."""
    deploy = commands.add_parser(
        "deploy", help="create/update the work pool and the batch deployment (idempotent)"
    )
    deploy.add_argument(
        "--name", help="deployment name (default: from SOHOA_DEPLOYMENT, else 'default')"
    )
    deploy.add_argument("--pool", help="work pool (default SOHOA_WORK_POOL: sohoa)")
    deploy.add_argument(
        "--wait", type=float, default=60, help="seconds to wait for the Prefect server (60)"
    )
    deploy.set_defaults(handler=cmd_deploy)

    worker = commands.add_parser("worker", help="process the work pool's batches on this machine")
    worker.add_argument("--pool", help="work pool (default SOHOA_WORK_POOL: sohoa)")
    worker.add_argument("--name", help="worker name (default sohoa-HOST-PID)")
    worker.add_argument(
        "--process",
        action="store_true",
        help="Prefect's process worker: each batch in a new process (isolation, ~2.5 s more)",
    )
    worker.add_argument(
        "--wait", type=float, default=60, help="seconds to wait for the Prefect server (60)"
    )
    worker.set_defaults(handler=cmd_worker)
