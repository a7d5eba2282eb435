"""Raw HTTP for the hostile-user checks: requests no well-behaved client would send.

Used by tests/test_security.py and bench/hostile_service.py: an upload whose head is sent
alone (does the server answer before the body?), one that declares 10 GB, one streamed
past the limit with no declared length (does the server stop reading?).
"""

from __future__ import annotations

import re
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

NO_ANSWER = -1  # the server said nothing within the bound: it was waiting for the body


@dataclass(frozen=True)
class RawAnswer:
    status: int | None  # None: the server hung up without an answer we could read
    sent: int  # body bytes the server took before it answered or hung up


def read_status(sock: socket.socket, timeout_s: float = 60) -> int | None:
    """The status of the answer on ``sock``; None when the connection was cut instead.

    ``timeout_s`` is a bound, not a measurement: an answer that needs no body comes at once.
    """
    sock.settimeout(timeout_s)
    received = b""
    try:
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except TimeoutError:
        return NO_ANSWER
    match = re.match(rb"HTTP/1\.[01] (\d{3})", received)
    return int(match.group(1)) if match else None


def post_raw(
    base_url: str,
    path: str,
    headers: dict[str, str],
    body: Iterator[bytes],
    *,
    wait_first: bool = False,
    timeout_s: float = 60,
    method: str = "POST",
) -> RawAnswer:
    """POST by hand; stop sending as soon as the server answers or hangs up.

    ``wait_first``: send the head only and wait for the answer before any body byte.
    ``Transfer-Encoding: chunked`` in ``headers`` frames the body in chunks.
    """
    url = urlsplit(base_url)
    sock = socket.create_connection((url.hostname or "", url.port or 80), timeout=timeout_s)
    # A small send buffer: what the server did not read stays here, not in flight.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    chunked = headers.get("Transfer-Encoding") == "chunked"
    sent = 0
    try:
        if wait_first:
            return RawAnswer(read_status(sock, timeout_s), 0)
        for chunk in body:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        return RawAnswer(read_status(sock, timeout_s), sent)
    finally:
        sock.close()


def multipart_stream(
    boundary: str, agency: str, total: int, chunk: int = 64 * 1024
) -> Iterator[bytes]:
    """A multipart upload of one "PDF" of ``total`` bytes, generated as it is sent."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="agency"\r\n\r\n{agency}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    block = b"%PDF" + b"\x00" * (chunk - 4)
    for _ in range(total // chunk):
        yield block
