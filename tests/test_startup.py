"""The program's start and end (app/startup.py): nothing is lost by ending at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_exit_code_and_every_line_written_survive_the_quick_exit() -> None:
    done = run_python(
        """
        import sys
        from app.startup import run_and_leave

        def main():
            for n in range(20000):
                print(f"line {n}")  # buffered: a pipe is not a terminal
            sys.stderr.write("said on stderr")
            return 3

        run_and_leave(main)
        """
    )
    assert done.returncode == 3
    assert done.stdout.splitlines()[-1] == "line 19999"
    assert len(done.stdout.splitlines()) == 20000
    assert done.stderr == "said on stderr"


def test_threads_still_working_are_waited_for(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    done = run_python(
        f"""
        import threading, time
        from pathlib import Path
        from app.startup import run_and_leave

        def late():
            time.sleep(0.5)
            Path({str(marker)!r}).write_text("done")

        def main():
            threading.Thread(target=late).start()  # not a daemon: its work must finish
            return 0

        run_and_leave(main)
        """
    )
    assert done.returncode == 0
    assert marker.read_text() == "done"


def test_the_collector_is_off_while_importing_and_on_for_the_long_run() -> None:
    done = run_python(
        """
        import gc
        from app.collector import collector_on
        from app.startup import run_and_leave

        def main():
            print("during start-up:", gc.isenabled())
            collector_on()
            print("after collector_on:", gc.isenabled(), gc.get_freeze_count() > 0)
            return 0

        print("before:", gc.isenabled())
        run_and_leave(main)
        """
    )
    assert done.stdout.splitlines() == [
        "before: True",
        "during start-up: False",
        "after collector_on: True True",
    ]


def test_an_exception_still_ends_the_ordinary_way() -> None:
    done = run_python(
        """
        from app.startup import run_and_leave

        def main():
            raise RuntimeError("boom")

        run_and_leave(main)
        """
    )
    assert done.returncode == 1
    assert "RuntimeError: boom" in done.stderr
    assert "leaked" not in done.stderr  # nothing frozen is reported as leaked at exit
