"""Connection limits for ``sohoa serve`` when no proxy stands in front (issue 31).

Uvicorn alone closes an idle keep-alive connection, and nothing else: a socket that sends
nothing, or trickles a header or a body a byte at a time, stays open for ever, and enough of
them take every file descriptor. Then asyncio's accept loop (CPython 3.11) logs "Too many
open files" once per *backlog slot* per retry and schedules that many retries, which grew
to ~1 M log lines in 70 s. What this module adds, each from ``Settings``:

- ``header_timeout_s``: a request's headers must be complete this long after the connection
  opens or its previous response ends (a header started and not finished is answered 408);
- ``body_timeout_s`` and ``body_min_rate``: a body must arrive within ``body_timeout_s`` plus
  one second per ``body_min_rate`` bytes received, so a slow but steady upload goes on and a
  trickle is closed; time the service itself stops reading (flow control) does not count;
- ``keep_alive_s``: uvicorn's idle keep-alive timeout;
- ``max_connections``: open connections at most (clamped below the file-descriptor limit);
  a newcomer over the cap takes the place of the connection that has waited longest for a
  request, or, when every connection is busy with one, is answered 503 and closed;
- the accept loop stops at the first out-of-descriptors error of a tick, and that error is
  logged at most once a minute with a count, like every closing above.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import select
import socket
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from config import Settings

log = logging.getLogger("sohoa.serve")

# Descriptors kept for everything that is not a client connection: the database pool, object
# files, Tesseract's pipes, log files, Prefect's client.
FD_RESERVE = 128
_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class RateLimitedLog:
    """One warning per ``every`` seconds per kind, carrying how many happened meanwhile."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def warn(self, kind: str, message: str) -> None:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._last.get(kind, -self.every) >= self.every:
            log.warning("%s (%d in the last %.0f s)", message, self._counts[kind], self.every)
            self._last[kind] = now
            self._counts[kind] = 0


@dataclass(frozen=True)
class ServerLimits:
    header_timeout_s: float
    body_timeout_s: float
    body_min_rate: int  # bytes a second
    keep_alive_s: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            body_min_rate=settings.body_min_rate,
            keep_alive_s=settings.keep_alive_s,
            max_connections=settings.max_connections,
        )


