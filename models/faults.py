"""Fault injection for the crash tests: the process SIGKILLs itself at a named point.

``SOHOA_FAULT=point`` or ``point:n`` kills the process (``kill -9``: no cleanup, no
``finally``, no flush) the n-th time (default the first) execution reaches ``point``, as
a power cut or the OOM killer would. Unset -- always, outside the fault suite -- a point
costs one dictionary lookup. Points are named where state is half-written: after an
object's bytes are on disk but before it is renamed into place, between a metadata write
and its commit, after OCR, after assembly, between the manifest and the archived mark.
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_seen: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get("SOHOA_FAULT", "")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count or 1)


_TARGET = _target()


def point(name: str) -> None:
    if _TARGET is None or _TARGET[0] != name:
        return
    with _lock:
        _seen[name] = _seen.get(name, 0) + 1
        if _seen[name] == _TARGET[1]:
            os.kill(os.getpid(), signal.SIGKILL)
