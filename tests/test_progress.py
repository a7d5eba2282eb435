from __future__ import annotations

import io
import sys
import time

import pytest

from app.progress import ProgressBar


def test_progress_bar_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    done = [0]
    with ProgressBar(lambda: (done[0], 4), interval_s=0.01):
        for _ in range(4):
            done[0] += 1
            time.sleep(0.03)
    output = screen.getvalue()
    assert "4/4 pages" in output and output.endswith("\n")
    assert "[" + "#" * 30 + "]" in output


def test_no_progress_bar_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with ProgressBar(lambda: (1, 2), interval_s=0.01):
        time.sleep(0.03)
    assert pipe.getvalue() == ""
