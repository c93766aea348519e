"""The API sources' HTTP client against a real local server: rate limits waited out or
reported, refused credentials named without the secret, answers capped, TLS verified."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from notifier.core.errors import SourceError
from notifier.sources.api import client as api_client
from notifier.sources.api.client import ApiAuth, ApiClient

Reply = tuple[int, dict[str, str], bytes]


class Server:
    """Answers each GET with the next of ``replies``; records the headers it was sent."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.seen: list[dict[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append(dict(self.headers))
                status, headers, body = server.replies.pop(0)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[list[Reply]], Server]]:
    started: list[Server] = []

    def start(replies: list[Reply]) -> Server:
        started.append(Server(replies))
        return started[-1]

    yield start
    for server in started:
        server.close()


OK: Reply = (200, {"Content-Type": "application/json"}, json.dumps({"items": []}).encode())


def test_a_short_retry_after_is_waited_out_and_a_long_one_ends_the_poll(
    serve: Callable[[list[Reply]], Server],
) -> None:
    waits: list[float] = []
    server = serve([(429, {"Retry-After": "2"}, b""), OK])
    client = ApiClient("RT", server.url, ApiAuth("none"), timeout=5, sleep=waits.append)
    assert client.get("/x") == {"items": []}
    assert waits == [2.0]
    server = serve([(429, {"Retry-After": "120"}, b"")])
    client = ApiClient("RT", server.url, ApiAuth("none"), timeout=5, sleep=waits.append)
    with pytest.raises(SourceError, match=r"rate limited \(429\), asked to wait 120 s"):
        client.get("/x")


def test_refused_credentials_are_named_and_the_secret_is_not(
    serve: Callable[[list[Reply]], Server],
) -> None:
    server = serve([(401, {}, b"denied")])
    token = "tok-SECRET-99"
    client = ApiClient("RT", server.url, ApiAuth("header", token, header="Authorization",
                                                  scheme="token"), timeout=5)  # fmt: skip
    with pytest.raises(SourceError) as raised:
        client.get("/REST/2.0/tickets", {"query": "id > 0"})
    assert "401: the credentials were refused" in str(raised.value)
    assert token not in str(raised.value)
    assert server.seen[0]["Authorization"] == f"token {token}"


def test_an_answer_over_the_cap_and_one_that_is_not_json_are_source_errors(
    serve: Callable[[list[Reply]], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_client, "MAX_ANSWER_BYTES", 1000)
    server = serve([(200, {}, b"x" * 5000), (200, {}, b"<html>login</html>")])
    client = ApiClient("Redmine", server.url, ApiAuth("none"), timeout=5)
    with pytest.raises(SourceError, match="over 1,000 bytes"):
        client.get("/issues.json")
    with pytest.raises(SourceError, match="the answer is not JSON"):
        client.get("/issues.json")


def test_tls_is_verified_against_the_given_ca_only(tmp_path: Path, trustme_ca: trustme.CA) -> None:
    """A server whose certificate no trusted CA signed is refused; with ca_file it is read."""
    import ssl

    cert = trustme_ca.issue_cert("127.0.0.1")
    server = Server([OK, OK])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    url = server.url.replace("http://", "https://")
    try:
        with pytest.raises(SourceError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            ApiClient("RT", url, ApiAuth("none"), timeout=5).get("/x")
        ca_file = tmp_path / "ca.pem"
        trustme_ca.cert_pem.write_to_path(str(ca_file))
        assert ApiClient("RT", url, ApiAuth("none"), timeout=5, ca_file=ca_file).get("/x") == {
            "items": []
        }
    finally:
        server.close()


def test_a_429_without_retry_after_waits_for_the_products_own_reset_header(
    serve: Callable[[list[Reply]], Server],
) -> None:
    """ServiceNow's rate-limit rules send ``X-RateLimit-Reset`` as Unix time, Jira as an
    ISO-8601 minute, the IETF draft (Zendesk, Okta) ``RateLimit-Reset`` as seconds from now:
    each is waited for when no ``Retry-After`` says otherwise."""
    import time
    from datetime import UTC, datetime, timedelta

    waits: list[float] = []
    server = serve([
        (429, {"X-RateLimit-Reset": str(int(time.time()) + 4), "X-RateLimit-Rule": "r1"}, b""),
        (429, {"RateLimit-Reset": "3"}, b""),
        OK,
    ])  # fmt: skip
    client = ApiClient("ServiceNow", server.url, ApiAuth("none"), timeout=5, sleep=waits.append)
    assert client.get("/x") == {"items": []}
    assert 2.5 <= waits[0] <= 4.0 and waits[1] == 3.0, waits
    later = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%MZ")
    server = serve([(429, {"X-RateLimit-Reset": later}, b"")])
    client = ApiClient("Jira", server.url, ApiAuth("none"), timeout=5, sleep=waits.append)
    with pytest.raises(SourceError, match=r"rate limited \(429\), asked to wait 1\d\d s"):
        client.get("/x")
