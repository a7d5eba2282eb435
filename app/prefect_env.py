"""Prefect's environment, set before Prefect is imported.

Without a server Prefect starts a temporary local one; it must not phone home (there is
no network at the counter) and should keep its database inside our data dir.
"""

from __future__ import annotations

import os

from config import Settings


def configure_prefect(settings: Settings, *, verbose: bool = False) -> None:
    (settings.data_dir / "prefect").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_HOME", str(settings.data_dir / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Our own progress and errors are what a clerk reads; Prefect's INFO lines are noise.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
