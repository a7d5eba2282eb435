"""Issue 31's hostile cases, measured: ``bench/hostile_service.py --issue31`` runs them.

In this process, against the real app (SQLite, and PostgreSQL when ``--postgres URL`` is
given) served by uvicorn under ``sohoa serve``'s connection limits on 127.0.0.1:

  a  the QR payload worst case (a ';'-part of 2,947 spaces): seconds to parse
  b  1,000 idle sockets held open -> /healthz latency (median of 5)
  c  300 requests with unique 1 KB methods -> growth of /metrics in bytes
  d  a NUL in a query, a form and a JSON body -> 422, never 500
  e  a foreign and a missing dossier id -> SQL statements and dossier loads for each
  f  two uploads of the same bytes to one agency, forced to race -> dossiers archived twice
  g  a page whose step spins -> seconds until it fails, and its one line
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

Report = Callable[[str, str, bool, str], bool]


def _seconds(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def qr_worst_case(report: Report) -> None:
    from pipeline.qrdata import read_qr

    payload = "x;" + " " * 2_947 + "a;y"
    took = min(_seconds(lambda: read_qr(payload)) for _ in range(3))
    report("a", "QR part of 2,947 spaces", took < 0.01, f"{took * 1000:.2f} ms")


def idle_sockets(report: Report, url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    held: list[socket.socket] = []
    try:
        for _ in range(1_000):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            held.append(sock)
        took = [_seconds(lambda: httpx.get(f"{url}/healthz", timeout=10)) for _ in range(5)]
        median = statistics.median(took)
        report("b", "/healthz with 1,000 idle sockets", median < 1.0, f"median {median:.3f} s")
    finally:
        for sock in held:
            sock.close()


def method_labels(report: Report, client: Any) -> None:
    before = len(client.get("/metrics").content)
    for n in range(300):
        client.request(f"M{n:03d}" + "X" * 1_000, "/healthz")
    grown = len(client.get("/metrics").content) - before
    report("c", "300 unique 1 KB methods", grown < 20_000, f"/metrics grew {grown} bytes")


def nul_bytes(report: Report, client: Any, auth: dict[str, str]) -> None:
    answers = [
        client.get("/api/dossiers?name=a%00b", headers=auth).status_code,
        client.post("/login", data={"token": "sohoa_\x00abc_secret"}).status_code,
        client.patch(
            "/api/dossiers/x/fields/full_name", content=b'{"value": "a\\u0000"}', headers=auth
        ).status_code,
    ]
    report("d", "NUL in query, form, JSON", set(answers) == {422}, f"answers {answers}")


def foreign_vs_missing(report: Report, settings: Any, dossier_id: str) -> None:
    from fastapi import HTTPException
    from sqlalchemy import event

    from app.auth import visible_dossier
    from flows.runtime import metadata_store
    from models import Principal, Role
    from storage import keys

    meta = metadata_store(settings)
    seen: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            seen.append(str(args[2]))

    loads: list[str] = []
    real = meta.get_dossier
    setattr(meta, "get_dossier", lambda i: loads.append(i) or real(i))  # noqa: B010
    event.listen(meta.engine, "before_cursor_execute", count)
    other = Principal(token_id="t", name="b", role=Role.AGENCY, agency_code="000.17.22.H56")
    cost = {}
    try:
        for label, some_id in (("foreign", dossier_id), ("missing", keys.dossier_id("x", 0))):
            seen.clear()
            loads.clear()
            with contextlib.suppress(HTTPException):  # 404 for both
                visible_dossier(settings, other, some_id)
            cost[label] = (len(seen), len(loads))
    finally:
        event.remove(meta.engine, "before_cursor_execute", count)
        del meta.get_dossier
    same = cost["foreign"] == cost["missing"]
    shown = ", ".join(f"{k}: {q} SELECT, {n} load" for k, (q, n) in cost.items())
    report("e", "foreign vs missing dossier id", same, shown)


def duplicate_race(report: Report, settings: Any, scan: Path) -> None:
    from flows import intake, steps
    from flows.runtime import metadata_store
    from models import BatchInfo, DossierStatus
    from storage import keys

    meta = metadata_store(settings)
    barrier = threading.Barrier(2, timeout=30)
    real = meta.find_original

    def looked(*args: Any, **kwargs: Any) -> str | None:
        found = real(*args, **kwargs)
        barrier.wait()
        return found

    setattr(meta, "find_original", looked)  # noqa: B010
    batches = [
        BatchInfo(keys.new_batch_id(), datetime.now(UTC), "vie", 1, agency_code="000.00.00.H49")
        for _ in range(2)
    ]

    def side(batch: BatchInfo) -> None:
        document, _error = steps.inspect_file(settings, scan, scan.name)
        assert document is not None
        intake.receive_upload(settings, batch, [document])

    threads = [threading.Thread(target=side, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    del meta.find_original
    statuses = [meta.get_dossier(keys.dossier_id(b.batch_id, 0)).status for b in batches]
    first = statuses.count(DossierStatus.RECEIVED)
    report("f", "same bytes raced to one agency", first == 1, f"{first} first copies: {statuses}")


def spinning_page(report: Report, scan: Path, work: Path) -> None:
    from models.errors import PageTimeoutError
    from pipeline import page as page_module
    from pipeline.context import PageContext
    from pipeline.deadline import check_deadline
    from pipeline.load import inspect_source

    class Spin:
        name = "barcodes"

        def able_to_run(self, job: Any) -> bool:
            return True

        def run(self, job: Any) -> None:
            while True:
                check_deadline("reading barcodes")

    source = inspect_source(scan, name=scan.name)
    context = PageContext(source_name=scan.name, page_index=0, ocr_timeout_s=2.0)
    start = time.perf_counter()
    try:
        page_module.process_page(source, context, work, steps=(page_module.LoadStep(), Spin()))
        line = "no failure"
    except PageTimeoutError as exc:
        line = exc.message
    took = time.perf_counter() - start
    report("g", "a page step that spins, budget 2 s", took < 3.0, f"{took:.2f} s: {line}")


def run(report: Report, database_url: str | None = None) -> None:
    import cv2
    import numpy as np

    from app.serverlimits import ServerLimits
    from config import Settings
    from flows.runtime import metadata_store
    from models import FieldInfo
    from tests.service_support import AGENCY_A, live_server, open_world, run_nothing

    with tempfile.TemporaryDirectory(prefix="sohoa-hostile31-") as folder:
        root = Path(folder)
        scan = root / "scan.png"
        image = np.full((600, 420, 3), 255, np.uint8)
        cv2.putText(image, "HO SO", (40, 300), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 3)
        cv2.imwrite(str(scan), image)
        qr_worst_case(report)
        url_db = database_url or f"sqlite:///{root / 'sohoa.db'}"
        settings = Settings(data_dir=root / "data", database_url=url_db, metrics_public=True)
        with open_world(settings, run=run_nothing, raise_server_exceptions=False) as world:
            limits = ServerLimits.from_settings(settings)
            with live_server(world.client.app, limits) as url:
                idle_sockets(report, url)
            method_labels(report, world.client)
            nul_bytes(report, world.client, world.auth("operator"))
            uploaded = world.upload("counter", [scan], agency=AGENCY_A).json()
            dossier_id = uploaded["dossiers"][0]["dossier_id"]
            metadata_store(settings).mark_archived(
                dossier_id, fields=[FieldInfo("full_name", "A", "ocr", 1.0)]
            )
            foreign_vs_missing(report, settings, dossier_id)
            other = root / "other.png"
            cv2.imwrite(str(other), cv2.flip(image, 1))
            duplicate_race(report, settings, other)
        spinning_page(report, scan, root / "work")
