"""Where the seconds of a one-page `sohoa process` go.

Measures, each in a fresh process, on one generated 200 dpi scan:

* imports: ``python -c "import app.cli, flows.batch, flows.steps"`` (what ``sohoa process``
  imports before its first page), and Python's bare start for reference;
* Prefect's temporary server: start to first answer on ``/health``, alone;
* the page's own work: ``pipeline.page.process_page`` in process (engine loaded, steady);
* bare ``tesseract`` on the same image file (the floor for one page);
* ``sohoa process`` of the page end to end, ``--runs`` times (the first warms the caches).

The server starts while sohoa imports and receives the files, so end to end is roughly
max(imports, server) + the flow's own calls to the server + the page's work; the line
"Prefect flow overhead" is what remains once the rest is taken away.

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/startup.py [--runs 3]

About a minute on 2 idle cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402

PYTHON = REPO / ".venv" / "bin" / "python"
SOHOA = REPO / ".venv" / "bin" / "sohoa"


def wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  ! {cmd[:3]} exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - began


def server_ready_s(data: Path) -> float:
    code = (
        "import time, sys; began = time.perf_counter()\n"
        "from app.prefect_env import TemporaryPrefectServer\n"
        f"server = TemporaryPrefectServer({str(data / 'server.log')!r})\n"
        "server.start(); ok = server.wait_ready(120); server.stop()\n"
        "print(time.perf_counter() - began if ok else -1)\n"
    )
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(
        [str(PYTHON), "-c", code], env=env, capture_output=True, text=True, cwd=REPO
    )
    return float(done.stdout.strip() or -1)


def page_work_s(scan: Path, work: Path, runs: int) -> float:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from pipeline.context import PageContext\n"
        "from pipeline.load import inspect_source\n"
        "from pipeline.page import process_page\n"
        f"source = inspect_source(Path({str(scan)!r}))\n"
        "context = PageContext(source_name=source.name, page_index=0)\n"
        "times = []\n"
        f"for run in range({runs + 1}):\n"
        "    began = time.perf_counter()\n"
        f"    process_page(source, context, Path({str(work)!r}) / str(run))\n"
        "    times.append(time.perf_counter() - began)\n"
        "print(min(times[1:]))\n"  # the first loads the engine and the syllable list
    )
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        print(f"  ! page work: {done.stderr.strip()[-300:]}")
        return -1.0
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["OMP_THREAD_LIMIT"] = "1"
    with tempfile.TemporaryDirectory(prefix="sohoa-bench-startup-") as tmp:
        root = Path(tmp)
        page = synth.mixed_degraded_pages(1, dpi=200, seed=7)[0]
        scan = root / "one-page.jpg"
        page.image.convert("RGB").save(scan, quality=85, dpi=(page.dpi, page.dpi))

        python_s = min(wall([str(PYTHON), "-c", "pass"]) for _ in range(3))
        imports_s = min(
            wall(
                [str(PYTHON), "-c", "import app.cli, flows.batch, flows.steps"],
                {**os.environ, "PYTHONPATH": str(REPO)},
            )
            for _ in range(2)
        )
        server_s = min(server_ready_s(root / f"server-{i}") for i in range(2))
        work_s = page_work_s(scan, root / "work", 2)
        bare = [wall(["tesseract", str(scan), str(root / "bare"), "-l", "vie", "pdf"])]
        bare += [wall(["tesseract", str(scan), str(root / "bare"), "-l", "vie", "pdf"])]
        bare_s = min(bare)
        ends = []
        for run in range(args.runs):
            env = {**os.environ, "SOHOA_DATA_DIR": str(root / f"data-{run}")}
            ends.append(wall([str(SOHOA), "process", str(scan)], env))
        steady = statistics.median(ends[1:] or ends)
        overhead = steady - max(imports_s, server_s) - work_s

        print(f"One page ({scan.name}, 200 dpi), {os.cpu_count()} cores")
        print(f"  python start                      {python_s:6.2f} s")
        print(f"  imports of sohoa process          {imports_s:6.2f} s")
        print(f"  Prefect temporary server ready    {server_s:6.2f} s  (overlaps the imports)")
        print(f"  page work in process (steady)     {work_s:6.2f} s")
        print(f"  Prefect flow overhead (remainder) {overhead:6.2f} s")
        print(
            f"  sohoa process end to end          {steady:6.2f} s  (runs: "
            f"{', '.join(f'{w:.1f}' for w in ends)}; median after the first)"
        )
        print(f"  bare tesseract on the same file   {bare_s:6.2f} s")
        print(f"  difference                        {steady - bare_s:+6.2f} s")


if __name__ == "__main__":
    main()
