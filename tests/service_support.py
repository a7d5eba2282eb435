"""Helpers for service tests: a batch runner that runs the flow's steps without Prefect."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from config import Settings
from flows import steps
from flows.runtime import metadata_store
from models import DossierStatus
from storage import keys


def run_steps(settings: Settings, batch_id: str, sources: list[steps.SourceRef], lang: str) -> None:
    """The batch flow's work, task by task, in this process (what Prefect would schedule)."""
    meta = metadata_store(settings)
    for position, source in enumerate(sources):
        dossier_id = keys.dossier_id(batch_id, position)
        try:
            received = steps.receive_source(settings, batch_id, dossier_id, position, source)
            if received.error or received.duplicate_of or received.archived:
                continue
            meta.set_status(dossier_id, DossierStatus.PROCESSING)
            with ThreadPoolExecutor(2) as pool:
                pages = list(
                    pool.map(
                        lambda i, r=received: steps.process_one_page(settings, r, i, lang),
                        range(received.page_count),
                    )
                )
            for part in steps.split_stack(settings, received, pages):
                wanted = [p for p in pages if p.info.index in part.pages]
                steps.archive_dossier(settings, received, part, wanted)
            steps.finish_source(settings, received)
        except Exception as exc:
            meta.set_status(
                dossier_id, DossierStatus.FAILED, steps.describe_error(exc, source.name)
            )
