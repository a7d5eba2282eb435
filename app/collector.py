"""The garbage collector of the ``sohoa`` program: off while it imports, on for long work.

See app/startup.py for why. Kept apart from it so that commands (app/cli.py, app/scaleout.py)
can say "imports done" without importing the entry point that imports them.
"""

from __future__ import annotations

import gc


def hold_collector() -> None:
    """Off while the program imports (the console entry point's first act)."""
    gc.disable()


def collector_on() -> None:
    """Imports are done and long work begins: collect again, but not what imports made."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
