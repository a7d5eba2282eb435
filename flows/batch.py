"""The batch: receive every file, process pages in parallel, archive each dossier.

The body (:func:`batch_body`) and its task functions are plain Python: the body hands the
task functions to a :class:`flows.submit.TaskSubmitter`, which runs them as Prefect task
runs (``flows/prefect_runs.py``, the one module that imports Prefect to run anything) or on
a thread pool of this process (``flows.submit.InlineSubmitter``); ``flows.orchestrator``
picks one from ``settings.orchestrator``. Tasks exchange ids and small frozen records.

No task takes the settings object: Prefect records every run's parameters in its database
(and shows them in its UI), and the settings hold the S3 secret key. A run carries an
opaque reference instead; each task resolves it where it runs (``config.settings_for``):
the entry point's own settings in its process, else the environment of the process the
task runs in. Each page holds a slot of the machine's Tesseract limit (``flows/limits.py``)
while it is cleaned and read, when the run has one.
"""

from __future__ import annotations

import logging

from config import Settings, settings_for, settings_ref
from flows import archiving, steps
from flows.limits import ocr_slot, timed
from flows.runtime import metadata_store
from flows.submit import TaskFuture, TaskSubmitter
from models import DossierStatus
from storage import keys

log = logging.getLogger("sohoa.flows")


# --- the task functions (Prefect wraps each as a task of the same name) ----------------------


def receive_task(
    settings_id: str, batch_id: str, dossier_id: str, position: int, source: steps.SourceRef
) -> steps.ReceivedDossier:
    settings = settings_for(settings_id)
    with timed(settings, "receive", dossier_id):
        return steps.receive_source(settings, batch_id, dossier_id, position, source)


def page_task(
    settings_id: str,
    received: steps.ReceivedDossier,
    index: int,
    lang: str,
    ocr_limit: str | None = None,
) -> steps.PageDone:
    settings = settings_for(settings_id)
    with (
        ocr_slot(settings, ocr_limit, received.dossier_id, index),
        timed(settings, "page", received.dossier_id, index),
    ):
        return steps.process_one_page(settings, received, index, lang)


def split_task(
    settings_id: str, received: steps.ReceivedDossier, pages: list[steps.PageDone]
) -> list[steps.DossierPart]:
    settings = settings_for(settings_id)
    with timed(settings, "split", received.dossier_id):
        return steps.split_stack(settings, received, pages)


def archive_task(
    settings_id: str,
    received: steps.ReceivedDossier,
    part: steps.DossierPart,
    pages: list[steps.PageDone],
) -> None:
    settings = settings_for(settings_id)
    with timed(settings, "archive", part.dossier_id):
        archiving.archive_dossier(settings, received, part, pages)


def batch_sources(settings: Settings, batch_id: str) -> list[steps.SourceRef]:
    """The batch's files in order, as stored: a run reads the stored originals.

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
        sources.append(steps.SourceRef(path="", name=name))
    return sources


def _fail(settings: Settings, dossier_id: str, message: str) -> None:
    log.info("dossier %s failed: %s", dossier_id, message)
    metadata_store(settings).set_status(dossier_id, DossierStatus.FAILED, message)


def batch_body(
    settings: Settings,
    batch_id: str,
    sources: list[steps.SourceRef],
    lang: str,
    *,
    submitter: TaskSubmitter,
    ocr_limit: str | None,
) -> list[str]:
    """Process one batch; returns the dossier ids in input order.

    With a Prefect submitter this runs inside a flow run (its tasks need one).
    """
    with timed(settings, "batch", batch_id):
        return _batch_body(
            settings, batch_id, sources, lang, submitter=submitter, ocr_limit=ocr_limit
        )


PageFutures = list[tuple[steps.ReceivedDossier, list[TaskFuture[steps.PageDone]]]]


def _batch_body(
    settings: Settings,
    batch_id: str,
    sources: list[steps.SourceRef],
    lang: str,
    *,
    submitter: TaskSubmitter,
    ocr_limit: str | None,
) -> list[str]:
    dossier_ids = [keys.dossier_id(batch_id, position) for position in range(len(sources))]
    run_id = submitter.run_id()
    if run_id:  # operators follow a batch into the Prefect UI by this id
        metadata_store(settings).set_batch_flow_run(batch_id, run_id)
    settings_id = settings_ref(settings)  # what tasks carry: an id, never the settings
    # Pages are bounded inside: every step of a page runs within SOHOA_PAGE_TIMEOUT_S
    # (pipeline/deadline.py; Tesseract is stopped past it), and a page past it fails alone
    # while the batch goes on (a Prefect timeout could not interrupt a worker thread anyway).
    page_futures: PageFutures = []
    # Files are received one after another, in batch order, each file's pages starting as
    # soon as it is in: the same bytes handed in twice are then always the later file's
    # duplicate (two receipts at once could each miss the other, and both be archived).
    # The CLI and the service receive every file before the flow starts: a lookup each.
    for position, (dossier_id, source) in enumerate(zip(dossier_ids, sources, strict=True)):
        received = _receive(settings, settings_id, batch_id, position, source, submitter)
        if received is None:
            continue
        metadata_store(settings).set_status(dossier_id, DossierStatus.PROCESSING)
        futures = [
            submitter.submit(page_task, settings_id, received, index, lang, ocr_limit)
            for index in range(received.page_count)
        ]
        page_futures.append((received, futures))
    _archive_all(settings, settings_id, page_futures, submitter)
    for received, _futures in page_futures:
        steps.finish_source(settings, received)
    return dossier_ids


def _receive(
    settings: Settings,
    settings_id: str,
    batch_id: str,
    position: int,
    source: steps.SourceRef,
    submitter: TaskSubmitter,
) -> steps.ReceivedDossier | None:
    """The file received (the receive task), or None when it has nothing to process."""
    dossier_id = keys.dossier_id(batch_id, position)
    try:
        received = submitter.call(receive_task, settings_id, batch_id, dossier_id, position, source)
    except Exception as exc:
        _fail(settings, dossier_id, steps.describe_error(exc, source.name))
        return None
    if received.error is not None:
        log.info("dossier %s refused: %s", dossier_id, received.error)
    elif received.duplicate_of is not None:
        log.info("dossier %s: same file as %s", dossier_id, received.duplicate_of)
    elif received.archived:
        log.info("dossier %s: archived by an earlier run", dossier_id)
    else:
        return received
    return None


def _archive_all(
    settings: Settings, settings_id: str, page_futures: PageFutures, submitter: TaskSubmitter
) -> None:
    """Each file's pages awaited, its stack split, and every dossier of it archived."""
    archive_futures: list[tuple[steps.ReceivedDossier, str, TaskFuture[None]]] = []
    for received, futures in page_futures:
        pages: list[steps.PageDone] = []
        failure: str | None = None
        for page_future in futures:
            try:
                pages.append(page_future.result())
            except Exception as exc:
                failure = failure or steps.describe_error(exc, received.source_name)
        if failure is not None:
            _fail(settings, received.dossier_id, failure)
            continue
        try:
            parts = submitter.call(split_task, settings_id, received, pages)
        except Exception as exc:
            _fail(settings, received.dossier_id, steps.describe_error(exc, received.source_name))
            continue
        for part in parts:
            wanted = [p for p in pages if p.info.index in part.pages]
            future = submitter.submit(archive_task, settings_id, received, part, wanted)
            archive_futures.append((received, part.dossier_id, future))
    for received, dossier_id, archive_future in archive_futures:
        try:
            archive_future.result()
        except Exception as exc:
            _fail(settings, dossier_id, steps.describe_error(exc, received.source_name))
