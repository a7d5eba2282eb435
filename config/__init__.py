"""Configuration, read once at the edge (CLI / service start) and passed down frozen."""

from config.settings import (
    Settings,
    load_settings,
    orchestrator_for,
    process_settings,
    settings_for,
    settings_ref,
)

__all__ = [
    "Settings",
    "load_settings",
    "orchestrator_for",
    "process_settings",
    "settings_for",
    "settings_ref",
]
