"""A real HTTP server playing an institution's webhook endpoint.

It answers per `script` ("500", "hang": takes the request but answers after the sender's
timeout, "200"; then 200 for good), records every request with its signature's verdict,
and, like a well-behaved institution, accepts each idempotency key once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from amparo.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, SignatureError, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature: str  # "valid" or the SignatureError code

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str
    now: Callable[[], int] = lambda: int(time.time())  # what "now" is for the signature
    hang_seconds: float = 1.5  # how long a "hang" keeps the sender waiting
    script: list[str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, headers: dict[str, str], body: bytes) -> str:
        try:
            verify(self.secret, body, headers.get(SIGNATURE_HEADER), now=self.now())
            signature = "valid"
        except SignatureError as refused:
            signature = refused.code
        with self.lock:
            self.requests.append(Received(headers, body, signature))
            action = self.script.pop(0) if self.script else "200"
            if action != "500" and signature == "valid":
                self.accepted.setdefault(headers[IDEMPOTENCY_HEADER], body)
        return action


class _Endpoint(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        receiver = self.server.receiver
        action = receiver.receive(dict(self.headers.items()), body)
        if action == "hang":  # took it, but answers too late: the sender sees a timeout
            time.sleep(receiver.hang_seconds)
        status = 500 if action == "500" else 200
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass  # the sender gave up waiting

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@contextmanager
def serving(receiver: Receiver) -> Iterator[str]:
    """Serve `receiver` on a free local port; yields its URL."""
    server = _Server(("127.0.0.1", 0), _Endpoint)
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/referrals"
    finally:
        server.shutdown()
        server.server_close()
