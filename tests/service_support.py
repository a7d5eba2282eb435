"""Helpers for service tests: a batch runner that runs the flow's steps without Prefect,
the service with one token per role (``World``), and the real app under uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config import Settings
from flows import steps
from flows.orchestrator import run_batch
from flows.runtime import metadata_store
from models import Role

AGENCY_A, AGENCY_B = "000.00.00.H49", "000.17.22.H56"
# Page sign-in and cookie-authenticated posts must come from the service's own origin.
SAME_ORIGIN = {"Origin": "http://testserver"}


def run_steps(settings: Settings, batch_id: str, sources: list[steps.SourceRef], lang: str) -> None:
    """The batch flow's own body, run in this process on the inline submitter (what a
    one-shot ``sohoa process`` does with no Prefect server): the service's runner calls it
    where ``sohoa serve`` would start a Prefect flow run."""
    run_batch(settings.model_copy(update={"orchestrator": "inline"}), batch_id, sources, lang)


# (label, role, agency, counter id): the tokens every service test holds.
TOKENS: list[tuple[str, Role, str | None, str | None]] = [
    ("counter", Role.COUNTER, None, None),
    ("counter2", Role.COUNTER, None, None),
    ("agency_a", Role.AGENCY, AGENCY_A, None),
    ("agency_b", Role.AGENCY, AGENCY_B, None),
    ("operator", Role.OPERATOR, None, None),
]


class World:
    """The service (FastAPI's TestClient) with one token per role."""

    def __init__(
        self,
        settings: Settings,
        client: Any,
        runner: Any,
        tokens: list[tuple[str, Role, str | None, str | None]] | None = None,
    ) -> None:
        self.settings, self.client, self.runner = settings, client, runner
        meta = metadata_store(settings)
        self.tokens: dict[str, str] = {}
        for label, role, agency, counter in tokens or TOKENS:
            _info, token = meta.create_token(
                name=f"{label} user", role=role, agency_code=agency, counter_id=counter
            )
            self.tokens[label] = token

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def token_id(self, who: str) -> str:
        return self.tokens[who].split("_")[1]

    def upload(self, who: str, paths: list[Path], agency: str = AGENCY_A, **form: str) -> Any:
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
        return self.client.post(
            "/api/batches", headers=self.auth(who), files=files, data={"agency": agency, **form}
        )

    def sign_in(self, who: str) -> Any:
        """Sign the test client's browser in with a page session (its cookie jar keeps it)."""
        return self.client.post(
            "/login", data={"token": self.tokens[who]}, headers=SAME_ORIGIN,
            follow_redirects=False,
        )  # fmt: skip


def run_nothing(_settings: Settings, _batch_id: str, _sources: list[Any], _lang: str) -> None:
    """A runner that processes nothing: for tests of requests and what they store."""


@contextmanager
def idle_world(data_dir: Path, database_url: str) -> Iterator[World]:
    """The service with default settings and a runner that processes nothing; a server
    fault answers 500 rather than raising in the test."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    with open_world(settings, run=run_nothing, raise_server_exceptions=False) as world:
        yield world


@contextmanager
def open_world(
    settings: Settings,
    *,
    run: Any = run_steps,
    tokens: list[tuple[str, Role, str | None, str | None]] | None = None,
    raise_server_exceptions: bool = True,
) -> Iterator[World]:
    from fastapi.testclient import TestClient

    from app.runner import BatchRunner
    from app.service import create_app
    from flows import runtime

    runtime.reset()
    runner = BatchRunner(settings, run=run)
    app = create_app(settings, runner=runner)
    try:
        with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
            yield World(settings, client, runner, tokens)
    finally:
        runner.shutdown(wait=True)
        runtime.reset()


@contextmanager
def live_server(app: Any, limits: Any = None) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 (a thread of this process); its base URL.

    With ``limits`` (an ``app.serverlimits.ServerLimits``), under the configuration
    ``sohoa serve`` runs: its protocol, its loop and those limits."""
    import httpx
    import uvicorn

    from app.serverlimits import uvicorn_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    if limits is None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    else:
        config = uvicorn_config(app, "127.0.0.1", port, limits, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
