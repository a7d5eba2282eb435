"""The scale-out topology on one machine, without Docker: what throughput, what overhead.

Starts, all as plain processes in a temporary directory:

* a throwaway PostgreSQL (``tests/pgcluster.py``): one database for Prefect, one for
  sohoa per measured configuration;
* a Prefect server (``prefect server start`` on a free port, its own PREFECT_HOME, on
  that PostgreSQL through asyncpg; its access log counts the API calls);
* ``sohoa deploy`` (work pool, deployment, Tesseract limit), then N ``sohoa worker``
  processes on the pool and ``sohoa serve`` with SOHOA_DEPLOYMENT (it only stores uploads
  and queues flow runs), sharing one data dir (local object store) and the database;
* counter and operator tokens (``sohoa token create``).

Then, for each worker count in ``--workers`` (fresh database and data dir each time, same
generated scans): uploads a batch set through the HTTP API (``--batches`` concurrent
uploads of ``--files`` files of ``--pages`` pages), waits until every dossier is archived,
checks none is lost, doubled or altered (``bench/load.py``'s checks), and prints pages/min.

Then the orchestration overhead (``--overhead-pages``, default 50, as one batch, on the
last worker count): the batch's flow run (queue wait, run time, from Prefect's API), the
time its stages took (SOHOA_STAGE_LOG: cleaning+OCR per page, archiving per dossier), and
the same files through the same steps in this process with plain threads and no Prefect
(same database server, same threads): overhead = what the deployed run took beyond that.
Also per page: Prefect API requests and events, sohoa database rows written, bytes stored.

    .venv/bin/python bench/multiworker.py [--workers 1,2] [--batches 4 --files 3 --pages 4]
                                          [--overhead-pages 50] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.load import (  # noqa: E402
    AGENCY,
    Scan,
    Upload,
    check,
    free_port,
    make_scans,
    run_load,
    sohoa_command,
    wait_healthy,
)
from tests.pgcluster import PostgresCluster  # noqa: E402

DEPLOYMENT = "sohoa-batch/default"
POOL = "sohoa"


# --- the topology -------------------------------------------------------------------------


@dataclass
class Topology:
    """Every process of the scale-out setup, started by hand as an operator would."""

    root: Path
    cluster: PostgresCluster | None = None
    prefect_url: str = ""
    prefect_log: Path | None = None
    prefect_server: subprocess.Popen[bytes] | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_postgres(self) -> None:
        self.cluster = PostgresCluster.start()

    def postgres_pids(self) -> list[int]:
        if self.cluster is None:
            return []
        return [int((self.cluster.data / "postmaster.pid").read_text().split()[0])]

    def database(self, name: str) -> str:
        assert self.cluster is not None
        return self.cluster.create_database(name)

    def start_prefect(self, *, timeout_s: float = 180) -> None:
        assert self.cluster is not None
        self.cluster.create_database("prefect")
        port = free_port()
        home = self.root / "prefect-server"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": (
                f"postgresql+asyncpg://{self.cluster.user}@127.0.0.1:{self.cluster.port}/prefect"
            ),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "INFO",  # uvicorn's access log: one line a request
        }
        env.pop("PREFECT_API_URL", None)
        self.prefect_log = self.root / "prefect-server.log"
        prefect = Path(sys.executable).parent / "prefect"
        command = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        self.prefect_url = f"http://127.0.0.1:{port}/api"
        self.prefect_server = self._spawn([*command, "--no-ui"], env, self.prefect_log)
        self.processes.append(self.prefect_server)
        deadline = time.monotonic() + timeout_s
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.prefect_url}/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            if self.processes[-1].poll() is not None or time.monotonic() > deadline:
                tail = self.prefect_log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"Prefect server did not start:\n{tail}")
            time.sleep(0.5)

    def sohoa_env(self, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOHOA_", "PREFECT_"))}
        env.update(
            PREFECT_API_URL=self.prefect_url,
            PREFECT_HOME=str(self.root / "prefect-client"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            OMP_THREAD_LIMIT="1",
            SOHOA_DATABASE_URL=database_url,
            SOHOA_DATA_DIR=str(data_dir),
            SOHOA_WORKERS="2",
        )
        env.update(extra)
        return env

    def sohoa(self, args: list[str], env: dict[str, str], timeout: float = 300) -> str:
        done = subprocess.run(
            [*sohoa_command(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"sohoa {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        process = self._spawn([*sohoa_command(), *args], env, log)
        self.processes.append(process)
        return process

    def _spawn(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                command,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # its own group: stopped with its children
            )

    def stop(self, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Tesseract or a uvicorn child left behind would skew the next measurement.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if process in self.processes:
            self.processes.remove(process)

    def close(self) -> None:
        for process in reversed(list(self.processes)):
            self.stop(process)
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    # --- Prefect's API, plainly -------------------------------------------------------

    def api(self, method: str, path: str, body: object | None = None) -> Any:
        response = httpx.request(method, f"{self.prefect_url}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_workers(self, names: list[str], timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            online = {
                w["name"]
                for w in self.api("POST", f"/work_pools/{POOL}/workers/filter", {"limit": 200})
                if w.get("status") == "ONLINE"
            }
            if set(names) <= online:
                return
            time.sleep(0.5)
        raise SystemExit(f"workers {names} did not come online within {timeout_s:.0f} s")


# --- where the CPU went ---------------------------------------------------------------------


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, with the children it has reaped."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for member in members:
        with contextlib.suppress(psutil.Error):
            t = member.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def cpu_snapshot(roles: dict[str, list[int]]) -> dict[str, float]:
    """Busy CPU seconds of the whole machine (``machine``), of each role's process trees,
    and of this bench process itself (``bench``, without its children)."""
    import psutil

    times = psutil.cpu_times()
    snapshot = {
        "machine": sum(times) - times.idle - getattr(times, "iowait", 0.0),
        "steal": getattr(times, "steal", 0.0),  # a virtual machine's CPU the host took back
    }
    own = psutil.Process().cpu_times()  # with the children it reaped (the baseline's OCR)
    snapshot["bench"] = own.user + own.system + own.children_user + own.children_system
    for role, pids in roles.items():
        snapshot[role] = sum(_tree_cpu(pid) for pid in pids)
    return snapshot


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    used = {k: after[k] - before.get(k, 0.0) for k in after}
    used["others"] = used["machine"] - sum(
        v for k, v in used.items() if k not in ("machine", "steal")
    )
    return used


def describe_cpu(used: dict[str, float], wall_s: float) -> str:
    cores = os.cpu_count() or 1
    parts = [f"{k} {v:.1f} s" for k, v in used.items() if k not in ("machine",) and v >= 0.05]
    return (
        f"CPU {used['machine']:.0f} s of {cores} x {wall_s:.0f} s: "
        + ", ".join(parts)
        + (" (others: processes not started by this bench)" if used["others"] >= 0.5 else "")
    )


# --- one configuration: N workers, a batch set --------------------------------------------


@dataclass
class Outcome:
    label: str
    workers: int
    pages: int
    uploaded_s: float
    finished_s: float | None
    problems: list[str]
    data_dir: Path
    stage_log: Path
    database: str
    batches: list[dict[str, Any]]
    writes: dict[str, int]  # sohoa database rows written by the uploads and their processing
    cpu: dict[str, float]  # CPU seconds from the first upload until all archived, by role


def run_configuration(
    topo: Topology,
    label: str,
    workers: int,
    groups: list[list[Scan]],
    *,
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
    worker_args: tuple[str, ...] = (),
) -> Outcome:
    database = f"sohoa_{label}"
    data_dir = topo.root / f"data-{label}"
    stage_log = topo.root / f"stages-{label}.jsonl"
    env = topo.sohoa_env(topo.database(database), data_dir, SOHOA_STAGE_LOG=str(stage_log))
    env.update(extra_env or {})
    topo.sohoa(["db", "upgrade"], env)  # once, before processes start together
    counter = topo.sohoa(["token", "create", "--role", "counter", "--name", "bench"], env)
    operator = topo.sohoa(["token", "create", "--role", "operator", "--name", "bench ops"], env)
    writes_before = database_writes(topo, database)
    names = [f"bench-{label}-{i + 1}" for i in range(workers)]
    started = [
        topo.start(["worker", "--name", name, *worker_args], env, topo.root / f"{name}.log")
        for name in names
    ]
    port = free_port()
    serve = topo.start(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        {**env, "SOHOA_DEPLOYMENT": DEPLOYMENT},
        topo.root / f"serve-{label}.log",
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, serve, timeout_s=120)
        topo.wait_workers(names)
        uploads = [Upload(list(group)) for group in groups]
        pages = sum(s.pages for g in groups for s in g)
        assert topo.prefect_server is not None
        roles = {
            **{f"worker {i + 1}": [p.pid] for i, p in enumerate(started)},
            "serve": [serve.pid],
            "prefect server": [topo.prefect_server.pid],
            "postgres": topo.postgres_pids(),
        }
        cpu_before = cpu_snapshot(roles)
        print(f"[{label}] {workers} worker(s): {len(uploads)} upload(s), {pages} pages", flush=True)
        uploaded_s, finished_s, dossiers = asyncio.run(
            run_load(
                base_url,
                counter.strip().splitlines()[-1],
                operator.strip().splitlines()[-1],
                uploads,
                timeout_s,
            )
        )
        cpu = cpu_used(cpu_before, cpu_snapshot(roles))
        problems, _errors, _lost = check(uploads, dossiers, data_dir / "objects")
        if finished_s is None:
            problems.append(f"not finished within {timeout_s:.0f} s")
        batches = [u.batch for u in uploads]
        # Every dossier is archived a moment before its flow run reports Completed: stopping
        # the workers now would put the runs back in the queue.
        problems += wait_final([b.get("flow_run_id") for b in batches], topo)
    finally:
        topo.stop(serve)
        for process in started:
            topo.stop(process)
    time.sleep(0.5)  # a closed connection's statistics are flushed as its backend exits
    after = database_writes(topo, database)
    writes = {k: after[k] - writes_before[k] for k in after}
    return Outcome(
        label, workers, pages, uploaded_s, finished_s, problems, data_dir, stage_log,
        database, batches, writes, cpu,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """``2`` two workers; ``1x2`` one worker running two batches at once (SOHOA_WORKER_RUNS);
    ``2p`` two Prefect process workers (``sohoa worker --process``: a process per batch)."""

    text: str
    workers: int
    runs: int = 1
    process: bool = False

    @classmethod
    def parse(cls, text: str) -> Config:
        found = re.fullmatch(r"(\d+)(?:x(\d+))?(p?)", text.strip())
        if not found:
            raise SystemExit(f"--workers: {text!r} is not N, NxRUNS or Np")
        return cls(text.strip(), int(found[1]), int(found[2] or 1), bool(found[3]))

    @property
    def label(self) -> str:
        return "w" + self.text

    def run(self, topo: Topology, groups: list[list[Scan]], timeout_s: float) -> Outcome:
        return run_configuration(
            topo,
            self.label,
            self.workers,
            groups,
            timeout_s=timeout_s,
            extra_env={"SOHOA_WORKER_RUNS": str(self.runs)},
            worker_args=("--process",) if self.process else (),
        )


def wait_final(flow_run_ids: list[str | None], topo: Topology, timeout_s: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout_s
    for run_id in flow_run_ids:
        if not run_id:
            return ["a batch has no flow run"]
        while True:
            state = topo.api("GET", f"/flow_runs/{run_id}")["state_type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                if state != "COMPLETED":
                    return [f"flow run {run_id} ended {state}"]
                break
            if time.monotonic() > deadline:
                return [f"flow run {run_id} still {state} after {timeout_s:.0f} s"]
            time.sleep(0.2)
    return []


# --- the same work without Prefect ---------------------------------------------------------


def pure_run(settings: Any, scans: list[Scan], lang: str = "vie") -> float:
    """The batch flow's steps on plain threads (SOHOA_WORKERS), no Prefect: seconds taken.

    The originals are stored first, untimed, as an upload does; then timed exactly what a
    flow run does: receive again from the store, pages in parallel, split, archive.
    """
    from flows import archiving, steps
    from flows.limits import timed
    from flows.runtime import metadata_store
    from models import BatchInfo, DossierStatus
    from storage import keys

    def timed_page(settings: Any, received: Any, index: int, lang: str) -> Any:
        with timed(settings, "page", received.dossier_id, index):
            return steps.process_one_page(settings, received, index, lang)

    meta = metadata_store(settings)
    batch_id = keys.new_batch_id()
    steps.receive_batch(
        settings,
        BatchInfo(
            batch_id=batch_id,
            created_at=datetime.now(UTC),
            lang=lang,
            source_count=len(scans),
            uploaded_by="bench",
            agency_code=AGENCY,
        ),
        [steps.SourceRef(str(scan.path), scan.name) for scan in scans],
    )
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=settings.workers) as pool:
        received_futures = [
            pool.submit(
                steps.receive_source,
                settings,
                batch_id,
                keys.dossier_id(batch_id, position),
                position,
                steps.SourceRef("", scan.name),
            )
            for position, scan in enumerate(scans)
        ]
        page_futures = []
        for future in received_futures:
            received = future.result()
            meta.set_status(received.dossier_id, DossierStatus.PROCESSING)
            page_futures.append(
                (
                    received,
                    [
                        pool.submit(timed_page, settings, received, index, lang)
                        for index in range(received.page_count)
                    ],
                )
            )
        archives = []
        for received, futures in page_futures:
            pages = [f.result() for f in futures]
            for part in steps.split_stack(settings, received, pages):
                wanted = [p for p in pages if p.info.index in part.pages]
                archives.append(
                    pool.submit(archiving.archive_dossier, settings, received, part, wanted)
                )
        for archive in archives:
            archive.result()
        for received, _ in page_futures:
            steps.finish_source(settings, received)
    seconds = time.perf_counter() - began
    statuses = Counter(str(d.status) for d in meta.batch_dossiers(batch_id))
    if set(statuses) != {"archived"}:
        raise SystemExit(f"baseline run did not archive everything: {dict(statuses)}")
    return seconds


# --- what the logs and databases say -------------------------------------------------------

_ACCESS = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Requests every worker makes whether or not there is work (per second, not per page).
BACKGROUND = ("get_scheduled_flow_runs", "/heartbeat", "/health", "/workers/filter")


def api_requests(log: Path, start: int, end: int) -> Counter[str]:
    with log.open("rb") as handle:
        handle.seek(start)
        text = handle.read(end - start).decode("utf-8", errors="replace")
    found: Counter[str] = Counter()
    for method, path, _status in _ACCESS.findall(text):
        path = _UUID.sub("{id}", path.split("?")[0])
        path = re.sub(r"/work_pools/[^/]+/", "/work_pools/{pool}/", path)
        path = re.sub(
            r"/v2/concurrency_limits/(?!increment|decrement|leases)[^/]+",
            "/v2/concurrency_limits/{name}",
            path,
        )
        found[f"{method} {path}"] += 1
    return found


def prefect_events(topo: Topology, since: datetime, until: datetime) -> Counter[str]:
    import psycopg

    assert topo.cluster is not None
    conninfo = f"host=127.0.0.1 port={topo.cluster.port} user={topo.cluster.user} dbname=prefect"
    with psycopg.connect(conninfo) as connection:
        rows = connection.execute(
            "SELECT event, count(*) FROM events WHERE occurred BETWEEN %s AND %s GROUP BY event",
            (since, until),
        ).fetchall()
    return Counter({str(event): int(count) for event, count in rows})


def database_writes(topo: Topology, database: str) -> dict[str, int]:
    import psycopg

    assert topo.cluster is not None
    conninfo = f"host=127.0.0.1 port={topo.cluster.port} user={topo.cluster.user} dbname=postgres"
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    return dict(zip(("commits", "inserted", "updated", "deleted"), map(int, row), strict=True))


def stored_bytes(objects_dir: Path) -> dict[str, tuple[int, int]]:
    """(objects, bytes) by kind under the local object store."""
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in objects_dir.rglob("*"):
        if not path.is_file():
            continue
        name = path.name
        kind = (
            "original"
            if name.startswith("original.")
            else "page image"
            if path.parent.name == "pages"
            else "page OCR"
            if path.parent.name == "ocr"
            else name
        )
        kinds[kind][0] += 1
        kinds[kind][1] += path.stat().st_size
    return {k: (v[0], v[1]) for k, v in kinds.items()}


def stage_sums(stage_log: Path) -> dict[str, tuple[int, float]]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    if stage_log.exists():
        for line in stage_log.read_text().splitlines():
            item = json.loads(line)
            sums[item["stage"]][0] += 1
            sums[item["stage"]][1] += item["seconds"]
    return {k: (int(v[0]), v[1]) for k, v in sums.items()}


def flow_run(topo: Topology, flow_run_id: str) -> dict[str, Any]:
    return dict(topo.api("GET", f"/flow_runs/{flow_run_id}"))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- main ---------------------------------------------------------------------------------


def group_scans(scans: list[Scan], per_upload: int) -> list[list[Scan]]:
    return [scans[i : i + per_upload] for i in range(0, len(scans), per_upload)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--workers", default="1,2", help="configurations: N workers, NxRUNS, Np (1,2)"
    )
    parser.add_argument("--batches", type=int, default=4, help="concurrent uploads (4)")
    parser.add_argument("--files", type=int, default=3, help="files per upload (3)")
    parser.add_argument("--pages", type=int, default=4, help="pages per file (4)")
    parser.add_argument("--overhead-pages", type=int, default=50, help="0: skip (50)")
    parser.add_argument("--overhead-pages-per-file", type=int, default=5)
    parser.add_argument("--overhead-workers", type=int, default=2, help="workers running (2)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    configs = [Config.parse(n) for n in args.workers.split(",") if n.strip()]
    root = Path(tempfile.mkdtemp(prefix="sohoa-multi-"))
    topo = Topology(root)
    code = 1
    try:
        began = time.perf_counter()
        topo.start_postgres()
        topo.start_prefect()
        print(f"PostgreSQL and Prefect server up in {time.perf_counter() - began:.1f} s")
        setup_env = topo.sohoa_env(topo.database("sohoa_setup"), root / "data-setup")
        print(topo.sohoa(["deploy"], setup_env).rstrip())
        per_set = args.batches * args.files
        scans = make_scans(per_set, args.pages, root / "scans", args.seed) if configs else []
        over_files = -(-args.overhead_pages // args.overhead_pages_per_file)
        over_scans = (
            make_scans(over_files, args.overhead_pages_per_file, root / "scans-50", args.seed + 1)
            if args.overhead_pages
            else []
        )
        problems: list[str] = []
        outcomes = []
        for config in configs:
            outcome = config.run(topo, group_scans(scans, args.files), args.timeout)
            outcomes.append((config, outcome))
            problems += [f"[{outcome.label}] {p}" for p in outcome.problems]
        print()
        print(f"{'workers':>7} {'pages':>6} {'uploaded s':>10} {'archived s':>10} {'pages/min':>9}")
        for config, o in outcomes:
            rate = o.pages / o.finished_s * 60 if o.finished_s else float("nan")
            print(
                f"{config.text:>7} {o.pages:>6} {o.uploaded_s:>10.1f} "
                f"{o.finished_s or float('nan'):>10.1f} {rate:>9.1f}"
            )
            others = o.cpu["others"] / ((os.cpu_count() or 1) * (o.finished_s or 1.0))
            if others > 0.05:
                print(f"        ^ other processes took {others:.0%} of the CPU: not a clean figure")
        for _config, o in outcomes:
            print(f"  [{o.label}] {describe_cpu(o.cpu, o.finished_s or 0.0)}")
            for stage, (n, total) in sorted(stage_sums(o.stage_log).items()):
                print(f"  [{o.label}] {stage:<9} {n:>4} runs, {total:8.1f} s in all")
        if over_scans:
            problems += overhead(topo, args.overhead_workers, over_scans, args)
        print()
        for problem in problems[:30]:
            print(f"PROBLEM: {problem}")
        print("RESULT: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
        code = 0 if not problems else 1
    finally:
        topo.close()
        if args.keep or code != 0:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return code


def overhead(
    topo: Topology, workers: int, scans: list[Scan], args: argparse.Namespace
) -> list[str]:
    assert topo.prefect_log is not None
    pages = sum(s.pages for s in scans)
    from config import Settings

    args.pure_first_s = pure_run(
        Settings(
            data_dir=topo.root / "data-pure-first",
            database_url=topo.database("sohoa_pure_first"),
            workers=2,
        ),
        scans,
    )
    log_start = topo.prefect_log.stat().st_size
    since = datetime.now(UTC)
    outcome = run_configuration(topo, f"over{workers}", workers, [scans], timeout_s=args.timeout)
    until = datetime.now(UTC)
    time.sleep(1.5)  # statistics and the access log catch up
    log_end = topo.prefect_log.stat().st_size
    problems = [f"[{outcome.label}] {p}" for p in outcome.problems]
    batch = outcome.batches[0]
    run = flow_run(topo, batch["flow_run_id"])
    created, start, end = (_when(run[k]) for k in ("created", "start_time", "end_time"))
    queued_s = (start - created).total_seconds()
    run_s = (end - start).total_seconds()
    stages = stage_sums(outcome.stage_log)

    # The same files, same steps, same database server, no Prefect.
    database_url = topo.database("sohoa_pure")
    pure_log = topo.root / "stages-pure.jsonl"
    settings = Settings(
        data_dir=topo.root / "data-pure",
        database_url=database_url,
        workers=2,
        stage_log=str(pure_log),
    )
    pure_roles = {"postgres": topo.postgres_pids()}
    cpu_before = cpu_snapshot(pure_roles)
    pure_s = pure_run(settings, scans)
    pure_cpu = cpu_used(cpu_before, cpu_snapshot(pure_roles))
    pure_stages = stage_sums(pure_log)
    # Run-to-run noise (and any order effect) shows in the baseline measured before the
    # deployed run: both are printed, the overhead is taken against their mean.
    pure_first_s = getattr(args, "pure_first_s", None)
    if pure_first_s is not None:
        print(f"  baseline before the deployed run {pure_first_s:.1f} s, after {pure_s:.1f} s")
        pure_s = (pure_s + pure_first_s) / 2

    print()
    print(f"overhead: one batch of {pages} pages ({len(scans)} files), {workers} worker(s)")
    print(f"  upload answered after          {outcome.uploaded_s:7.1f} s (originals stored)")
    print(f"  flow run queued -> started     {queued_s:7.1f} s (worker poll)")
    print(f"  flow run started -> ended      {run_s:7.1f} s")
    if outcome.finished_s is not None:
        print(f"  upload -> all archived (polled {outcome.finished_s:7.1f} s")
    print(f"  same steps, plain threads      {pure_s:7.1f} s (no Prefect)")
    for stage, (n, total) in sorted(stages.items()):
        print(f"  stage {stage:<10} {n:>4} x, {total:7.1f} s in all, {total / n:6.3f} s each")
    if "page" in pure_stages:
        n, total = pure_stages["page"]
        print(f"  stage page (no Prefect) {n:>4} x, {total:7.1f} s in all, {total / n:6.3f} s each")
    print(f"  deployed run: {describe_cpu(outcome.cpu, outcome.finished_s or 0.0)}")
    print(f"  no Prefect:   {describe_cpu(pure_cpu, pure_s)}")
    in_run = (run_s - pure_s) / run_s
    with_queue = (run_s + queued_s - pure_s) / (run_s + queued_s)
    print(f"  Prefect overhead inside the run: {run_s - pure_s:5.1f} s = {in_run:6.1%} of the run")
    print(
        f"  with the queue wait:             {run_s + queued_s - pure_s:5.1f} s = "
        f"{with_queue:6.1%}; per page {(run_s + queued_s - pure_s) / pages * 1000:.0f} ms"
    )
    work = sum(stages.get(s, (0, 0.0))[1] for s in ("receive", "page", "split", "archive"))
    print(f"  stage seconds / (2 threads x run) = {work / (2 * run_s):6.1%} busy")

    requests = api_requests(topo.prefect_log, log_start, log_end)
    window = (until - since).total_seconds()
    per_run = {k: v for k, v in requests.items() if not any(b in k for b in BACKGROUND)}
    print(f"  Prefect API requests in the {window:.0f} s window: {sum(requests.values())}")
    for key, count in sorted(per_run.items(), key=lambda kv: -kv[1]):
        print(f"    {count:>5}  {count / pages:6.2f}/page  {key}")
    background = {k: v for k, v in requests.items() if k not in per_run}
    for key, count in sorted(background.items(), key=lambda kv: -kv[1]):
        print(f"    {count:>5}  {count / window:6.2f}/s     {key} (background)")
    print(f"    per page (not background): {sum(per_run.values()) / pages:.1f}")
    events = prefect_events(topo, since, until)
    print(f"  Prefect events: {sum(events.values())} ({sum(events.values()) / pages:.1f}/page)")
    for name, count in events.most_common(12):
        print(f"    {count:>5}  {count / pages:6.2f}/page  {name}")
    writes = outcome.writes
    rows = writes["inserted"] + writes["updated"] + writes["deleted"]
    print(
        f"  sohoa database: {rows} rows written ({rows / pages:.1f}/page: "
        f"{writes['inserted']} inserted, {writes['updated']} updated, {writes['deleted']} deleted),"
        f" {writes['commits']} transactions incl. reads ({writes['commits'] / pages:.1f}/page)"
    )
    stored = stored_bytes(outcome.data_dir / "objects")
    total_objects = sum(n for n, _ in stored.values())
    total_bytes = sum(b for _, b in stored.values())
    print(
        f"  object store: {total_objects} objects, {total_bytes / 1e6:.1f} MB "
        f"({total_objects / pages:.1f} objects, {total_bytes / pages / 1e3:.0f} kB per page)"
    )
    for kind, (n, size) in sorted(stored.items(), key=lambda kv: -kv[1][1]):
        print(f"    {kind:<14} {n:>4} objects {size / pages / 1e3:8.1f} kB/page")
    summary = {
        "pages": pages,
        "queued_s": round(queued_s, 2),
        "run_s": round(run_s, 2),
        "pure_s": round(pure_s, 2),
        "overhead_in_run": round(in_run, 4),
        "overhead_with_queue": round(with_queue, 4),
        "api_requests_per_page": round(sum(per_run.values()) / pages, 2),
        "events_per_page": round(sum(events.values()) / pages, 2),
        "rows_written_per_page": round(rows / pages, 2),
        "stored_bytes_per_page": round(total_bytes / pages),
        "page_stage_mean_s": round(stages["page"][1] / stages["page"][0], 3),
        "page_stage_mean_pure_s": round(pure_stages["page"][1] / pure_stages["page"][0], 3),
        "cpu_deployed": {k: round(v, 1) for k, v in outcome.cpu.items()},
        "cpu_pure": {k: round(v, 1) for k, v in pure_cpu.items()},
    }
    print("  summary " + json.dumps(summary))
    return problems


if __name__ == "__main__":
    sys.exit(main())
