"""Process-wide handles to the stores, built once from the frozen settings.

The factory and its cache live in ``storage.factory``; these names stay because the flows,
the service and the CLI reach the stores through them.
"""

from __future__ import annotations

from storage.factory import forget_stores, metadata_store, object_store

reset = forget_stores

__all__ = ["metadata_store", "object_store", "reset"]
