"""Where the seconds of a one-page `sohoa process` go.

Measures, each in a fresh process, on one generated 200 dpi scan:

* imports: ``python -c "import app.cli, flows.orchestrator, flows.steps"`` (what an inline
  ``sohoa process`` imports before its first page), the same plus ``flows.prefect_runs``
  (what it imports on Prefect), both as the program does them (collector off, no teardown:
  app/startup.py), and Python's bare start for reference;
* Prefect's temporary server: start to first answer on ``/health``, alone;
* the page's own work: ``pipeline.page.process_page`` in process (engine loaded, steady);
* bare ``tesseract`` on the same image file (the floor for one page);
* ``sohoa process`` end to end, ``--runs`` times each (the first warms the caches), into
  one data dir set up beforehand (``sohoa db upgrade``, untimed), a new scan of the same
  kind each run: inline (``SOHOA_ORCHESTRATOR=inline``, what ``auto`` picks with no
  ``PREFECT_API_URL``) and on Prefect's temporary server (``SOHOA_ORCHESTRATOR=prefect``).

On Prefect the server starts while sohoa imports and receives the files, so end to end is
roughly max(imports, server) + the flow's own calls to the server + the page's work; the
line "Prefect flow overhead" is what remains once the rest is taken away. Inline, end to
end is the inline imports + the page's work + the rest (intake, archive, database).

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

from bench.ocr import prepare_data_dir  # noqa: E402
from tests import synth  # noqa: E402

PYTHON = REPO / ".venv" / "bin" / "python"
SOHOA = REPO / ".venv" / "bin" / "sohoa"


def wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  ! {cmd[:3]} exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - began


def imports_as_sohoa_s(statement: str, env: dict[str, str]) -> float:
    """Wall time of ``statement`` as the ``sohoa`` program runs its imports: collector off,
    no interpreter teardown (app/startup.py); Python's own start included."""
    code = f"import gc, os, sys\ngc.disable()\n{statement}\nsys.stdout.flush()\nos._exit(0)\n"
    return wall([str(PYTHON), "-c", code], env)


def server_ready_s(data: Path) -> float:
    code = (
        "import time, sys; began = time.perf_counter()\n"
        "from pathlib import Path\n"
        "from app.prefect_env import TemporaryPrefectServer\n"
        f"server = TemporaryPrefectServer(Path({str(data / 'server.log')!r}))\n"
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
        path_env = {**os.environ, "PYTHONPATH": str(REPO)}
        inline_imports = "import app.cli, flows.orchestrator, flows.steps"
        imports_s = min(imports_as_sohoa_s(inline_imports, path_env) for _ in range(2))
        prefect_imports = inline_imports + ", flows.prefect_runs"
        prefect_imports_s = min(imports_as_sohoa_s(prefect_imports, path_env) for _ in range(2))
        server_s = min(server_ready_s(root / f"server-{i}") for i in range(2))
        work_s = page_work_s(scan, root / "work", 2)
        # End to end as at a counter: one data dir per orchestrator, its database set up
        # beforehand (untimed), and a new scan of the same kind each run (the same scan
        # twice would be found a duplicate and not read again).
        scans = []
        for run in range(args.runs):
            other = synth.mixed_degraded_pages(1, dpi=200, seed=7 + run)[0]
            scans.append(root / f"one-page-{run}.jpg")
            other.image.convert("RGB").save(scans[-1], quality=85, dpi=(other.dpi, other.dpi))
        bare = [
            wall(["tesseract", str(one), str(root / "bare"), "-l", "vie", "pdf"]) for one in scans
        ]
        bare_s = statistics.median(bare[1:] or bare)
        ends: dict[str, list[float]] = {"inline": [], "prefect": []}
        envs: dict[str, dict[str, str]] = {}
        for orchestrator in ends:
            envs[orchestrator] = {
                **os.environ,
                "SOHOA_DATA_DIR": str(root / f"data-{orchestrator}"),
                "SOHOA_ORCHESTRATOR": orchestrator,
            }
            envs[orchestrator].pop("PREFECT_API_URL", None)
            prepare_data_dir(root / f"data-{orchestrator}")
        for run in range(args.runs):
            for orchestrator, walls in ends.items():
                walls.append(wall([str(SOHOA), "process", str(scans[run])], envs[orchestrator]))
        steady = {name: statistics.median(w[1:] or w) for name, w in ends.items()}
        overhead = steady["prefect"] - max(prefect_imports_s, server_s) - work_s
        inline_rest = steady["inline"] - imports_s - work_s

        print(f"One page ({scan.name}, 200 dpi), {os.cpu_count()} cores")
        print(f"  python start                      {python_s:6.2f} s")
        print(f"  imports of sohoa process, inline  {imports_s:6.2f} s")
        print(f"  imports of sohoa process, Prefect {prefect_imports_s:6.2f} s")
        print(f"  Prefect temporary server ready    {server_s:6.2f} s  (overlaps the imports)")
        print(f"  page work in process (steady)     {work_s:6.2f} s")
        print(f"  Prefect flow overhead (remainder) {overhead:6.2f} s")
        print(f"  inline rest (intake, archive, db) {inline_rest:6.2f} s")
        for name, walls in ends.items():
            print(
                f"  sohoa process end to end, {name:<7} {steady[name]:6.2f} s  (runs: "
                f"{', '.join(f'{w:.1f}' for w in walls)}; median after the first)"
            )
        print(f"  bare tesseract on the same files  {bare_s:6.2f} s  (median after the first)")
        for name in ends:
            print(f"  difference, {name:<7}               {steady[name] - bare_s:+6.2f} s")


if __name__ == "__main__":
    main()
