"""A throwaway PostgreSQL cluster for tests and benches: initdb in a temp dir, loopback only.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin. PostgreSQL refuses
to run as root, so under root (CI containers) the cluster belongs to the ``postgres``
system user and its commands run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why."""


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise ClusterUnavailable("no initdb found (apt-get install postgresql)")
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    root: Path
    port: int
    bindir: Path
    as_user: str | None  # run server commands as this system user (when we are root)
    user: str = "sohoa"

    @classmethod
    def start(
        cls, *, tuned_for_tests: bool = True, settings: dict[str, str] | None = None
    ) -> PostgresCluster:
        bindir = _bindir()
        as_user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="sohoa-pg-"))
        if as_user:
            shutil.chown(root, user=as_user)
        cluster = cls(root=root, port=_free_port(), bindir=bindir, as_user=as_user)
        try:
            cluster._run(
                "initdb", "-D", str(cluster.data), "-U", cluster.user, "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            )  # fmt: skip
            options = [
                f"-p {cluster.port}",
                f"-k {root}",
                "-c listen_addresses=127.0.0.1",
                "-c max_connections=100",
            ]
            if tuned_for_tests:  # durability is not what these tests are about
                options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            options += [f"-c {name}={value}" for name, value in (settings or {}).items()]
            cluster._run(
                "pg_ctl", "-D", str(cluster.data), "-l", str(root / "server.log"),
                "-o", " ".join(options), "-w", "-t", "60", "start",
            )  # fmt: skip
        except (OSError, subprocess.CalledProcessError) as exc:
            log = root / "server.log"
            detail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            output = getattr(exc, "stderr", "") or ""
            raise ClusterUnavailable(f"{exc} {output} {detail}".strip()) from None
        return cluster

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str, *, template: str | None = None) -> str:
        source = f" TEMPLATE {template}" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{source}')
        return self.url(name)

    def pause(self) -> None:
        """Stop the server, keep its data: a database outage.

        A fast (clean) stop: the test clusters run with synchronous_commit=off, so an
        immediate stop would drop the last commits, which production settings never do.
        """
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        for _ in range(50):
            if not (self.data / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
