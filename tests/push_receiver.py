"""A small receiving application, as an agency would run one: a real HTTP server on
127.0.0.1 (a thread of the test) that checks each push's signature, keeps the first body
of each ``Idempotency-Key`` and answers a repeat 200 without keeping it again.

``script`` says how to answer request after request: ``ok``; ``500``; ``slow`` (keeps the
body, then answers only after ``slow_s``: the pusher times out although the agency has it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, secret: str, script: list[str] | None = None, slow_s: float = 3.0) -> None:
        self.secret = secret.encode()
        self.script = list(script or [])
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.kept: dict[str, dict[str, Any]] = {}  # idempotency key -> the first body
        self.requests: list[str] = []  # every key, as it came (repeats included)
        self.bad_signatures = 0
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sohoa-push"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Sohoa-Signature", "")
                if not hmac.compare_digest(expected, given):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self._answer(401)
                    return
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests.append(key)
                    action = receiver.script.pop(0) if receiver.script else "ok"
                    if action != "500" and key not in receiver.kept:
                        receiver.kept[key] = json.loads(body)
                if action == "500":
                    self._answer(500)
                    return
                if action == "slow":
                    time.sleep(receiver.slow_s)
                self._answer(200)

            def _answer(self, status: int) -> None:
                data = b'{"ok": true}' if status == 200 else b'{"ok": false}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the pusher gave up waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
