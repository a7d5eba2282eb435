"""Prefect's environment, set before Prefect is imported.

Without a server Prefect starts a temporary local one; it must not phone home (there is
no network at the counter).
"""

from __future__ import annotations

import os

from config import Settings


def configure_prefect(settings: Settings, *, verbose: bool = False) -> None:
    # PREFECT_HOME stays Prefect's own (~/.prefect) unless set: its database must be created
    # and migrated once (~10 s), which should not happen again for every new data dir.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Our own progress and errors are what a clerk reads; Prefect's INFO lines are noise.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
