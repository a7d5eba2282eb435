"""Runs uploaded batches in the background of `sohoa serve`, and resumes unfinished ones.

Two modes, chosen by SOHOA_DEPLOYMENT:

* empty (one machine): each batch is one run of ``flows.orchestrator.run_batch`` (a
  Prefect flow run, or in-process with SOHOA_ORCHESTRATOR=inline) on a thread of this
  process; pages are parallel inside it. ``busy()`` counts those threads, ``wait()`` waits
  for one.
* ``flow/deployment`` (scale-out): ``submit`` creates a flow run of that deployment
  (``flows.deployed.process_batch_run``, parameter ``batch_id``) and returns at once; a
  ``sohoa worker`` on any machine processes it. ``busy()`` is then the number of the
  deployment's flow runs not finished yet (scheduled, pending, running: queued and in
  progress on every worker), ``wait()`` polls the batch's flow run until it ends and raises
  when it did not complete. A batch whose flow run is still live is not queued twice.

Everything a batch needs is in the stores (originals are stored before an upload is
acknowledged), so a restart resumes any batch from the database, in either mode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta

from config import Settings
from flows.prefect_client import (
    LIVE_STATES,
    check_deployment,
    count_live_runs,
    flow_run_state,
    queue_deployment_run,
)
from flows.runtime import metadata_store
from flows.steps import SourceRef

log = logging.getLogger("sohoa.runner")

RunBatch = Callable[[Settings, str, list[SourceRef], str], object]
# (deployment name, batch id) -> id of the flow run created
QueueBatch = Callable[[str, str], str]

# A running batch records a page every few seconds (a page is bounded by the OCR timeout);
# this long without any sign of progress means its worker is gone.
STALE_AFTER = timedelta(minutes=30)


def _default_run(settings: Settings, batch_id: str, sources: list[SourceRef], lang: str) -> object:
    from flows.orchestrator import run_batch

    return run_batch(settings, batch_id, sources, lang)


class BatchRunner:
    def __init__(
        self,
        settings: Settings,
        *,
        run: RunBatch = _default_run,
        queue: QueueBatch = queue_deployment_run,
        run_state: Callable[[str], tuple[str, str] | None] = flow_run_state,
        live_runs: Callable[[str], int] = count_live_runs,
        poll_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.deployment = settings.deployment.strip()
        self._run = run
        self._queue = queue
        self._run_state = run_state
        self._live_runs = live_runs
        self._poll_s = poll_s
        self._pool = ThreadPoolExecutor(
            max_workers=settings.batch_concurrency, thread_name_prefix="sohoa-batch"
        )
        self._lock = threading.Lock()
        self._running: dict[str, Future[object]] = {}
        self._again: set[str] = set()  # batches to run once more after their running pass
        self._flow_runs: dict[str, str] = {}  # batch id -> the flow run queued for it
        self._last_busy = 0

    def sources_of(self, batch_id: str) -> list[SourceRef]:
        """The batch's files in order, as stored: a re-run reads the stored originals."""
        from flows.batch import batch_sources

        return batch_sources(self.settings, batch_id)

    def submit(self, batch_id: str, sources: list[SourceRef] | None = None) -> Future[object]:
        """Queue a batch (once: a batch already queued or running is not queued again).

        With SOHOA_DEPLOYMENT the returned future is already done: its result is the id of
        the batch's flow run (the new one, or the live one found).
        """
        if self.deployment:
            done: Future[object] = Future()
            done.set_result(self._queue_on_deployment(batch_id))
            return done
        with self._lock:
            running = self._running.get(batch_id)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(self._process, batch_id, sources)
            self._running[batch_id] = future
            return future

    def submit_again(self, batch_id: str) -> Future[object]:
        """Queue a batch, and once more after the pass running now, if one is: a dossier
        set back to received (a rescan) after that pass walked past it would otherwise
        wait until the next start. One extra pass at most, however often it is asked."""
        with self._lock:
            running = self._running.get(batch_id)
            busy = not self.deployment and running is not None and not running.done()
            first_ask = busy and batch_id not in self._again
            if first_ask:
                self._again.add(batch_id)
        if not busy:
            return self.submit(batch_id)
        assert running is not None
        if first_ask:
            # Outside the lock: a pass ending meanwhile calls back at once, in this thread.
            running.add_done_callback(lambda _done: self._run_again(batch_id))
        return running

    def _run_again(self, batch_id: str) -> None:
        with self._lock:
            self._again.discard(batch_id)
        try:
            self.submit(batch_id)
        except RuntimeError:  # the service is stopping: `sohoa resume` finishes it
            log.warning("batch %s: not queued again, the runner is shutting down", batch_id)

    def _live_flow_run(self, batch_id: str) -> str | None:
        known = (
            self._flow_runs.get(batch_id)
            or metadata_store(self.settings).get_batch(batch_id).flow_run_id
        )
        if not known:
            return None
        state = self._run_state(known)
        if state is None or state[0] not in LIVE_STATES:
            return None
        if state[0] == "RUNNING" and self._silent(batch_id):
            # A worker killed outright (power cut, OOM, kill -9) leaves its run "Running"
            # for ever; no progress for this long means nobody is running it any more.
            log.warning(
                "batch %s: flow run %s shows no progress for %d min; queued again",
                batch_id,
                known,
                STALE_AFTER.total_seconds() // 60,
            )
            return None
        return known

    def _silent(self, batch_id: str) -> bool:
        """No page recorded and no status changed in the batch for STALE_AFTER."""
        dossiers = metadata_store(self.settings).batch_dossiers(batch_id)
        if not dossiers:
            return False
        latest = max(d.updated_at for d in dossiers)
        return datetime.now(UTC) - latest > STALE_AFTER

    def _queue_on_deployment(self, batch_id: str) -> str:
        with self._lock:
            live = self._live_flow_run(batch_id)
            if live is not None:
                log.info("batch %s: flow run %s is still live; not queued again", batch_id, live)
                return live
            flow_run_id = self._queue(self.deployment, batch_id)
            self._flow_runs[batch_id] = flow_run_id
        # Operators follow the batch to its flow run from the moment it is queued.
        metadata_store(self.settings).set_batch_flow_run(batch_id, flow_run_id)
        log.info("batch %s: queued as flow run %s of %s", batch_id, flow_run_id, self.deployment)
        return flow_run_id

    def _process(self, batch_id: str, sources: list[SourceRef] | None) -> object:
        meta = metadata_store(self.settings)
        batch = meta.get_batch(batch_id)
        try:
            return self._run(
                self.settings, batch_id, sources or self.sources_of(batch_id), batch.lang
            )
        except Exception:
            # Dossiers stay received/processing: visible to operators as stuck, resumable.
            log.exception("batch %s: processing engine failed", batch_id)
            raise

    def resume_unfinished(self) -> list[str]:
        if self.deployment:
            check_deployment(self.deployment)
        batch_ids = metadata_store(self.settings).unfinished_batches()
        for batch_id in batch_ids:
            log.info("resuming batch %s", batch_id)
            self.submit(batch_id)
        return batch_ids

    def busy(self) -> int:
        if self.deployment:
            try:
                self._last_busy = self._live_runs(self.deployment)
            except Exception as exc:  # a metrics scrape must not fail with the orchestrator
                log.warning("flow runs of %s not counted: %s", self.deployment, exc)
            return self._last_busy
        with self._lock:
            return sum(1 for f in self._running.values() if not f.done())

    def wait(self, batch_id: str, timeout: float | None = None) -> None:
        if self.deployment:
            self._wait_flow_run(batch_id, timeout)
            return
        with self._lock:
            future = self._running.get(batch_id)
        if future is not None:
            future.result(timeout=timeout)

    def _wait_flow_run(self, batch_id: str, timeout: float | None) -> None:
        flow_run_id = (
            self._flow_runs.get(batch_id)
            or metadata_store(self.settings).get_batch(batch_id).flow_run_id
        )
        if not flow_run_id:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self._run_state(flow_run_id)
            if state is None:
                raise RuntimeError(f"batch {batch_id}: flow run {flow_run_id} is unknown")
            kind, message = state
            if kind == "COMPLETED":
                return
            if kind not in LIVE_STATES:
                detail = f": {message}" if message else ""
                raise RuntimeError(f"batch {batch_id}: flow run {flow_run_id} {kind}{detail}")
            if deadline is not None and time.monotonic() >= deadline:
                raise FutureTimeout(f"batch {batch_id}: flow run {flow_run_id} still {kind}")
            time.sleep(self._poll_s)

    def shutdown(self, *, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
