"""A small real HTTP server on loopback for the hosted products' API fixtures and token
endpoints: each test gives a function that answers one request, in the product's documented
shapes, and the server records what was asked."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Asked:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def one(self, name: str) -> str:
        """The single value of query parameter ``name`` ("" when absent)."""
        return self.query.get(name, [""])[0]

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Asked], Answer]


class ApiServer:
    """Serves ``handler`` on 127.0.0.1 until closed; ``asked`` lists every request."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.handler = handler
        self.asked: list[Asked] = []
        server = self

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                asked = Asked(
                    self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(size),
                )  # fmt: skip
                server.asked.append(asked)
                try:
                    answer = server.handler(asked)
                except Exception as exc:  # a fixture's own bug: answered, so the test says why
                    answer = Answer(500, {"fixture_error": repr(exc)})
                data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
                raw = data if isinstance(data, bytes) else data.encode()
                self.send_response(answer.status)
                for key, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class ApiServerFactory(Protocol):
    def __call__(self, handler: Handler, port: int = 0) -> ApiServer: ...


@pytest.fixture
def api_server() -> Iterator[ApiServerFactory]:
    """``api_server(handler)`` starts a server (on ``port``, to start one again where it was);
    all are closed after the test."""
    started: list[ApiServer] = []

    def start(handler: Handler, port: int = 0) -> ApiServer:
        server = ApiServer(handler, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
