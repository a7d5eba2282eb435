"""Load run against the real service: many counters upload at once, nothing may be lost.

Starts ``sohoa serve`` as a subprocess on a fresh data dir (SQLite and local objects in a
temporary directory; it starts Prefect's temporary server itself, with PREFECT_HOME there
too), creates counter and operator tokens with the CLI, generates unique scans
(``tests/synth.py`` pages at 200 dpi: JPEG for one page, image-only PDF for more), fires all
uploads at once (httpx.AsyncClient) and polls every batch until it is finished. Then checks:

* every upload was answered 202 and no request failed;
* every dossier ended ``archived`` (none failed, none a duplicate);
* the service holds exactly one dossier per file sent (no file lost, none doubled);
* every original in the object store (``<data dir>/objects/``) is byte-identical (SHA-256)
  to the file sent, and there is no other original there.

Prints upload latency (p50/p95/max), the time until everything was archived, pages/minute,
errors and lost files; exits 1 when a check fails.

    .venv/bin/python bench/load.py [--uploads 50] [--files-per-upload 1] [--pages-per-file 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from storage import keys  # noqa: E402
from tests import synth  # noqa: E402

AGENCY = "000.00.00.H49"
FINISHED = {"archived", "failed", "duplicate"}


@dataclass
class Scan:
    name: str
    path: Path
    pages: int
    sha256: str
    media_type: str


@dataclass
class Upload:
    files: list[Scan]
    status: int | None = None
    latency_s: float = 0.0
    error: str | None = None
    batch_id: str | None = None
    batch: dict[str, Any] = field(default_factory=dict)


# --- the scans ----------------------------------------------------------------------------


def make_scan(index: int, pages_per_file: int, folder: Path, seed: int) -> Scan:
    """One file of `pages_per_file` degraded pages; its bytes are unique (own text, own
    noise, and a line naming the file), so no duplicate detection applies."""
    fonts = synth.available_fonts()
    pages = []
    for number in range(pages_per_file):
        page_seed = seed + index * 100 + number
        rng = random.Random(page_seed)
        lines = [
            f"Biên nhận thử tải số {seed}-{index + 1:04d}, trang {number + 1}",
            *synth.corpus_lines(rng.randint(6, 12), page_seed),
        ]
        base = synth.render_page(
            lines, dpi=200, font_path=fonts[index % len(fonts)], font_pt=rng.choice((10, 11))
        )
        spec = synth.Degradation(
            skew_deg=round(rng.uniform(-1.5, 1.5), 2),
            noise_sigma=round(rng.uniform(3, 6), 1),
            background=rng.randint(235, 255),
        )
        pages.append(synth.degrade(base, spec, seed=page_seed))
    if pages_per_file == 1:
        path = folder / f"scan-{index + 1:04d}.jpg"
        pages[0].image.save(path, "JPEG", quality=80, dpi=(200, 200))
        media_type = "image/jpeg"
    else:
        path = folder / f"scan-{index + 1:04d}.pdf"
        synth.save_pdf(pages, path, jpeg_quality=80)
        media_type = "application/pdf"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Scan(path.name, path, pages_per_file, digest, media_type)


def make_scans(count: int, pages_per_file: int, folder: Path, seed: int) -> list[Scan]:
    """`count` distinct files, generated in parallel (while the service starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [pool.submit(make_scan, i, pages_per_file, folder, seed) for i in range(count)]
        scans = [future.result() for future in futures]
    digests = [s.sha256 for s in scans]
    if len(set(digests)) != len(digests):
        raise SystemExit("generated scans are not all distinct: fix the generator")
    return scans


# --- the service --------------------------------------------------------------------------


def sohoa_command() -> list[str]:
    script = REPO / ".venv" / "bin" / "sohoa"
    if script.exists():
        return [str(script)]
    found = shutil.which("sohoa")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def service_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # A fresh embedded service: its own SQLite and local objects, its own Prefect server.
    for name in ("PREFECT_API_URL", "SOHOA_DATABASE_URL", "SOHOA_S3_ENDPOINT"):
        env.pop(name, None)
    env.update(
        SOHOA_DATA_DIR=str(root / "data"),
        PREFECT_HOME=str(root / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        OMP_THREAD_LIMIT=env.get("OMP_THREAD_LIMIT", "1"),
    )
    return env


def create_token(env: dict[str, str], role: str, name: str) -> str:
    done = subprocess.run(
        [*sohoa_command(), "token", "create", "--role", role, "--name", name],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise SystemExit(f"sohoa token create failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], timeout_s: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if server.poll() is not None:
            raise SystemExit(f"sohoa serve exited with {server.returncode} before answering")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return time.monotonic() - began
        time.sleep(0.2)
    raise SystemExit(f"sohoa serve did not answer /healthz within {timeout_s:.0f} s")


def stop(server: subprocess.Popen[bytes]) -> list[int]:
    """SIGTERM, as systemd or `docker stop` sends it: uvicorn shuts down and `sohoa serve`
    should stop the Prefect server it started. Any process it started and left running is
    stopped here; their pids are returned (empty when `sohoa serve` cleaned up after itself).
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        psutil = None
    children = []
    if psutil is not None and server.poll() is None:
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(server.pid).children(recursive=True)
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if psutil is None:
        return []
    time.sleep(1.0)  # a child that is shutting down on its own gets a moment
    leaked = [child for child in children if child.is_running()]
    for child in leaked:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _gone, alive = psutil.wait_procs(leaked, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return [child.pid for child in leaked]


# --- the load -----------------------------------------------------------------------------


async def upload_one(client: httpx.AsyncClient, token: str, upload: Upload) -> None:
    files = [("files", (s.name, s.path.read_bytes(), s.media_type)) for s in upload.files]
    began = time.perf_counter()
    try:
        response = await client.post(
            "/api/batches",
            headers={"Authorization": f"Bearer {token}"},
            files=files,
            data={"agency": AGENCY, "post_office_id": "LOAD-01"},
        )
    except httpx.HTTPError as exc:
        upload.error = f"{type(exc).__name__}: {exc}"
        return
    finally:
        upload.latency_s = time.perf_counter() - began
    upload.status = response.status_code
    if response.status_code == 202:
        upload.batch = response.json()
        upload.batch_id = upload.batch["batch_id"]
    else:
        upload.error = f"HTTP {response.status_code}: {response.text[:300]}"


async def poll_batches(
    client: httpx.AsyncClient, token: str, uploads: list[Upload], timeout_s: float, began: float
) -> float | None:
    """Poll every accepted batch until all are finished; the time (since `began`) when the
    last one was seen finished, or None on timeout."""
    pending = [u for u in uploads if u.batch_id]
    gate = asyncio.Semaphore(8)
    last_report = 0.0
    deadline = time.perf_counter() + timeout_s

    async def refresh(upload: Upload) -> None:
        async with gate:
            try:
                response = await client.get(
                    f"/api/batches/{upload.batch_id}",
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                upload.error = f"polling: {type(exc).__name__}: {exc}"
                return
        if response.status_code == 200:
            upload.batch = response.json()
        else:
            upload.error = f"polling: HTTP {response.status_code}"

    while pending:
        await asyncio.gather(*(refresh(u) for u in pending))
        pending = [u for u in pending if not u.batch.get("finished")]
        now = time.perf_counter()
        if not pending:
            return now - began
        if now > deadline:
            return None
        if now - last_report > 15:
            done = sum(u.batch["progress"]["pages_done"] for u in uploads if u.batch)
            total = sum(u.batch["progress"]["pages_total"] for u in uploads if u.batch)
            print(
                f"  {now - began:6.0f} s: {len(pending)} batch(es) unfinished, "
                f"{done}/{total} pages done",
                flush=True,
            )
            last_report = now
        await asyncio.sleep(1.0)
    return time.perf_counter() - began


async def all_dossiers(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """Every dossier the service knows of, as an operator lists them."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = await client.get(
            "/api/dossiers",
            params={"limit": 200, "offset": offset},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        page = response.json()
        found.extend(page["dossiers"])
        if not page["has_more"]:
            return found
        offset += len(page["dossiers"])


async def run_load(
    base_url: str,
    counter: str,
    operator: str,
    uploads: list[Upload],
    timeout_s: float,
) -> tuple[float, float | None, list[dict[str, Any]]]:
    limits = httpx.Limits(max_connections=len(uploads) + 10, max_keepalive_connections=20)
    timeout = httpx.Timeout(600.0, connect=30.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        began = time.perf_counter()
        await asyncio.gather(*(upload_one(client, counter, u) for u in uploads))
        uploaded_s = time.perf_counter() - began
        print(f"  all {len(uploads)} uploads answered after {uploaded_s:.1f} s", flush=True)
        finished_s = await poll_batches(client, counter, uploads, timeout_s, began)
        dossiers = await all_dossiers(client, operator)
    return uploaded_s, finished_s, dossiers


# --- the checks ---------------------------------------------------------------------------


def check(
    uploads: list[Upload], dossiers: list[dict[str, Any]], objects_dir: Path
) -> tuple[list[str], int, int]:
    """Problems found, the count of request errors and the count of files lost."""
    problems: list[str] = []
    errors = 0
    for upload in uploads:
        if upload.status != 202 or upload.error:
            errors += 1
            names = ", ".join(s.name for s in upload.files)
            problems.append(f"upload of {names}: {upload.error or upload.status}")
    sent = {scan.name: scan for upload in uploads for scan in upload.files}

    # What the service holds: one archived dossier per file sent.
    per_source = Counter(d["source"] for d in dossiers)
    lost = [name for name in sent if per_source[name] == 0]
    doubled = [name for name, n in per_source.items() if n > 1]
    unknown = [name for name in per_source if name not in sent]
    problems += [f"{name}: no dossier (lost)" for name in lost]
    problems += [f"{name}: {per_source[name]} dossiers (duplicated)" for name in doubled]
    problems += [f"{name}: a dossier for a file never sent" for name in unknown]
    if len(dossiers) != len(sent):
        problems.append(f"{len(dossiers)} dossiers for {len(sent)} files")
    for d in dossiers:
        if d["status"] != "archived":
            problems.append(f"{d['dossier_id']} ({d['source']}): {d['status']} {d['error'] or ''}")

    # The stored originals, read from disk: each the very bytes sent, and no others.
    for d in dossiers:
        scan = sent.get(d["source"])
        if scan is None:
            continue
        folder = objects_dir / keys.dossier_prefix(d["dossier_id"])
        stored = sorted(folder.glob("original.*"))
        if len(stored) != 1:
            problems.append(f"{d['dossier_id']}: {len(stored)} stored originals")
            continue
        digest = hashlib.sha256(stored[0].read_bytes()).hexdigest()
        if digest != scan.sha256:
            problems.append(f"{d['dossier_id']}: stored original differs from {scan.name}")
    stored_all = Counter(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in objects_dir.rglob("original.*")
    )
    if stored_all != Counter(scan.sha256 for scan in sent.values()):
        problems.append(
            f"object store holds {sum(stored_all.values())} originals, "
            f"not exactly the {len(sent)} files sent"
        )
    return problems, errors, len(lost)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uploads", type=int, default=50, help="concurrent uploads (50)")
    parser.add_argument("--files-per-upload", type=int, default=1, help="files per batch (1)")
    parser.add_argument("--pages-per-file", type=int, default=1, help="pages per scan (1)")
    parser.add_argument("--port", type=int, default=0, help="port to serve on (default: free)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait (3600)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if min(args.uploads, args.files_per_upload, args.pages_per_file) < 1:
        parser.error("--uploads, --files-per-upload and --pages-per-file must be at least 1")

    root = Path(tempfile.mkdtemp(prefix="sohoa-load-"))
    env = service_env(root)
    port = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = root / "serve.log"
    server: subprocess.Popen[bytes] | None = None
    code = 1
    try:
        counter = create_token(env, "counter", "load counter")
        operator = create_token(env, "operator", "load operator")
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [*sohoa_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
        began = time.perf_counter()
        n_files = args.uploads * args.files_per_upload
        scans = make_scans(n_files, args.pages_per_file, root / "scans", args.seed)
        print(
            f"generated {n_files} scan(s) of {args.pages_per_file} page(s) "
            f"in {time.perf_counter() - began:.1f} s (seed {args.seed})",
            flush=True,
        )
        ready_s = wait_healthy(base_url, server, timeout_s=300)
        print(f"sohoa serve answering on {base_url} ({ready_s:.1f} s after the scans)")

        per = args.files_per_upload
        uploads = [Upload(scans[i * per : (i + 1) * per]) for i in range(args.uploads)]
        print(f"firing {len(uploads)} concurrent uploads of {per} file(s) each", flush=True)
        uploaded_s, finished_s, dossiers = asyncio.run(
            run_load(base_url, counter, operator, uploads, args.timeout)
        )
        problems, errors, lost = check(uploads, dossiers, root / "data" / "objects")
        if finished_s is None:
            problems.append(f"not every batch finished within {args.timeout:.0f} s")

        latencies = [u.latency_s for u in uploads if u.status is not None]
        pages = sum(scan.pages for scan in scans)
        print()
        print(f"uploads:            {len(uploads)} x {per} file(s), {pages} page(s) in all")
        print(
            "upload latency:     "
            f"p50 {percentile(latencies, 0.5):.2f} s  p95 {percentile(latencies, 0.95):.2f} s  "
            f"max {max(latencies, default=float('nan')):.2f} s  "
            f"(mean {statistics.fmean(latencies) if latencies else float('nan'):.2f} s)"
        )
        print(f"all answered after: {uploaded_s:.1f} s")
        if finished_s is not None:
            print(f"all archived after: {finished_s:.1f} s (from the first upload)")
            print(f"throughput:         {pages / finished_s * 60:.1f} pages/min")
        print(f"dossiers:           {len(dossiers)} for {n_files} file(s)")
        print(f"errors:             {errors}")
        print(f"lost:               {lost}")
        for problem in problems[:30]:
            print(f"  PROBLEM: {problem}")
        if len(problems) > 30:
            print(f"  ... and {len(problems) - 30} more")
        print("RESULT:             " + ("OK" if not problems else f"{len(problems)} problem(s)"))
        code = 0 if not problems else 1
    finally:
        if server is not None:
            leaked = stop(server)
            if leaked:
                pids = ", ".join(map(str, leaked))
                print(
                    f"WARNING: after SIGTERM `sohoa serve` left {len(leaked)} process(es) "
                    f"running (pids {pids}; stopped now): its Prefect server was not stopped"
                )
        if code != 0 and log_path.exists():
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            if tail:
                print("--- last lines of serve.log ---\n" + "\n".join(tail))
        if args.keep or code != 0:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
