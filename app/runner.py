"""Runs uploaded batches in the background of `sohoa serve`, and resumes unfinished ones.

Each batch is one Prefect flow run (``flows.batch.run_batch``) on a worker thread; pages
are parallel inside it. Everything a batch needs is in the stores (originals are stored
before an upload is acknowledged), so a restart resumes any batch from the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from config import Settings
from flows.runtime import metadata_store
from flows.steps import SourceRef
from storage import keys

log = logging.getLogger("sohoa.runner")

RunBatch = Callable[[Settings, str, list[SourceRef], str], object]


def _default_run(settings: Settings, batch_id: str, sources: list[SourceRef], lang: str) -> object:
    from flows.batch import run_batch

    return run_batch(settings, batch_id, sources, lang)


class BatchRunner:
    def __init__(self, settings: Settings, *, run: RunBatch = _default_run) -> None:
        self.settings = settings
        self._run = run
        self._pool = ThreadPoolExecutor(
            max_workers=settings.batch_concurrency, thread_name_prefix="sohoa-batch"
        )
        self._lock = threading.Lock()
        self._running: dict[str, Future[object]] = {}

    def sources_of(self, batch_id: str) -> list[SourceRef]:
        """The batch's files in order, as stored: a re-run reads the stored originals."""
        meta = metadata_store(self.settings)
        files = [
            d
            for d in meta.batch_dossiers(batch_id)
            if d.source_dossier_id is None and d.dossier_id.startswith(batch_id + "-")
        ]
        by_id = {d.dossier_id: d for d in files}
        count = max(meta.get_batch(batch_id).source_count, len(files))
        sources = []
        for position in range(count):
            dossier = by_id.get(keys.dossier_id(batch_id, position))
            name = dossier.source_name if dossier else f"file {position + 1}"
            sources.append(SourceRef(path="", name=name))
        return sources

    def submit(self, batch_id: str, sources: list[SourceRef] | None = None) -> Future[object]:
        """Queue a batch (once: a batch already queued or running is not queued again)."""
        with self._lock:
            running = self._running.get(batch_id)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(self._process, batch_id, sources)
            self._running[batch_id] = future
            return future

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
        batch_ids = metadata_store(self.settings).unfinished_batches()
        for batch_id in batch_ids:
            log.info("resuming batch %s", batch_id)
            self.submit(batch_id)
        return batch_ids

    def busy(self) -> int:
        with self._lock:
            return sum(1 for f in self._running.values() if not f.done())

    def wait(self, batch_id: str, timeout: float | None = None) -> None:
        with self._lock:
            future = self._running.get(batch_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self, *, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
