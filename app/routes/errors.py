"""Errors answered for the whole app: people get a page in their language, API clients
their JSON, and a fault (500) only an id to quote, never its text (SQL, paths). A page
asked for without a session goes to the sign-in page and back."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import NotSignedIn, authenticate
from app.review import CorrectionRefused
from app.routes.state import HOME, service_state
from app.security import internal_error, new_error_id, security_headers
from app.uploads import UploadRefused
from models.errors import DossierNotFoundError, SohoaError

log = logging.getLogger("sohoa.service")

# Paths whose clients read JSON; everything else is a page for a person.
API_PATHS = ("/api/", "/metrics", "/openapi", "/docs", "/redoc", "/static/", "/healthz")
# Statuses with words of their own in the catalogue; any other is "http_other".
KNOWN_STATUSES = (401, 403, 404, 409, 413, 422, 500)


def error_response(
    request: Request,
    status: int,
    detail: str,
    *,
    error_id: str | None = None,
    extra: dict[str, Any] | None = None,
    shown: str | None = None,
) -> Response:
    """JSON for API clients, a page in Vietnamese for people (``shown``: a reason
    already written for them, such as why a correction is not a value of its field)."""
    if request.url.path.startswith(API_PATHS):
        body: dict[str, Any] = {"detail": detail}
        if error_id:
            body["error_id"] = error_id
        body.update(extra or {})
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    service = service_state(request)
    known = status in KNOWN_STATUSES
    message = service.messages.text(f"http_{status}" if known else "http_other")
    user = None
    if status < 500:  # a fault may be the database itself: do not ask it again
        try:
            user = authenticate(request)
        except HTTPException:  # the refused request itself (a cross-site post)
            user = None
    return service.templates.TemplateResponse(
        request,
        "error.html",
        {"user": user, "home": HOME, "message": message, "status": status,
         "error_id": error_id, "shown": shown},
        status_code=status,
    )  # fmt: skip


def server_fault(request: Request, exc: BaseException, text: str) -> Response:
    """The details (SQL, paths, stack) go to the log under an id; the client gets the id."""
    error_id = new_error_id()
    log.error(
        "error %s on %s %s: %s",
        error_id, request.method, request.url.path, " ".join(text.split()),
        exc_info=(type(exc), exc, exc.__traceback__),
    )  # fmt: skip
    return error_response(request, 500, internal_error(error_id), error_id=error_id)


async def to_login(request: Request, _exc: Exception) -> Response:
    # Back to the same page after signing in, its query included (a filtered queue).
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def http_errors(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    extra = {"files": exc.files} if isinstance(exc, UploadRefused) else None
    shown = str(exc.detail) if isinstance(exc, CorrectionRefused) else None
    return error_response(request, exc.status_code, str(exc.detail), extra=extra, shown=shown)


async def invalid_request(request: Request, exc: Exception) -> Response:
    """A plain line naming each bad parameter and its bound (never the value sent)."""
    assert isinstance(exc, RequestValidationError)
    return error_response(request, 422, plain_errors(exc))


async def sohoa_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SohoaError)
    if isinstance(exc, DossierNotFoundError):
        return error_response(request, 404, "not found")
    return server_fault(request, exc, exc.message)


async def unexpected(request: Request, exc: Exception) -> Response:
    response = server_fault(request, exc, f"{type(exc).__name__}: {exc}")
    # Answered outside the middleware (Starlette's last resort): add the headers here.
    for name, value in security_headers(request.url.path):
        response.headers[name.decode()] = value.decode()
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotSignedIn, to_login)
    app.add_exception_handler(StarletteHTTPException, http_errors)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(SohoaError, sohoa_error)
    app.add_exception_handler(Exception, unexpected)


def plain_errors(exc: RequestValidationError) -> str:
    """``offset: Input should be less than or equal to 100000`` (one line per problem)."""
    where = {"query", "body", "path", "header", "cookie", "form"}
    lines = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in where)
        lines.append(f"{location or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(lines)
