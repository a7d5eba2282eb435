"""The HTTP service: counters upload, agencies retrieve, operators monitor.

One FastAPI app serves the JSON API (``/api/...``, schema at ``/openapi.json``), the web
pages (server-rendered, in ``app/templates``) and Prometheus metrics. Its routes live in
``app/routes``, one router per user, each carrying the check of who may call it; this
module only assembles them with what they share (``app.routes.state.ServiceState``), the
middleware and the error handlers.

Against a hostile caller: an upload's token and declared size are checked before its body
is read (``app.security.UploadGate``); every other body is bounded before it is read; a page
session is its own short-lived id, and a state-changing request made with it must come from
the service's own pages (``app.auth``).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles

from app.auth import authenticate
from app.i18n import load_messages
from app.metrics import UNMATCHED, Metrics
from app.routes import (
    agency_api,
    agency_pages,
    counter_api,
    counter_pages,
    dossier_pages,
    machine,
    operator_api,
    operator_pages,
    review_desk,
    sign_in,
)
from app.routes.errors import install_error_handlers
from app.routes.state import ServiceState, page_templates
from app.runner import BatchRunner
from app.security import MAX_OTHER_BODY, MULTIPART_ALLOWANCE, BodyLimit, SecurityHeaders, UploadGate
from config import Settings
from models import Role

HERE = Path(__file__).resolve().parent

# Every route of the app, by who calls it; each route is in exactly one (tests/test_routers.py).
ROUTERS: dict[str, APIRouter] = {
    "counter_api": counter_api.router,
    "agency_api": agency_api.router,
    "operator_api": operator_api.router,
    "machine": machine.router,
    "sign_in": sign_in.router,
    "counter_pages": counter_pages.router,
    "dossier_pages": dossier_pages.router,
    "agency_pages": agency_pages.router,
    "operator_pages": operator_pages.router,
    "review_desk": review_desk.router,
}


def create_app(settings: Settings, *, runner: BatchRunner | None = None) -> FastAPI:
    app = FastAPI(
        title="sohoa",
        version="0.1.0",
        description="Digitised dossiers: counters upload, agencies retrieve, operators monitor.",
    )
    messages = load_messages(settings.locale, settings.catalogue_path)
    app.state.service = ServiceState(
        settings=settings,
        runner=runner or BatchRunner(settings),
        metrics=Metrics(settings),
        templates=page_templates(messages),
        messages=messages,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for router in ROUTERS.values():
        app.include_router(router)
    add_middleware(app, app.state.service)
    install_error_handlers(app)
    return app


def add_middleware(app: FastAPI, service: ServiceState) -> None:
    """Innermost first: the gate sees an upload before its body is read, the metrics see
    every answer (the gate's refusals too), the headers go on everything."""
    settings = service.settings
    app.add_middleware(
        UploadGate,
        paths=[
            (counter_api.UPLOAD_PATH, frozenset({Role.COUNTER})),
            (counter_api.RESCAN_PATH, frozenset({Role.COUNTER, Role.OPERATOR})),
        ],
        max_body=lambda: settings.max_upload_bytes + MULTIPART_ALLOWANCE,
        authenticate=authenticate,
    )
    # Every other body (forms, JSON) is small: bounded before FastAPI reads it whole.
    upload_paths = f"{counter_api.UPLOAD_PATH.pattern}|{counter_api.RESCAN_PATH.pattern}"
    app.add_middleware(BodyLimit, max_body=MAX_OTHER_BODY, upload_paths=re.compile(upload_paths))

    @functools.cache
    def known_routes() -> frozenset[str]:  # every route is added before the first request
        # An included router stands in app.routes as one entry (FastAPI 0.150): its
        # routes are walked into.
        return frozenset(str(context.path or "") for context in iter_route_contexts(app.routes))

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        began = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        service.metrics.observe_request(
            request.method,
            getattr(route, "path", UNMATCHED),
            response.status_code,
            time.perf_counter() - began,
            routes=known_routes(),
        )
        return response

    app.add_middleware(SecurityHeaders)
