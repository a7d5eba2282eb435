"""The deployment's entry flow: a batch id in, the batch processed on whichever worker ran it.

``sohoa serve`` (with SOHOA_DEPLOYMENT) only stores the uploaded originals and queues a flow
run of this flow with the batch id; any ``sohoa worker`` polling the work pool, on any
machine, picks it up. Everything else comes from where the worker runs: its settings from
its environment (``config.process_settings()``, read once per process: the same database
and object store as the service), the batch's files from the database and the object
store (originals are stored before a batch is queued, so the worker needs no shared disk),
and its pages run in parallel on SOHOA_WORKERS threads, each holding a slot of the
machine's Tesseract limit.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from config import Settings, process_settings
from flows.batch import batch_body
from flows.limits import ocr_limit_for_run
from flows.runtime import metadata_store
from flows.steps import SourceRef
from storage import keys

FLOW_NAME = "sohoa-batch"  # the same flow as in-process runs: one place in the Prefect UI
ENTRYPOINT = "flows.deployed.process_batch_run"  # imported, not a file path: any install works


def batch_sources(settings: Settings, batch_id: str) -> list[SourceRef]:
    """The batch's files in order, as stored: the flow reads the stored originals.

    A file that was refused before it got a dossier row still has a place (``file N``), so
    dossier ids (``BATCH-NNN``) keep matching the upload's order.
    """
    meta = metadata_store(settings)
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
    batch = metadata_store(settings).get_batch(batch_id)  # unknown id: the run fails, here
    return batch_body(
        settings,
        batch_id,
        batch_sources(settings, batch_id),
        batch.lang,
        ocr_limit=ocr_limit_for_run(settings, create=True),
    )
