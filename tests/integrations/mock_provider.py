"""A provider's HTTP API mocked on 127.0.0.1: replies programmed by the test, and a record of every request it received."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One programmed response: its status, its body (bytes as they are, anything else as JSON) and a delay before it."""

    status: int = 200
    body: Any = b""
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """One request as the mock received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


@dataclass
class MockProvider:
    """A mock that responds to each request with the next programmed reply, repeating the last one once the others are used."""

    replies: list[Reply] = field(default_factory=lambda: [Reply(200, {})])
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the mock provider is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def program(self, *replies: Reply) -> None:
        """Replace the programmed replies and forget the requests received so far."""
        with self._lock:
            self.replies = list(replies)
            self.requests.clear()

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        # Wakes the handlers still sleeping through a delay, so the server closes at once.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _next_reply(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            if len(self.replies) > 1:
                return self.replies.pop(0)
            return self.replies[0]


def _handler_for(mock: MockProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = mock._next_reply(Received(self.command, self.path, dict(self.headers.items()), body))
            if reply.delay_seconds and mock._stopping.wait(reply.delay_seconds):
                return
            content = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)
            except OSError:
                # The client gave up waiting (a timeout test) and closed the connection.
                pass

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet; the test reads `requests` instead."""

    return Handler
