"""Thin Prefect flows: wire the pure ``pipeline`` stages to ``storage``."""
