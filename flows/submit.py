"""How the batch body runs its tasks: a small seam with a Prefect and an in-process side.

The batch body (``flows/batch.py``) is written against :class:`TaskSubmitter` only. Two
implementations share one retry policy (:func:`retryable`, :data:`RETRY_DELAYS_S`):

* ``flows.prefect_runs.PrefectSubmitter``: each call is a Prefect task run inside a flow run
  (operators see it in Prefect's UI; a ``sohoa worker`` anywhere can run the flow);
* :class:`InlineSubmitter` (here): a thread pool of SOHOA_WORKERS threads in this process,
  with no Prefect import at all. A one-shot ``sohoa process`` with no Prefect server would
  otherwise start Prefect's temporary server (10-30 s) to record runs nobody can see once it
  stops; our own batch and dossier records are what the operators' pages show.

This module must not import Prefect (a test checks ``sys.modules`` after an inline run).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Protocol, TypeVar

from models.errors import BadInputError, OcrEngineError, PageTimeoutError, StorageError

log = logging.getLogger("sohoa.flows")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# Two more tries after the first, this long after each failure: a disk or a store that
# hiccuped has time to come back, and a batch is not held up for long by one that has not.
RETRY_DELAYS_S: tuple[float, ...] = (1.0, 5.0)


def retryable(exc: BaseException) -> bool:
    """What a second try can fix (disk, network, store); never bad input or OCR bugs."""
    if isinstance(exc, BadInputError | OcrEngineError | PageTimeoutError):
        return False
    return isinstance(exc, OSError | StorageError)


class TaskFuture(Protocol[T_co]):
    """What the body keeps of a submitted task: its result, or its exception raised."""

    def result(self) -> T_co: ...


class TaskSubmitter(Protocol):
    """Runs the batch body's task functions (plain functions taking ids and small records)."""

    def submit(self, fn: Callable[..., T], *args: Any) -> TaskFuture[T]:
        """Start ``fn(*args)`` (with retries) and return at once."""
        ...

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` (with retries) now and return its result."""
        ...

    def run_id(self) -> str | None:
        """The orchestrator's id of this batch's run, for operators to follow; None: none."""
        ...


class InlineSubmitter:
    """Tasks on a thread pool of this process, retried like the Prefect tasks.

    Tesseract and OpenCV release the GIL, so ``workers`` threads read ``workers`` pages at
    once. A retry waits on its own thread (it holds a pool thread, as a Prefect task retry
    does on Prefect's thread pool).
    """

    def __init__(
        self,
        workers: int,
        *,
        delays: tuple[float, ...] = RETRY_DELAYS_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sohoa-task")
        self._delays = delays
        self._sleep = sleep
        self._lock = threading.Lock()
        self.attempts: dict[str, int] = {}  # task name -> tries, for logs and tests

    def _with_retries(self, fn: Callable[..., T], *args: Any) -> T:
        name = getattr(fn, "__name__", repr(fn))
        for attempt, delay in enumerate((*self._delays, None)):
            with self._lock:
                self.attempts[name] = self.attempts.get(name, 0) + 1
            try:
                return fn(*args)
            except Exception as exc:
                if delay is None or not retryable(exc):
                    raise
                log.warning(
                    "%s failed (%s: %s); try %d in %.0f s",
                    name, type(exc).__name__, exc, attempt + 2, delay,
                )  # fmt: skip
                self._sleep(delay)
        raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self._pool.submit(self._with_retries, fn, *args)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._with_retries(fn, *args)

    def run_id(self) -> str | None:
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> InlineSubmitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
