"""A loopback HTTP server that receives alerts as a webhook or Slack endpoint would.

It checks each POST's HMAC-SHA256 signature (when given a secret), keeps what it accepted, and
can be told to refuse (`status`) or to hang (`hang`: accept the connection, never answer).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    """One POST: its path, headers, body and whether its signature held."""

    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool | None

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Records POSTs on 127.0.0.1; `status` is the answer, `hang` makes it never answer."""

    secret: bytes | None = None
    status: int = 200
    hang: bool = False
    accepted: list[Received] = field(default_factory=list)
    attempts: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.server.receiver = self  # type: ignore[attr-defined]
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until `count` POSTs were accepted; return them."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.accepted)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = None
        if self.secret is not None:
            expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(expected, headers.get("x-logsense-signature-256", ""))
        received = Received(request.path, headers, body, signed)
        self.attempts.append(received)
        if self.hang:
            self._release.wait(60)
            return
        status = self.status if signed is not False else 401
        if status == 200:
            self.accepted.append(received)
        request.send_response(status)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # the name http.server calls
        self.server.receiver.handle(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        return
