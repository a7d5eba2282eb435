"""One page's time budget (SOHOA_PAGE_TIMEOUT_S) over every step, not only Tesseract.

A worker thread cannot be killed, so the budget is kept cooperatively:

* ``pipeline.page.process_page`` checks it before and after every step, and hands each
  step only the time that is left (Tesseract, whose engine stops itself, gets the rest);
* long loops inside a step call :func:`check_deadline` between items (barcodes found,
  handwritten areas), so a page with thousands of them stops early;
* a part of the page read again inside the OCR step (a table's cells, a letter foot's
  sides, a line's numbers) asks :func:`time_left` for its engine timeout: what is left of
  the page's budget, never the whole step's timeout again for every part.

What is not interrupted: one single call into native code (a zxing decode, an OpenCV
operation, a Poppler render). It has its own bounds (the parsers' limits, Poppler's
subprocess timeout, the pixel cap); when it returns past the budget the page fails then.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from models.errors import PageTimeoutError


@dataclass
class PageDeadline:
    source_name: str
    page_number: int  # 1-based, as people count
    budget_s: float
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def check(self, doing: str) -> None:
        """Raise the page's one-line failure once the budget is spent."""
        if self.remaining() < 0:
            raise PageTimeoutError(
                f"{self.source_name}: page {self.page_number} took longer than "
                f"{self.budget_s:g} s: stopped {doing}"
            )


_current: ContextVar[PageDeadline | None] = ContextVar("sohoa_page_deadline", default=None)


@contextmanager
def page_deadline(deadline: PageDeadline) -> Iterator[PageDeadline]:
    """Make ``deadline`` the one :func:`check_deadline` checks in this thread."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def check_deadline(doing: str) -> None:
    """For long loops inside a step: stop the page once its budget is spent (no page
    running here: nothing to check)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check(doing)


def time_left(timeout_s: float, doing: str) -> float:
    """The timeout for one more engine call inside a step: ``timeout_s`` cut to what is left
    of the page's budget; the page's one-line failure once that is spent (no page running
    here: ``timeout_s`` as it is)."""
    deadline = _current.get()
    if deadline is None:
        return timeout_s
    deadline.check(doing)
    return min(timeout_s, deadline.remaining())