def raise_fd_limit(limits: ServerLimits) -> ServerLimits:
    """Raise this process's soft descriptor limit to its hard one, and keep the connection
    cap ``FD_RESERVE`` below it, so connections can never take the last descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # not allowed here: live with the soft limit
    room = max(16, soft - FD_RESERVE)
    if limits.max_connections > room:
        log.warning(
            "SOHOA_MAX_CONNECTIONS %d lowered to %d: %d file descriptors allowed",
            limits.max_connections,
            room,
            soft,
        )
        return ServerLimits(**{**limits.__dict__, "max_connections": room})
    return limits


_WAITING, _BODY, _BUSY = "waiting", "body", "busy"


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with read deadlines and a connection cap (see the module)."""

    limits: ClassVar[ServerLimits]
    notes: ClassVar[RateLimitedLog]
    # Connections waiting for a request, longest-waiting first (dicts keep insertion order).
    waiting: ClassVar[dict[GuardedH11Protocol, None]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _BUSY
        self._deadline = 0.0
        self._received = 0  # bytes in this phase
        self._timer: asyncio.TimerHandle | None = None

    # --- the cap ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        if len(self.connections) > self.limits.max_connections:
            if self.waiting:
                oldest = next(iter(self.waiting))
                oldest._close("connection cap reached: closed the longest-waiting connection")
            else:
                self.notes.warn("cap", "connection cap reached, every connection busy: 503")
                self.transport.write(_REFUSED)
                self.transport.close()
                return
        self._enter(_WAITING)

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    # --- phases and deadlines ---

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        if self._phase == _BODY:
            self._deadline += len(data) / self.limits.body_min_rate
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.transport.is_closing():
            return
        theirs = self.conn.their_state
        if theirs is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            if self._phase != _WAITING:
                self._enter(_WAITING)
        elif theirs is h11.SEND_BODY:
            if self._phase != _BODY:
                self._enter(_BODY)
        elif self._phase != _BUSY:
            self._enter(_BUSY)

    def _enter(self, phase: str) -> None:
        self._phase = phase
        self._received = 0
        now = self.loop.time()
        self.waiting.pop(self, None)
        if phase == _WAITING:
            self.waiting[self] = None
            self._schedule(now + self.limits.header_timeout_s)
        elif phase == _BODY:
            self._schedule(now + self.limits.body_timeout_s)

    def _schedule(self, deadline: float) -> None:
        self._deadline = deadline
        if self._timer is None or self._timer.when() > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self._phase == _BUSY:
            return
        now = self.loop.time()
        if self._phase == _BODY and self.flow.read_paused:
            self._deadline = max(self._deadline, now + self.limits.body_timeout_s)
        if now < self._deadline:
            self._schedule(self._deadline)
            return
        if self._phase == _WAITING:
            if self._received:  # a header begun and not finished
                self.transport.write(_TIMED_OUT)
            self._close("request headers not complete in time: connection closed")
        else:
            self._close("request body too slow: connection closed")

    def _close(self, why: str) -> None:
        self.waiting.pop(self, None)
        self.notes.warn(why, why)
        self.transport.close()


def protocol_class(limits: ServerLimits) -> type[GuardedH11Protocol]:
    """A protocol class bound to ``limits``, with its own waiting list (one per server)."""
    return type(
        "SohoaH11Protocol",
        (GuardedH11Protocol,),
        {"limits": limits, "notes": RateLimitedLog(), "waiting": {}},
    )


class GuardedLoop(asyncio.SelectorEventLoop):
    """The selector loop, accepting one connection at a time and stopping at the first error.

    CPython 3.11's accept loop goes on after EMFILE for every remaining backlog slot (uvicorn's
    backlog is 2048), logging each and scheduling a retry for each: the log storm. Here an
    accept is tried only while the listening socket has a connection waiting, and the first
    failure ends the tick (asyncio removes the reader for a second, and one retry comes back).
    """

    _notes = RateLimitedLog()

    def _accept_connection(
        self, protocol_factory: Any, sock: socket.socket, *args: Any, **kwargs: Any
    ) -> None:
        backlog = args[2] if len(args) > 2 else kwargs.get("backlog", 100)
        rest = list(args)
        if len(rest) > 2:
            rest[2] = 1
        else:
            kwargs["backlog"] = 1
        for _ in range(backlog):
            super()._accept_connection(protocol_factory, sock, *rest, **kwargs)  # type: ignore[misc]
            if sock.fileno() not in self._selector.get_map():  # type: ignore[attr-defined]
                return  # out of descriptors: asyncio paused accepting for a second
            waiting = select.poll()
            waiting.register(sock, select.POLLIN)
            if not waiting.poll(0):
                return  # nobody else waiting to connect

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            self._notes.warn("emfile", f"accepting connections: {exc.strerror}")
            return
        super().call_exception_handler(context)


def new_loop() -> asyncio.AbstractEventLoop:
    """For ``uvicorn.Config(loop="app.serverlimits:new_loop")``: a custom loop named by
    its import path is the factory itself, called with no arguments."""
    return GuardedLoop()


def uvicorn_config(app: Any, host: str, port: int, limits: ServerLimits, **kw: Any) -> Any:
    """The uvicorn configuration ``sohoa serve`` runs with (the tests run the same)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=protocol_class(limits),
        loop="app.serverlimits:new_loop",
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        **kw,
    )


def serve(app: Any, host: str, port: int, settings: Settings) -> None:
    """Run ``app`` under uvicorn with the limits ``settings`` give, until it is stopped."""
    limits = raise_fd_limit(ServerLimits.from_settings(settings))
    uvicorn.Server(uvicorn_config(app, host, port, limits)).run()
