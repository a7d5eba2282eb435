"""Prefect's environment, set before Prefect is imported.

Without a server Prefect starts a temporary local one; it must not phone home (there is
no network at the counter).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from config import Settings

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die (SIGKILL) when its parent does, however:
    ``kill -9`` of ``sohoa process`` or ``sohoa serve`` skips every ``finally`` and would
    leave Prefect's server running for ever. None where prctl does not exist (not Linux).

    The kernel sends the signal when the thread that started the child ends: the servers
    are started from the main thread, which lives as long as the process.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        # Looked up here, in the parent: the child between fork and exec must not load
        # libraries (another thread may have held the loader's lock at fork time).
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: go now
            os._exit(1)

    return preexec


def configure_prefect(settings: Settings, *, verbose: bool = False) -> None:
    # PREFECT_HOME stays Prefect's own (~/.prefect) unless set: its database must be created
    # and migrated once (~10 s), which should not happen again for every new data dir.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Our own progress and errors are what a clerk reads; Prefect's INFO lines are noise.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")


class TemporaryPrefectServer:
    """Prefect's temporary local API server, started by us *before* Prefect is imported.

    Without ``PREFECT_API_URL`` Prefect would start the very same server (uvicorn on
    ``prefect.server.api.server:create_app`` with its ephemeral settings) on the first flow
    run, and then wait ~6 s for it. Starting it first lets that start-up overlap with ours
    (imports, checks, receiving the files), and stopping it without waiting for its
    graceful shutdown saves another second: about 3 s of a 12-page batch's ~22 s.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def start(self) -> None:
        spec = importlib.util.find_spec("prefect")
        if spec is None or not spec.submodule_search_locations:
            return
        package_parent = Path(next(iter(spec.submodule_search_locations))).parent
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            command = [sys.executable, "-m", "uvicorn", "--app-dir", str(package_parent)]
            command += ["--factory", "prefect.server.api.server:create_app"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
            command += ["--lifespan", "on"]
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # dies with us, even on kill -9
            )
        self.url = f"http://127.0.0.1:{port}/api"

    def wait_ready(self, timeout_s: float) -> bool:
        if self.process is None or self.url is None:
            return False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGTERM: uvicorn finishes its shutdown (and its database writes) on its own.
            self.process.terminate()
        self.process = None


def start_temporary_server(settings: Settings) -> TemporaryPrefectServer | None:
    """Start Prefect's temporary server early, unless a server is configured."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    server = TemporaryPrefectServer(settings.data_dir / "prefect-server.log")
    server.start()
    if server.url is None:
        return None
    os.environ["PREFECT_API_URL"] = server.url
    return server


def await_temporary_server(server: TemporaryPrefectServer | None, timeout_s: float = 120) -> None:
    """Block until our temporary server answers; if it cannot, fall back to Prefect's own."""
    if server is None:
        return
    if not server.wait_ready(timeout_s):
        server.stop()
        os.environ.pop("PREFECT_API_URL", None)
