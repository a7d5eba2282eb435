"""What the service does before a route runs: browser headers and the upload gate.

Both are plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``): they must see a
request before its body is read, and a refusal must stop the body from being read at all.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import HTTPException
from starlette.requests import Request

from models import Principal, Role

log = logging.getLogger("sohoa.service")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The pages load their own script and style sheet and nothing else; nothing may frame them.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc are inline scripts over a CDN: allowed there only (they show
# the schema, no data), still unframeable.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    policy = DOCS_POLICY if path.startswith(DOCS_PATHS) else PAGE_POLICY
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", policy.encode()),
        # Same-origin requests keep their Referer (a fallback for the origin check);
        # dossier ids in URLs never leave for another site.
        (b"referrer-policy", b"same-origin"),
    ]


class SecurityHeaders:
    """Every response gets the browser protections, whoever produced it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in extra if name not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(request: Request) -> bool:
    """The request comes from a page of this service: its Origin (or, failing that, its
    Referer) is this service's own scheme, host and port. Neither header: not proven."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return False
    parts = urlsplit(claimed)
    own = urlsplit(str(request.base_url))
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)


def new_error_id() -> str:
    return secrets.token_hex(6)


def internal_error(error_id: str) -> str:
    """What a client is told about a server fault: nothing of it, but the id to quote."""
    return f"internal error (id {error_id}); it has been logged"


# --- the upload gate ---------------------------------------------------------------------

# The multipart envelope around the files (boundaries, part headers, the form fields).
MULTIPART_ALLOWANCE = 1 << 20


class UploadGate:
    """``POST /api/batches``: the caller and the declared size are checked before a single
    body byte is read, and a body that grows past the limit is cut off (413) and the
    connection closed, so a refused upload never fills the temporary disk.

    ``authenticate`` is the service's own check (token or session, with the cross-site
    rule); the principal it finds is handed to the route in the scope.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: Sequence[tuple[re.Pattern[str], frozenset[Role]]],
        max_body: Callable[[], int],
        authenticate: Callable[[Request], Principal | None],
    ) -> None:
        self.app = app
        self.paths = paths  # each upload route (a whole-path pattern) and who may post to it
        self.max_body = max_body
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        roles = (
            next((who for path, who in self.paths if path.fullmatch(scope["path"])), None)
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if roles is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            # The service's check caches its answer in the scope: the route reuses it.
            principal = await to_thread.run_sync(self.authenticate, request)
        except HTTPException as exc:  # a cross-site post with a session cookie
            await _answer(send, exc.status_code, str(exc.detail))
            return
        if principal is None:
            await _answer(send, 401, "a valid token is needed", [(b"www-authenticate", b"Bearer")])
            return
        if principal.role not in roles:
            await _answer(send, 403, f"not allowed for the {principal.role} role")
            return
        await _read_at_most(self.app, scope, receive, send, self.max_body(), "upload")


# Any other request's body: a sign-in, a correction, a review form (40 fields of 4 KB).
MAX_OTHER_BODY = 1 << 20


class BodyLimit:
    """Every request but the upload: a body over ``max_body`` is refused (413) before it is
    read, or cut off as it grows. FastAPI reads a form or JSON body whole (files to disk,
    JSON into memory) before any dependency checks who is calling: without this, anyone
    could post gigabytes to ``/login`` or ``PATCH /api/...`` and be refused only after."""

    def __init__(self, app: ASGIApp, *, max_body: int, upload_paths: re.Pattern[str]) -> None:
        self.app = app
        self.max_body = max_body
        self.upload_paths = upload_paths  # the upload gate's own, larger limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await _answer(send, 422, NUL_REFUSED)
            return
        if scope["method"] == "POST" and self.upload_paths.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        await _read_at_most(
            self.app, scope, receive, send, self.max_body, "request body", nul_free=True
        )


# PostgreSQL text cannot hold U+0000: a NUL reaching a query was a 500 with the SQL and its
# parameters in the log, at will and without credentials (issue 31). No field of ours has a
# use for it, so it is refused before routing on every backend: in the path, the query
# string, and a form or JSON body (raw, percent-encoded or as a JSON escape).
NUL_REFUSED = "a parameter holds a NUL character"
_NUL_SPELLINGS = (b"\x00", b"%00", rb"\u0000")


async def _read_at_most(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    limit: int,
    what: str,
    *,
    nul_free: bool = False,
) -> None:
    """Run ``app`` on a body of at most ``limit`` bytes: a larger declared length is a 413
    at once, a body growing past it a 413 and a closed connection."""
    declared = Request(scope).headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        await _answer(send, 413, f"{what} larger than {limit} bytes")
        return
    received = 0
    answered = False
    started = False
    tail = b""  # the end of the previous chunk: a spelling of NUL may straddle two

    async def limited_receive() -> Message:
        nonlocal received, answered, tail
        if answered:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            received += len(body)
            if nul_free:
                seen, tail = tail + body, (tail + body)[-5:]
                if any(spelling in seen for spelling in _NUL_SPELLINGS):
                    answered = True
                    if not started:
                        await _answer(send, 422, NUL_REFUSED)
                    return {"type": "http.disconnect"}
            if received > limit:
                # Answer now and read no further; the route sees a client that left.
                answered = True
                if not started:
                    await _answer(send, 413, f"{what} larger than {limit} bytes")
                return {"type": "http.disconnect"}
        return message

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if answered:
            return  # the client already has its answer
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    await app(scope, limited_receive, guarded_send)


async def _answer(
    send: Send,
    status: int,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A JSON refusal, then the connection is closed: the unread body is never read."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    log.info("request refused before its body: %d %s", status, detail)
