"""Run a batch on the orchestrator the settings name: Prefect, or threads of this process.

``config.orchestrator_for`` resolves ``auto`` at the entry point; here ``auto`` means
Prefect (``sohoa serve``, as before). Prefect is imported only on its branch.
"""

from __future__ import annotations

from config import Settings
from flows.batch import batch_body
from flows.steps import SourceRef
from flows.submit import InlineSubmitter


def run_batch(settings: Settings, batch_id: str, sources: list[SourceRef], lang: str) -> list[str]:
    """Process one batch; returns the dossier ids in input order."""
    if settings.orchestrator == "inline":
        # No Prefect, hence no machine-wide Tesseract limit: this process reads at most
        # SOHOA_WORKERS pages at once, on its own threads.
        with InlineSubmitter(settings.workers) as submitter:
            return batch_body(
                settings, batch_id, sources, lang, submitter=submitter, ocr_limit=None
            )
    from flows.prefect_runs import run_batch_on_prefect

    return run_batch_on_prefect(settings, batch_id, sources, lang)
