"""The webhook listener on real components: waitress on loopback, httpx as the sender, the
state store (SQLite and PostgreSQL, and two instances sharing one PostgreSQL), the service's
pass and aiosmtpd. Only the clock of the pass is the test's."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from notifier.core.audit import AuditQuery
from notifier.core.clock import system_clock
from notifier.core.compose import TeamProfile
from notifier.core.policy import RetryPolicy
from notifier.core.render import Renderer
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.service import DeliveryLimits, Service
from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets import generic
from notifier.sources.webhook.receiver import Endpoint, Receiver, RefusalLog
from notifier.sources.webhook.server import ListenLimits, WebhookServer
from notifier.sources.webhook.source import WebhookSource
from notifier.store.sql.store import SqlStore
from notifier.store.sqlite.outbox import Outbox
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServerFactory, SmtpTestServer
from tests.store_backends import StoreBackend, backend

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"hook-secret-42"
PATH = "/webhooks/hooks"
FIELDS = {
    "ticket_id": "ticket.id", "requester_email": "ticket.requester.email",
    "requester_name": "ticket.requester.name", "title": "ticket.title",
    "status": "ticket.status", "resolved_at": "ticket.solved_at",
    "resolution_note": "ticket.note",
}  # fmt: skip
PRESET = generic(
    Check("hmac", header="X-Signature", prefix="sha256="), FIELDS, event_id_header="X-Event-Id"
)


def event(ticket: str = "T-1", *, status: str = "solved", email: str = "ann@example.org") -> bytes:
    return json.dumps(
        {"ticket": {"id": ticket, "title": "VPN drops", "status": status,
                    "requester": {"email": email, "name": "Ann Lee"},
                    "solved_at": "2026-12-03T09:00:00Z", "note": "I renewed your access."}}
    ).encode()  # fmt: skip


def signed(body: bytes, event_id: str) -> dict[str, str]:
    digest = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return {"X-Signature": f"sha256={digest}", "X-Event-Id": event_id,
            "Content-Type": "application/json"}  # fmt: skip


@dataclass
class Listener:
    outbox: SqlStore
    server: WebhookServer
    service: Service
    sink: SmtpTestServer
    woken: threading.Event

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{PATH}"

    def post(self, body: bytes, headers: dict[str, str], **options: Any) -> httpx.Response:
        return httpx.post(self.url, content=body, headers=headers, timeout=10, **options)


def start_listener(
    outbox: SqlStore, smtp_server: SmtpServerFactory, **limits: Any
) -> Iterator[Listener]:
    """An instance: its listener and its service on ``outbox``, which it closes at the end."""
    woken = threading.Event()
    endpoint = Endpoint("hooks", PATH, PRESET, SECRET, timedelta(minutes=5), 64 * 1024)
    receiver = Receiver(
        [endpoint], outbox, clock=system_clock, wake=woken.set,
        refusals=RefusalLog(timedelta(minutes=1)),
    )  # fmt: skip
    server = WebhookServer("127.0.0.1", 0, receiver, ListenLimits(**limits)).start()
    sink = smtp_server()
    sender = SmtpSender(
        SmtpOptions(host=sink.host, port=sink.port, security="plain", timeout=5,
                    from_address="it@example.org"),
        system_clock,
    )  # fmt: skip
    service = Service(
        sources=[WebhookSource("hooks", PRESET, outbox, outbox)],
        outbox=outbox,
        renderer=Renderer.load(ROOT / "templates"),
        routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=sender,
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(),
        domain="example.org",
        clock=lambda: datetime(2026, 12, 3, 9, 5, tzinfo=UTC),
        rng=random.Random(3),
    )
    try:
        yield Listener(outbox, server, service, sink, woken)
    finally:
        server.close()
        outbox.close()


@pytest.fixture
def listener(state_store: SqlStore, smtp_server: SmtpServerFactory) -> Iterator[Listener]:
    """A listener on each backend in turn."""
    yield from start_listener(state_store, smtp_server)


def test_a_signed_resolution_reaches_the_requester_once_however_often_it_is_sent(
    listener: Listener,
) -> None:
    body = event()
    answer = listener.post(body, signed(body, "evt-1"))
    assert answer.status_code == 200
    assert answer.json() == {"status": "accepted", "event_id": "evt-1", "ticket": "resolved"}
    assert listener.woken.is_set()  # the daemon's pass runs at once, not at the next poll
    assert listener.service.run_pass().sent == 1
    (message,) = listener.sink.messages
    assert message.rcpt_tos == ("ann@example.org",)
    assert "I renewed your access." in str(message.message.get_body(("plain",)))

    again = listener.post(body, signed(body, "evt-1"))  # the sender's retry
    assert again.json() == {"status": "duplicate", "event_id": "evt-1"}
    other_id = listener.post(body, signed(body, "evt-2"))  # a second event, same resolution
    assert other_id.json()["status"] == "accepted"
    report = listener.service.run_pass()
    assert (report.sent, report.already_known) == (0, 1)
    assert len(listener.sink.messages) == 1


def test_unsigned_badly_signed_and_wrong_requests_are_refused_and_logged_once(
    listener: Listener,
) -> None:
    body = event()
    with capture_logs() as logs:
        unsigned = listener.post(body, {"X-Event-Id": "e"})
        forged = listener.post(body, {**signed(b"other body", "e"), "X-Event-Id": "e"})
        wrong_key = listener.post(
            body, {"X-Signature": "sha256=" + hmac.new(b"x", body, "sha256").hexdigest()}
        )
    assert [r.status_code for r in (unsigned, forged, wrong_key)] == [401, 401, 401]
    assert unsigned.json()["reason"] == "the X-Signature header is missing"
    assert forged.json()["reason"] == "the signature does not match"
    refused = [entry for entry in logs if entry["event"] == "webhook_refused"]
    assert len(refused) == 1, refused  # one line per interval, however many refusals
    assert refused[0]["client"] == "127.0.0.1" and "body" not in refused[0]
    assert listener.outbox.received_after("hooks", 0, 10) == []  # nothing was kept
    assert httpx.get(listener.url, timeout=5).status_code == 405
    unknown = httpx.post(listener.url + "-other", content=body, headers=signed(body, "e"))
    assert unknown.status_code == 404
    assert listener.service.run_pass().seen == 0


def test_a_signed_event_that_cannot_be_used_is_recorded_as_rejected_and_answered_200(
    listener: Listener,
) -> None:
    body = event(email="not an address")
    answer = listener.post(body, signed(body, "evt-bad"))
    assert answer.status_code == 200  # a retry would not fix it; no circuit breaker trips
    assert answer.json()["status"] == "rejected"
    assert "invalid requester email" in answer.json()["reason"]
    assert listener.service.run_pass().rejected == 1
    (row,) = listener.outbox.audit_records(AuditQuery(outcome="rejected"))
    assert row.origin == "webhook event 1 (evt-bad)" and row.ticket_id == "T-1"


def test_the_answer_waits_until_the_event_is_committed(
    listener: Listener, store_backend: StoreBackend
) -> None:
    """Another writer holds the database: the sender gets no 2xx until the event is stored."""
    blocker = store_backend.raw()
    if store_backend.name == "sqlite":
        blocker.execute("BEGIN IMMEDIATE")
    else:  # another instance appending to the chain holds its head
        blocker.execute("BEGIN")
        blocker.execute("SELECT * FROM audit_head FOR UPDATE")
    answers: list[httpx.Response] = []
    body = event()
    sending = threading.Thread(
        target=lambda: answers.append(listener.post(body, signed(body, "e")))
    )
    sending.start()
    sending.join(timeout=1.5)
    assert answers == [], "answered before the event was committed"
    blocker.execute("ROLLBACK")
    blocker.close()
    sending.join(timeout=10)
    assert answers[0].status_code == 200
    assert len(listener.outbox.received_after("hooks", 0, 10)) == 1


def test_a_body_over_the_cap_is_refused_413_before_it_is_read_whole(listener: Listener) -> None:
    huge = b'{"ticket": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    answer = listener.post(huge, signed(huge, "big"))
    assert answer.status_code == 413
    assert listener.outbox.received_after("hooks", 0, 10) == []


@pytest.fixture
def tight(tmp_path: Path, smtp_server: SmtpServerFactory) -> Iterator[Listener]:
    yield from start_listener(
        Outbox.open(tmp_path / "state"), smtp_server, max_clients=5, idle_timeout=timedelta(seconds=1),
        request_timeout=timedelta(seconds=2),
    )  # fmt: skip


def test_a_client_trickling_its_request_is_cut_off_at_the_request_deadline(tight: Listener) -> None:
    with socket.create_connection(("127.0.0.1", tight.server.port), timeout=10) as slow:
        started = time.monotonic()
        request = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Pad: {'a' * 100}\r\n".encode()
        closed = False
        for byte in request:  # one byte every 0.3 s: never idle, never done
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.3)
            if time.monotonic() - started > 8:
                break
        if not closed:
            slow.settimeout(2)
            try:
                closed = slow.recv(1024) == b""
            except OSError:
                closed = True
        assert closed, "the trickling client was not cut off"
        assert time.monotonic() - started < 6  # request_timeout 2 s, checked every second


def test_past_the_connection_limit_senders_wait_and_get_in_when_idle_ones_are_dropped(
    tight: Listener,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", tight.server.port)) for _ in range(5)]
    try:
        time.sleep(0.2)
        body = event()
        started = time.monotonic()
        answer = tight.post(body, signed(body, "after-idle"))
        assert answer.status_code == 200
        waited = time.monotonic() - started
        assert waited > 0.5, "a sixth client got in past max_clients = 5"
        assert waited < 8  # the idle ones were closed after ~1 s
    finally:
        for sock in idle:
            sock.close()


def test_closing_the_listener_ends_it_at_once_with_a_client_still_connected(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    running = start_listener(Outbox.open(tmp_path / "state"), smtp_server)
    listener = next(running)  # `running` kept: its cleanup would close the listener
    with httpx.Client(timeout=10) as client:  # a keep-alive connection left open
        body = event()
        assert client.post(listener.url, content=body, headers=signed(body, "k")).status_code == 200
        started = time.monotonic()
        listener.server.close()
        assert time.monotonic() - started < 3
        assert not listener.server._thread.is_alive()
    running.close()  # the cleanup closes it once more: harmless


def test_a_scan_of_unknown_paths_is_one_refusal_entry_not_one_per_path(listener: Listener) -> None:
    base = listener.url.rsplit("/", 2)[0]
    for n in range(50):
        assert httpx.post(f"{base}/scan/{n}", content=b"{}", timeout=5).status_code == 404
    receiver = listener.server._receiver
    assert list(receiver.refusals._paths) == ["(unknown paths)"]
    assert receiver.refusals._paths["(unknown paths)"].count == 49


def test_a_request_head_over_the_cap_is_refused_before_it_is_read(listener: Listener) -> None:
    body = event()
    huge = {**signed(body, "big-head"), "X-Padding": "a" * (32 * 1024)}
    answer = listener.post(body, huge)
    assert answer.status_code == 431
    assert listener.outbox.received_after("hooks", 0, 10) == []


def test_two_instances_on_one_database_each_event_is_kept_once_and_told_once(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """Two instances share a PostgreSQL state; senders post to either (a load balancer) and
    retry at the other. Each event is accepted by one instance only, the other answers
    "duplicate"; the instance reading the inbox (the lease holder) reads every event although
    both instances commit receipts at once, while it is reading, so each resolution is told
    once."""
    count = 120
    (found,) = backend("postgres", tmp_path, postgres_cluster)
    first, second = (start_listener(found.open(), smtp_server) for _ in range(2))
    reader, other = next(first), next(second)
    answers: dict[str, list[str]] = {}
    posting = threading.Event()

    def post(numbers: range) -> None:
        with httpx.Client(timeout=10) as client:
            for n in numbers:
                body, event_id = event(f"T-{n}", email=f"user{n}@example.org"), f"evt-{n}"
                order = (reader, other) if n % 2 else (other, reader)
                for instance in order:  # sent to one, then replayed at the other
                    answer = client.post(instance.url, content=body, headers=signed(body, event_id))
                    assert answer.status_code == 200, answer.text
                    answers.setdefault(event_id, []).append(answer.json()["status"])

    def keep_reading() -> None:
        while posting.is_set():
            reader.service.run_pass()

    try:
        posting.set()
        senders = [threading.Thread(target=post, args=(range(k, count, 4),)) for k in range(4)]
        passes = threading.Thread(target=keep_reading)
        for thread in [passes, *senders]:
            thread.start()
        for thread in senders:
            thread.join(timeout=60)
        posting.clear()
        passes.join(timeout=60)
        reader.service.run_pass()
        assert len(answers) == count
        assert all(sorted(a) == ["accepted", "duplicate"] for a in answers.values()), answers
        told = sorted(m.rcpt_tos[0] for m in reader.sink.messages)
        assert told == sorted(f"user{n}@example.org" for n in range(count))
        assert other.sink.messages == []  # the other instance received, but did not read
        assert reader.outbox.counts_by_state() == {"sent": count}
        assert reader.outbox.verify().problems == ()
    finally:
        posting.clear()
        first.close()
        second.close()
        found.close_all()
