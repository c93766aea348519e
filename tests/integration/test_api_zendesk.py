"""Zendesk's incremental ticket export read by an API source, against a local server that
answers in the documented shapes (developer.zendesk.com/api-reference/ticketing/
ticket-management/incremental_exports/: ``tickets``, sideloaded ``users`` and ``metric_sets``,
``after_cursor``, ``end_of_stream``; 10 requests a minute, ``429`` with ``Retry-After``)."""

from __future__ import annotations

import base64
import http.server
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from notifier.core.compose import TeamProfile
from notifier.core.policy import RetryPolicy
from notifier.core.render import Renderer
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.service import DeliveryLimits, Service
from notifier.sources.api.client import ApiAuth, ApiClient
from notifier.sources.api.source import ApiSource
from notifier.sources.api.zendesk import ZendeskReader
from notifier.store.sqlite.outbox import Outbox
from tests.smtp_server import SmtpServerFactory

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
USER, TOKEN = "agent@example.org/token", "zd-api-token-8f3"


def ticket(number: int, status: str, requester: int, updated: str) -> dict[str, Any]:
    return {"id": number, "url": f"https://example.zendesk.com/api/v2/tickets/{number}.json",
            "subject": f"Request {number}", "raw_subject": f"Request {number}",
            "status": status, "requester_id": requester, "submitter_id": requester,
            "group_id": 360001, "updated_at": updated, "created_at": "2026-12-01T08:00:00Z"}  # fmt: skip


USERS = [
    {"id": 11, "name": "Ann Lee", "email": "ann.lee@example.org", "locale": "en-US"},
    {"id": 12, "name": "Bo Chen", "email": "bo.chen@example.org", "locale": "de"},
]


class Zendesk:
    """The export endpoint: pages by cursor, one 429 before the third cursor's page."""

    def __init__(self) -> None:
        self.asked: list[dict[str, list[str]]] = []
        self.rate_limited = False
        pages = {
            "start": ({"tickets": [ticket(1, "open", 11, "2026-12-03T09:10:00Z"),
                                   ticket(2, "solved", 12, "2026-12-03T09:20:00Z")],
                       "users": USERS,
                       "metric_sets": [{"ticket_id": 2, "solved_at": "2026-12-03T09:19:30Z"}]},
                      "c1", False),
            "c1": ({"tickets": [ticket(3, "deleted", 11, "2026-12-03T09:30:00Z")],
                    "users": USERS, "metric_sets": []}, "c2", True),
            "c2": ({"tickets": [ticket(2, "closed", 12, "2026-12-03T09:40:00Z"),
                                ticket(1, "solved", 11, "2026-12-03T09:45:00Z")],
                    "users": USERS,
                    "metric_sets": [{"ticket_id": 2, "solved_at": "2026-12-03T09:19:30Z"},
                                    {"ticket_id": 1, "solved_at": "2026-12-03T09:44:50Z"}]},
                   "c3", True),
        }  # fmt: skip
        zendesk = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                zendesk.asked.append(query)
                expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._send(401, {"error": "Couldn't authenticate you"})
                cursor = query.get("cursor", ["start"])[0]
                if cursor == "c2" and not zendesk.rate_limited:
                    zendesk.rate_limited = True
                    return self._send(429, {"error": "APIRateLimitExceeded"}, {"Retry-After": "1"})
                body, after, end = pages[cursor]
                url = f"https://example.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor={after}"
                return self._send(200, {**body, "after_cursor": after, "after_url": url,
                                        "before_cursor": None, "before_url": None,
                                        "end_of_stream": end})  # fmt: skip

            def _send(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_the_cursor_export_tells_each_resolution_once_with_sideloaded_requesters(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    zendesk = Zendesk()
    outbox = Outbox.open(tmp_path / "state")
    sink = smtp_server()
    waits: list[float] = []
    client = ApiClient("Zendesk", zendesk.url, ApiAuth("basic", TOKEN, user=USER), timeout=5,
                       sleep=waits.append)  # fmt: skip
    source = ApiSource("zendesk", ZendeskReader(), client, outbox, overlap=timedelta(minutes=5))
    clock = [NOW]
    service = Service(
        sources=[source], outbox=outbox, renderer=Renderer.load(ROOT / "templates"), routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=SmtpSender(SmtpOptions(host=sink.host, port=sink.port, security="plain",
                                      timeout=5, from_address="it@example.org"), lambda: clock[0]),
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(), domain="example.org", clock=lambda: clock[0],
        rng=random.Random(1),
    )  # fmt: skip
    try:
        clock[0] = NOW - timedelta(hours=1)  # the first start: from now on
        assert service.run_pass().seen == 0 and zendesk.asked == []
        clock[0] = NOW
        report = service.run_pass()
        assert report.sent == 1 and [m.rcpt_tos for m in sink.messages] == [
            ("bo.chen@example.org",)
        ]
        assert zendesk.asked[0]["start_time"] == [
            str(int((NOW - timedelta(hours=1, minutes=5)).timestamp()))
        ]
        assert zendesk.asked[1]["cursor"] == ["c1"]
        assert all(q["include"] == ["users,metric_sets"] for q in zendesk.asked)
        assert outbox.checkpoint("zendesk", "cursor") == "token:c2"

        report = service.run_pass()  # from c2: rate limited once, then closed 2 and solved 1
        assert waits == [1.0]
        assert (report.sent, report.already_known) == (1, 1)
        assert [m.rcpt_tos for m in sink.messages][-1] == ("ann.lee@example.org",)
        assert outbox.checkpoint("zendesk", "cursor") == "token:c3"
    finally:
        zendesk.httpd.shutdown()
        outbox.close()
