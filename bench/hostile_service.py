"""Hostile-user suite against a live ``sohoa serve`` on 127.0.0.1 (the attacks of issue 15).

Starts ``sohoa serve`` on a fresh data dir (SQLite, local objects, its own Prefect home;
two counters that each sign with their own throwaway certificate, signing required, an S3
secret key in the environment) and attacks it. Every attack is bounded in count and time:

  1  a counter names another counter (whose certificate would sign) -> 403; its own upload
     is signed with its own certificate
  2  after batches are processed, neither the S3 secret key nor a signing password is
     anywhere in the data dir or in Prefect's home (its database included)
  3  no token with 10 GB declared -> 401 before any body byte; a counter's 10 GB -> 413;
     200 MB streamed with no declared length -> cut off well before the end
  4  ten slow readers of a ~40 MB original -> the server's memory grows by a few chunks,
     not by ten originals
  5  a 500-word text query, offsets of 10^20 on three lists -> 422, no SQL in any answer
  6  the same bytes for another agency -> that agency's own dossier, no foreign id
  7  cross-origin and origin-less sign-in, a cookie post without Origin -> 403; every
     answer carries nosniff, a frame guard, a CSP and a Referrer-Policy
  10 sign-out ends the session on the server; the session id is no API token
  9  kill -9 of ``sohoa serve`` -> the Prefect server it started goes too

(8, a full disk and a crash half-way through an upload, needs the disk and the process
under control: tests/test_security.py injects those faults.)

    .venv/bin/python bench/hostile_service.py [--keep] [--timeout 900]

Issue 31's cases (a QR worst case, idle sockets, unique methods, NUL bytes, foreign vs
missing ids, the duplicate race, a spinning page step), in-process, with their figures:

    .venv/bin/python bench/hostile_service.py --issue31 [--postgres URL]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.load import (  # noqa: E402
    free_port,
    make_scan,
    service_env,
    sohoa_command,
    stop,
    wait_healthy,
)
from tests.hostile_http import NO_ANSWER, multipart_stream, post_raw  # noqa: E402
from tests.pki import make_pki  # noqa: E402

AGENCY_A, AGENCY_B = "000.00.00.H49", "000.17.22.H56"
MAX_UPLOAD = 48 << 20  # SOHOA_MAX_UPLOAD_BYTES for the run: the over-limit cases stay cheap
HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy")


@dataclass
class Suite:
    base_url: str
    tokens: dict[str, str]
    results: list[tuple[str, str, bool, str]] = field(default_factory=list)

    def check(self, point: str, attack: str, ok: bool, seen: str) -> bool:
        self.results.append((point, attack, ok, seen))
        print(f"{'PASS' if ok else 'FAIL'}  {point:>2}  {attack}: {seen}", flush=True)
        return ok

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def url(self, path: str) -> str:
        return self.base_url + path


def create_token(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*sohoa_command(), "token", "create", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise SystemExit(f"sohoa token create failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def signers_file(root: Path) -> tuple[Path, list[bytes], dict[str, str]]:
    """Two counters, each with its own certificate and password file (outside the data dir)."""
    lines, passwords, names = [], [], {}
    for counter, name in (("HL-03", "Người ký quầy ba"), ("HL-04", "Người ký quầy bốn")):
        password = b"mk-" + secrets.token_hex(8).encode()
        pki = make_pki(root / "pki", signer_common_name=name, password=password, stem=counter)
        password_file = root / "pki" / f"{counter}.password"
        password_file.write_bytes(password + b"\n")
        lines += [
            f'[counters."{counter}"]',
            f'name = "{name}"',
            f'pkcs12 = "{pki.pkcs12}"',
            f'password_file = "{password_file}"',
            "",
        ]
        passwords.append(password)
        names[counter] = name
    path = root / "pki" / "signers.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, passwords, names


def big_original(path: Path) -> Path:
    """A ~40 MB one-page TIFF (noise: incompressible), a readable scan."""
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (3600, 3800, 3), dtype=np.uint8)).save(
        path, dpi=(300, 300)
    )
    return path


def upload(suite: Suite, who: str, path: Path, agency: str, **form: str) -> httpx.Response:
    with path.open("rb") as stream:
        return httpx.post(
            suite.url("/api/batches"),
            headers=suite.auth(who),
            files=[("files", (path.name, stream, "application/octet-stream"))],
            data={"agency": agency, **form},
            timeout=300,
        )


def wait_finished(suite: Suite, batch_id: str, deadline: float) -> dict[str, Any]:
    while True:
        batch = httpx.get(
            suite.url(f"/api/batches/{batch_id}"), headers=suite.auth("operator"), timeout=30
        ).json()
        if batch["finished"] or time.monotonic() > deadline:
            return dict(batch)
        time.sleep(1)


# --- the attacks --------------------------------------------------------------------------


def attack_signer(suite: Suite, scan: Path, names: dict[str, str], deadline: float) -> str:
    forged = upload(suite, "hl03", scan, AGENCY_A, counter_id="HL-04")
    suite.check(
        "1",
        "HL-03's token with counter_id=HL-04",
        forged.status_code == 403,
        f"{forged.status_code}",
    )
    own = upload(suite, "hl03", scan, AGENCY_A)
    if not suite.check(
        "1", "HL-03 uploads as itself", own.status_code == 202, f"{own.status_code}"
    ):
        return ""
    batch = wait_finished(suite, own.json()["batch_id"], deadline)
    dossier = batch["dossiers"][0]
    detail = httpx.get(
        suite.url(f"/api/dossiers/{dossier['dossier_id']}"),
        headers=suite.auth("operator"),
        timeout=30,
    ).json()
    signature = detail.get("signature") or {}
    suite.check(
        "1",
        "the archived PDF is signed by HL-03's digitiser",
        batch["counter_id"] == "HL-03" and signature.get("signer_name") == names["HL-03"],
        f"{dossier['status']}, counter {batch['counter_id']}, "
        f"signer {signature.get('signer_name')}",
    )
    return str(dossier["dossier_id"])


def attack_upload_size(suite: Suite) -> None:
    boundary = "hostile-boundary"
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    ten_gb = {**multipart, "Content-Length": str(10 * 1024**3)}
    nobody = post_raw(suite.base_url, "/api/batches", ten_gb, iter(()), wait_first=True)
    suite.check(
        "3",
        "no token, 10 GB declared, head only",
        nobody.status == 401,
        "no answer without the body"
        if nobody.status == NO_ANSWER
        else f"{nobody.status} before any body byte",
    )
    counter = {**ten_gb, **suite.auth("hl03")}
    declared = post_raw(suite.base_url, "/api/batches", counter, iter(()), wait_first=True)
    suite.check(
        "3",
        "counter, 10 GB declared, head only",
        declared.status == 413,
        "no answer without the body"
        if declared.status == NO_ANSWER
        else f"{declared.status} before any body byte",
    )
    total = 200 << 20
    streamed = post_raw(
        suite.base_url,
        "/api/batches",
        {**multipart, **suite.auth("hl03"), "Transfer-Encoding": "chunked"},
        multipart_stream(boundary, AGENCY_A, total),
    )
    suite.check(
        "3",
        "200 MB streamed, no declared length, 48 MB limit",
        streamed.status in (413, None) and streamed.sent < total // 2,
        f"answer {streamed.status}, server took {streamed.sent >> 20} MB of {total >> 20} MB",
    )


def attack_slow_readers(suite: Suite, server_pid: int, original: Path, deadline: float) -> None:
    refused = upload(suite, "hl09", original, AGENCY_A)  # no signer: fails before any OCR
    if refused.status_code != 202:
        suite.check("4", "upload of the large original", False, f"{refused.status_code}")
        return
    dossier_id = refused.json()["dossiers"][0]["dossier_id"]
    # Its flow run ends (failed: no signer) before the readers start: memory is theirs.
    wait_finished(suite, refused.json()["batch_id"], deadline)
    process = psutil.Process(server_pid)
    before = process.memory_info().rss
    peak = before
    stop_sampling = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop_sampling.wait(0.1):
            peak = max(peak, process.memory_info().rss)

    def slow_reader() -> int:
        taken = 0
        with httpx.stream(
            "GET",
            suite.url(f"/api/dossiers/{dossier_id}/original"),
            headers=suite.auth("operator"),
            timeout=120,
        ) as response:
            for chunk in response.iter_raw(256 * 1024):
                taken += len(chunk)
                time.sleep(0.02)  # a slow line: ~12 MB/s each
                if taken >= 8 << 20:
                    break
        return taken

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        taken = list(pool.map(lambda _i: slow_reader(), range(10)))
    stop_sampling.set()
    sampler.join()
    size = original.stat().st_size
    growth = peak - before
    # Held whole, ten readers cost ten copies at least. Streamed, the growth is a few chunks
    # per reader plus what the allocator keeps for the threads: independent of the size.
    suite.check(
        "4",
        f"10 slow readers of a {size >> 20} MB original",
        all(t >= 8 << 20 for t in taken) and growth < 10 * size // 2,
        f"server memory +{growth >> 20} MB (ten whole copies: +{10 * size >> 20} MB or more)",
    )


def attack_queries(suite: Suite) -> None:
    words = " ".join(f"tu{i}" for i in range(500))
    answer = httpx.get(
        suite.url("/api/dossiers"),
        params={"text": words},
        headers=suite.auth("agency_a"),
        timeout=60,
    )
    suite.check(
        "5",
        "500-word text query",
        answer.status_code == 422 and "SELECT" not in answer.text and "SQL" not in answer.text,
        f"{answer.status_code} {answer.text[:80]}",
    )
    for path, who in (
        ("/api/dossiers", "agency_a"),
        ("/api/batches", "operator"),
        ("/api/review", "operator"),
    ):
        huge = httpx.get(
            suite.url(path),
            params={"offset": "99999999999999999999"},
            headers=suite.auth(who),
            timeout=60,
        )
        suite.check(
            "5",
            f"offset 10^20 on {path}",
            huge.status_code == 422 and "SELECT" not in huge.text,
            f"{huge.status_code} {huge.text[:80]}",
        )


def attack_duplicate(suite: Suite, scan: Path, first_id: str) -> None:
    other = upload(suite, "hl04", scan, AGENCY_B)
    body = other.json() if other.status_code == 202 else {}
    dossier = (body.get("dossiers") or [{}])[0]
    suite.check(
        "6",
        "same bytes for agency B",
        other.status_code == 202
        and dossier.get("status") != "duplicate"
        and bool(first_id)
        and first_id not in other.text,
        f"{other.status_code}, status {dossier.get('status')}, "
        f"duplicate_of {dossier.get('duplicate_of')}",
    )


def attack_cross_site(suite: Suite) -> None:
    token = {"token": suite.tokens["operator"]}
    evil = httpx.post(
        suite.url("/login"), data=token, headers={"Origin": "https://evil.example"}, timeout=30
    )
    suite.check(
        "7",
        "cross-origin POST /login",
        evil.status_code == 403 and "set-cookie" not in evil.headers,
        f"{evil.status_code}",
    )
    bare = httpx.post(suite.url("/login"), data=token, timeout=30)
    suite.check(
        "7",
        "POST /login with no Origin or Referer",
        bare.status_code == 403 and "set-cookie" not in bare.headers,
        f"{bare.status_code}",
    )
    with httpx.Client(base_url=suite.base_url, timeout=30) as browser:
        signed_in = browser.post("/login", data=token, headers={"Origin": suite.base_url})
        suite.check(
            "7", "same-origin sign-in", signed_in.status_code == 303, f"{signed_in.status_code}"
        )
        forged = browser.post("/ops/retry/whatever")
        suite.check(
            "7", "cookie POST with no Origin", forged.status_code == 403, f"{forged.status_code}"
        )
        for path in ("/login", "/ops", "/api/dossiers", "/static/sohoa.css", "/nope"):
            headers = browser.get(path).headers
            missing = [h for h in HEADERS if h not in headers]
            frame = "frame-ancestors 'none'" in headers.get("content-security-policy", "")
            suite.check(
                "7",
                f"security headers on {path}",
                not missing and frame,
                f"missing {missing}" if missing else "all present",
            )


def attack_sessions(suite: Suite) -> None:
    with httpx.Client(base_url=suite.base_url, timeout=30) as browser:
        browser.post(
            "/login", data={"token": suite.tokens["operator"]}, headers={"Origin": suite.base_url}
        )
        session = browser.cookies.get("sohoa_session") or ""
        suite.check(
            "10",
            "the cookie is a session id, not the token",
            bool(session)
            and suite.tokens["operator"] not in session
            and not session.startswith("sohoa_"),
            "session id" if session else "none",
        )
        as_token = httpx.get(
            suite.url("/api/ops/summary"),
            headers={"Authorization": f"Bearer {session}"},
            timeout=30,
        )
        suite.check(
            "10",
            "the session id as a bearer token",
            as_token.status_code == 401,
            f"{as_token.status_code}",
        )
        browser.post("/logout", headers={"Origin": suite.base_url})
    with httpx.Client(base_url=suite.base_url, timeout=30) as replay:
        replay.cookies.set("sohoa_session", session)
        after = replay.get("/ops")
        suite.check(
            "10",
            "the cookie replayed after sign-out",
            after.status_code == 303 and "/login" in after.headers.get("location", ""),
            f"{after.status_code} -> {after.headers.get('location')}",
        )


def secrets_at_rest(
    suite: Suite,
    roots: list[Path],
    found_in: Callable[[bytes], list[str]],
    secret_values: list[bytes],
) -> None:
    hits = [hit for value in secret_values for hit in found_in(value)]
    suite.check(
        "2",
        f"S3 secret key and {len(secret_values) - 1} signing passwords at rest",
        not hits,
        "; ".join(hits[:3]) or "found nowhere in " + ", ".join(str(r) for r in roots),
    )


def grep(roots: list[Path]) -> Callable[[bytes], list[str]]:
    def found_in(value: bytes) -> list[str]:
        hits = []
        for root in roots:
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink() and value in path.read_bytes():
                    hits.append(str(path))
        return hits

    return found_in


def attack_kill_9(suite: Suite, server: subprocess.Popen[bytes]) -> None:
    children = psutil.Process(server.pid).children(recursive=True)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=60)
    _gone, alive = psutil.wait_procs(children, timeout=60)
    for survivor in alive:  # started by this run: ours to stop
        survivor.kill()
    suite.check(
        "9",
        "kill -9 of sohoa serve",
        bool(children) and not alive,
        f"{len(children)} child process(es), {len(alive)} left running",
    )


# --- main ---------------------------------------------------------------------------------


def guarded(suite: Suite, point: str, attack: Callable[[], Any]) -> Any:
    """One attack; one that breaks (the server answered something unexpected) is a failed
    check, and the suite goes on to the next."""
    try:
        return attack()
    except Exception as exc:
        suite.check(point, "the attack itself", False, f"{type(exc).__name__}: {exc}"[:200])
        return None


def issue31(database_url: str | None) -> int:
    """Issue 31's cases in this process (bench/hostile31.py): each with its figure."""
    from bench.hostile31 import run

    suite = Suite("", {})
    run(suite.check, database_url)
    failed = [r for r in suite.results if not r[2]]
    print(f"\n{len(suite.results) - len(failed)}/{len(suite.results)} checks held")
    return 1 if failed or not suite.results else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the run (900)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--issue31", action="store_true", help="only issue 31's cases (bench/hostile31.py)"
    )
    parser.add_argument("--postgres", help="with --issue31: a PostgreSQL URL to run them on")
    args = parser.parse_args(argv)
    if args.issue31:
        return issue31(args.postgres)
    deadline = time.monotonic() + args.timeout
    root = Path(tempfile.mkdtemp(prefix="sohoa-hostile-"))
    env = service_env(root)
    signers, passwords, names = signers_file(root)
    s3_secret = b"s3-" + secrets.token_hex(12).encode()
    env.update(
        SOHOA_SIGNERS_FILE=str(signers),
        SOHOA_SIGNING_REQUIRED="true",
        SOHOA_MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
        # Never used (no endpoint: local objects) but part of the settings: where it goes.
        SOHOA_S3_SECRET_KEY=s3_secret.decode(),
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server: subprocess.Popen[bytes] | None = None
    suite = Suite(base_url, {})
    try:
        counter = ["--role", "counter", "--name"]
        suite.tokens = {
            "hl03": create_token(env, *counter, "Quầy 3", "--counter", "HL-03"),
            "hl04": create_token(env, *counter, "Quầy 4", "--counter", "HL-04"),
            "hl09": create_token(env, *counter, "Quầy 9", "--counter", "HL-09"),  # no signer
            "agency_a": create_token(env, "--role", "agency", "--name", "A", "--agency", AGENCY_A),
            "operator": create_token(env, "--role", "operator", "--name", "Trực ca"),
        }
        with (root / "serve.log").open("wb") as log:
            server = subprocess.Popen(
                [*sohoa_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
        (root / "scans").mkdir()
        scan = make_scan(0, 1, root / "scans", seed=int(time.time()) % 100_000).path
        original = big_original(root / "scans" / "large.tif")
        wait_healthy(base_url, server, timeout_s=300)
        print(f"sohoa serve on {base_url}; attacking\n", flush=True)

        first_id = guarded(suite, "1", lambda: attack_signer(suite, scan, names, deadline))
        guarded(suite, "3", lambda: attack_upload_size(suite))
        guarded(suite, "4", lambda: attack_slow_readers(suite, server.pid, original, deadline))
        guarded(suite, "5", lambda: attack_queries(suite))
        guarded(suite, "6", lambda: attack_duplicate(suite, scan, first_id or ""))
        guarded(suite, "7", lambda: attack_cross_site(suite))
        guarded(suite, "10", lambda: attack_sessions(suite))
        roots = [root / "data", root / "prefect"]
        guarded(
            suite, "2", lambda: secrets_at_rest(suite, roots, grep(roots), [s3_secret, *passwords])
        )
        guarded(suite, "9", lambda: attack_kill_9(suite, server))
    finally:
        if server is not None and server.poll() is None:
            stop(server)
        failed = [r for r in suite.results if not r[2]]
        print(f"\n{len(suite.results) - len(failed)}/{len(suite.results)} checks held")
        if args.keep or failed:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed or not suite.results else 0


if __name__ == "__main__":
    sys.exit(main())
