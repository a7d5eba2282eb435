"""The batch flow: receive every file, process pages in parallel, archive each dossier.

Works with no Prefect server (an ephemeral one is started in-process) and with
``PREFECT_API_URL`` pointing at a server. Tasks exchange ids and small frozen records.

No flow or task takes the settings object: Prefect records every flow run's parameters in
its database (and shows them in its UI), and the settings hold the S3 secret key. A run
carries an opaque reference instead; each task resolves it where it runs
(``config.settings_for``): the entry point's own settings in its process, else the
environment of the process the task runs in.

Two entries share the same body (:func:`batch_body`): :func:`run_batch` (``sohoa process``,
``sohoa resume``, ``sohoa serve`` on its own), given the settings and the sources, and
``flows.deployed.process_batch_run`` (a deployment's flow run on any ``sohoa worker``),
given only a batch id. Each page holds a slot of the machine's Tesseract limit
(``flows/limits.py``) while it is cleaned and read.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from config import Settings, settings_for, settings_ref
from flows import archiving, steps
from flows.limits import ocr_limit_for_run, ocr_slot, timed
from flows.runtime import metadata_store
from models import DossierStatus
from models.errors import BadInputError, OcrEngineError, StorageError
from storage import keys

log = logging.getLogger("sohoa.flows")


def _retry_on_io(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry what a second try can fix (disk, network, store); not bad input or OCR bugs."""
    try:
        state.result()
    except (BadInputError, OcrEngineError):
        return False
    except (OSError, StorageError):
        return True
    except Exception:
        return False
    return False


_task_options: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": _retry_on_io,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}


@task(name="receive-source", **_task_options)
def receive_source_task(
    settings_id: str, batch_id: str, dossier_id: str, position: int, source: steps.SourceRef
) -> steps.ReceivedDossier:
    settings = settings_for(settings_id)
    with timed(settings, "receive", dossier_id):
        return steps.receive_source(settings, batch_id, dossier_id, position, source)


@task(name="process-page", **_task_options)
def process_page_task(
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


@task(name="split-stack", **_task_options)
def split_stack_task(
    settings_id: str, received: steps.ReceivedDossier, pages: list[steps.PageDone]
) -> list[steps.DossierPart]:
    settings = settings_for(settings_id)
    with timed(settings, "split", received.dossier_id):
        return steps.split_stack(settings, received, pages)


@task(name="archive-dossier", **_task_options)
def archive_dossier_task(
    settings_id: str,
    received: steps.ReceivedDossier,
    part: steps.DossierPart,
    pages: list[steps.PageDone],
) -> None:
    settings = settings_for(settings_id)
    with timed(settings, "archive", part.dossier_id):
        archiving.archive_dossier(settings, received, part, pages)


def _fail(settings: Settings, dossier_id: str, message: str) -> None:
    log.info("dossier %s failed: %s", dossier_id, message)
    metadata_store(settings).set_status(dossier_id, DossierStatus.FAILED, message)


def _record_flow_run(settings: Settings, batch_id: str) -> None:
    """Operators follow a batch into the Prefect UI by this id."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if run_id:
        metadata_store(settings).set_batch_flow_run(batch_id, str(run_id))


@flow(name="sohoa-batch", log_prints=False, persist_result=False)
def process_batch(
    batch_id: str, sources: list[steps.SourceRef], lang: str, settings_id: str = ""
) -> list[str]:
    """Process one batch; returns the dossier ids in input order.

    ``settings_id`` is a :func:`config.settings_ref` (an opaque id, never the settings).
    """
    settings = settings_for(settings_id)
    # On Prefect's temporary server there is no limit: one lookup, then none is taken.
    return batch_body(
        settings, batch_id, sources, lang, ocr_limit=ocr_limit_for_run(settings, create=False)
    )


def batch_body(
    settings: Settings,
    batch_id: str,
    sources: list[steps.SourceRef],
    lang: str,
    *,
    ocr_limit: str | None,
) -> list[str]:
    """The batch flow's body; called inside a flow run (its tasks need one)."""
    with timed(settings, "batch", batch_id):
        return _batch_body(settings, batch_id, sources, lang, ocr_limit=ocr_limit)


def _batch_body(
    settings: Settings,
    batch_id: str,
    sources: list[steps.SourceRef],
    lang: str,
    *,
    ocr_limit: str | None,
) -> list[str]:
    dossier_ids = [keys.dossier_id(batch_id, position) for position in range(len(sources))]
    _record_flow_run(settings, batch_id)
    settings_id = settings_ref(settings)  # what tasks carry: an id, never the settings
    received_futures = [
        receive_source_task.submit(settings_id, batch_id, dossier_id, position, source)
        for position, (dossier_id, source) in enumerate(zip(dossier_ids, sources, strict=True))
    ]
    meta = metadata_store(settings)
    # Pages are bounded inside: Tesseract runs under SOHOA_PAGE_TIMEOUT_S and is killed past
    # it (a Prefect timeout could not interrupt a worker thread anyway).
    page_task = process_page_task
    page_futures: list[tuple[steps.ReceivedDossier, list[PrefectFuture[steps.PageDone]]]] = []
    for dossier_id, source, received_future in zip(
        dossier_ids, sources, received_futures, strict=True
    ):
        try:
            received = received_future.result()
        except Exception as exc:
            _fail(settings, dossier_id, steps.describe_error(exc, source.name))
            continue
        if received.error is not None:
            log.info("dossier %s refused: %s", dossier_id, received.error)
            continue
        if received.duplicate_of is not None:
            log.info("dossier %s: same file as %s", dossier_id, received.duplicate_of)
            continue
        if received.archived:
            log.info("dossier %s: archived by an earlier run", dossier_id)
            continue
        meta.set_status(dossier_id, DossierStatus.PROCESSING)
        futures = [
            page_task.submit(settings_id, received, index, lang, ocr_limit)
            for index in range(received.page_count)
        ]
        page_futures.append((received, futures))

    archive_futures: list[tuple[steps.ReceivedDossier, str, PrefectFuture[None]]] = []
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
            parts = split_stack_task(settings_id, received, pages)
        except Exception as exc:
            _fail(settings, received.dossier_id, steps.describe_error(exc, received.source_name))
            continue
        for part in parts:
            wanted = [p for p in pages if p.info.index in part.pages]
            archive_futures.append(
                (
                    received,
                    part.dossier_id,
                    archive_dossier_task.submit(settings_id, received, part, wanted),
                )
            )

    for received, dossier_id, archive_future in archive_futures:
        try:
            archive_future.result()
        except Exception as exc:
            _fail(settings, dossier_id, steps.describe_error(exc, received.source_name))
    for received, _futures in page_futures:
        steps.finish_source(settings, received)
    return dossier_ids


def run_batch(
    settings: Settings, batch_id: str, sources: list[steps.SourceRef], lang: str
) -> list[str]:
    runner: Any = ThreadPoolTaskRunner(max_workers=settings.workers)
    configured = process_batch.with_options(task_runner=runner)
    return configured(batch_id, sources, lang, settings_ref(settings))
