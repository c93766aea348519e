"""A token introspection endpoint (RFC 7662) on 127.0.0.1, for Dovecot's oauth2 passdb.

Dovecot, configured with ``DovecotServer(oauth2_introspection_url=...)``, POSTs
``token=<bearer token>`` here for every XOAUTH2/OAUTHBEARER login and lets the user in when the
answer says ``"active": true`` for that user. The tokens this endpoint knows are the only ones
that work; it records every token it was asked about, so a test can see that the login really
went through the OAuth check.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class IntrospectionServer:
    """``with IntrospectionServer({"token": "user"}) as server: server.url``."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = dict(tokens)  # active token -> the user it belongs to
        self.asked: list[str] = []  # every token Dovecot asked about, in order
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                token = form.get("token", [""])[0]
                body = json.dumps(owner.introspect(token)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth2-introspection", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/introspect"

    def introspect(self, token: str) -> dict[str, object]:
        with self._lock:
            self.asked.append(token)
        user = self.tokens.get(token)
        return {"active": True, "username": user} if user else {"active": False}

    def __enter__(self) -> IntrospectionServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
