"""A progress bar on stderr, fed by polling the metadata store (so it works for any worker)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


class ProgressBar:
    def __init__(self, poll: Callable[[], tuple[int, int]], *, interval_s: float = 0.5) -> None:
        self._poll = poll
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._enabled = sys.stderr.isatty()

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._enabled:
            self._stop.set()
            self._thread.join(timeout=2)
            self._draw(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._draw()

    def _draw(self, *, final: bool = False) -> None:
        try:
            done, total = self._poll()
        except Exception:
            return  # a progress bar must never break the batch
        width = 30
        filled = int(width * done / total) if total else 0
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if final else ""
        sys.stderr.write(f"\r[{bar}] {done}/{total} pages{end}")
        sys.stderr.flush()
