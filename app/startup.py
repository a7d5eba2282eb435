"""How the ``sohoa`` program starts and ends: the garbage collector, and the exit.

A command imports about a million objects that live as long as the process (modules,
classes, SQLAlchemy's and pydantic's tables). With the collector on, Python walks them
again and again while they load, and once more when it tears itself down at the end:
0.5 s and 0.4 s of a one-page ``sohoa process`` that otherwise takes under 3 s
(``bench/startup.py``). So the program starts with the collector off; a command that runs
for long (a batch, the service, a worker) switches it back on once its imports are done,
with what exists by then frozen out of its reach; and when a command has returned and its
output is flushed, the process ends at once instead of freeing each object in turn.

Only the console entry point does this: tests and other callers of ``app.cli.main`` keep
the interpreter's defaults (``collector_on`` does nothing when the collector is on).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

from app.collector import hold_collector


def console_main() -> NoReturn:
    """The ``sohoa`` program: ``app.cli.main``, imported with the collector already off."""

    def cli_main() -> int:
        from app.cli import main

        return main()

    run_and_leave(cli_main)


def run_and_leave(main: Callable[[], int]) -> NoReturn:
    """Run ``main`` and end the process with its exit code, without a teardown.

    Everything a command writes is written by the time it returns: database transactions
    are committed, objects stored, temporary folders removed by their own ``with``. What
    is left for the exit is flushing the standard streams and the log handlers, done here.
    An exception still ends the process the ordinary way, traceback and all.
    """
    hold_collector()
    try:
        code = main()
    except BaseException:
        _before_ordinary_exit()
        raise
    if _still_working():
        # Work handed to threads that outlive the command (the service stopped by Ctrl-C
        # with a batch running): the ordinary exit waits for them, as it always did.
        _before_ordinary_exit()
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: nothing more can be said anyway.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _before_ordinary_exit() -> None:
    gc.unfreeze()  # a teardown frees what was frozen too (no "leaked" reports from bindings)
    gc.enable()


def _still_working() -> bool:
    """Is any thread other than this one still running that an ordinary exit would join?"""
    current = threading.current_thread()
    return any(
        thread is not current and thread.is_alive() and not thread.daemon
        for thread in threading.enumerate()
    )
