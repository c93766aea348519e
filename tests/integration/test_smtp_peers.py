"""Broken SMTP peers against real aiosmtpd servers: a server that drips its answers one byte at
a time, answers with a line no client can read, or is slow at every step while a stop arrives.

Each answer has a deadline (``smtp.timeout``) and each transaction and session opening one of
``TRANSACTION_TIMEOUTS`` times that, however the bytes trickle in; a notice the server may have
taken is retried with the same Message-ID, never made a dead letter. The bounds asserted here
are generous (deadline plus slack for a loaded machine): they prove an end, not a speed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.compose import TeamProfile
from notifier.core.model import DeliveryOutcome
from notifier.core.policy import RetryPolicy
from notifier.core.render import Renderer
from notifier.delivery.smtp import TRANSACTION_TIMEOUTS, SmtpOptions, SmtpSender
from notifier.service import DeliveryLimits, PassReport, Service
from notifier.store.sqlite.outbox import Outbox
from tests.integration.test_service import ROOT, Clock, ListSource, resolution
from tests.notices import make_notice
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, SmtpTestServer
from tests.timing import finishes_within

TIMEOUT = 1.5
SLACK = 4.0  # a loaded CI machine; the unfixed code never ends at all


def sender_for(server: SmtpTestServer, clock: Callable[..., object] | None = None) -> SmtpSender:
    options = SmtpOptions(
        host=server.host,
        port=server.port,
        security="plain",
        timeout=TIMEOUT,
        from_address="it@example.org",
    )
    return SmtpSender(options, clock or Clock())  # type: ignore[arg-type]


def make_service(
    tmp_path: Path, server: SmtpTestServer, clock: Clock, *sources: ListSource
) -> Service:
    return Service(
        sources=list(sources),
        outbox=Outbox.open(tmp_path / "state"),
        renderer=Renderer.load(ROOT / "templates"),
        routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=sender_for(server, clock),
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(),
        domain="example.org",
        clock=clock,
        rng=random.Random(3),
    )


@pytest.mark.parametrize("where", ["greeting", "mail", "end_of_data"])
def test_an_endless_dripping_answer_ends_within_the_deadline_as_transient(
    smtp_server: SmtpServerFactory, where: str
) -> None:
    """One byte every 0.2 s restarts a per-read timeout for ever; the answer's own deadline
    ends it: TRANSIENT, naming the server, after about ``smtp.timeout``."""
    server = smtp_server(behaviour=ServerBehaviour(drip=where, drip_interval=0.2))  # type: ignore[arg-type]

    def send() -> object:
        with sender_for(server).session() as session:
            return session.send(make_notice())

    result, elapsed = finishes_within(TRANSACTION_TIMEOUTS * TIMEOUT + SLACK, send)
    assert result.outcome is DeliveryOutcome.TRANSIENT  # type: ignore[attr-defined]
    assert f"no complete answer within {TIMEOUT:g} s" in result.detail  # type: ignore[attr-defined]
    assert elapsed >= TIMEOUT * 0.9  # it really waited for the server, then gave up
    assert server.handler.drips == 1


def test_a_slow_server_at_every_step_is_bounded_by_the_transaction_deadline(
    smtp_server: SmtpServerFactory,
) -> None:
    """Each answer just inside ``smtp.timeout``: the transaction as a whole still ends within
    ``TRANSACTION_TIMEOUTS`` x ``smtp.timeout`` (here 4 answers of 1.2 s against 3 s)."""
    server = smtp_server(behaviour=ServerBehaviour(reply_delay=1.2))

    def send() -> object:
        with sender_for(server).session() as session:
            return session.send(make_notice())

    result, _ = finishes_within(2 * TRANSACTION_TIMEOUTS * TIMEOUT + SLACK, send)
    assert result.outcome is DeliveryOutcome.TRANSIENT  # type: ignore[attr-defined]
    detail = result.detail  # type: ignore[attr-defined]
    assert f"took longer than {TRANSACTION_TIMEOUTS * TIMEOUT:g} s" in detail


def test_a_drip_after_data_defers_the_batch_at_once_and_the_retry_keeps_the_message_id(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """The final answer drips: the message may have been taken, so it is deferred (same
    Message-ID on retry), never failed; the rest of the batch is not tried against the stuck
    server, so the pass ends after one deadline, not one per notice; and the source was read."""
    server = smtp_server(behaviour=ServerBehaviour(drip="end_of_data", drip_interval=0.2))
    clock = Clock()
    other = ListSource([resolution(n) for n in range(4)])
    service = make_service(tmp_path, server, clock, other)
    report, _ = finishes_within(TRANSACTION_TIMEOUTS * TIMEOUT + SLACK, service.run_pass)
    assert (report.queued, report.sent, report.deferred, report.failed) == (4, 0, 4, 0)
    assert server.data_attempts == 1  # the others were not tried against the stuck server
    first = server.messages[0]
    deferred = service.outbox.audit_records(AuditQuery(outcome="deferred"))
    reasons = [record.reason for record in deferred]
    assert sum("may have accepted the message" in reason for reason in reasons) == 1
    assert sum("not tried" in reason for reason in reasons) == 3

    server.handler.behaviour = ServerBehaviour()  # the server recovers
    clock.now += timedelta(minutes=5)
    assert service.run_pass().sent == 4
    again = [m for m in server.messages[1:] if m.rcpt_tos == first.rcpt_tos]
    assert [m.message["Message-ID"] for m in again] == [first.message["Message-ID"]]


def test_a_stop_during_an_endless_drip_ends_within_one_answer_and_loses_nothing(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """SIGTERM while the server drips the answer to MAIL FROM: the pass ends within one
    answer's deadline; that notice is deferred, the others go back to the queue untried."""
    server = smtp_server(behaviour=ServerBehaviour(drip="mail", drip_interval=0.2))
    clock = Clock()
    service = make_service(tmp_path, server, clock, ListSource([resolution(n) for n in range(3)]))
    report = PassReport()
    service.poll_sources(report)
    stop = threading.Event()
    stopped_at: list[float] = []

    def stop_when_dripping() -> None:
        if server.handler.wait_for_drips(1, 30):
            stopped_at.append(time.monotonic())
            stop.set()

    threading.Thread(target=stop_when_dripping, daemon=True).start()
    finishes_within(TIMEOUT + SLACK + 5, lambda: service.deliver_due(report, stop))
    assert stopped_at and time.monotonic() - stopped_at[0] <= TIMEOUT + SLACK
    assert report.deferred == 1 and report.failed == 0
    assert service.outbox.counts_by_state() == {"deferred": 1, "queued": 2}


def test_a_stop_between_slow_answers_sends_no_further_command(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A stop while the server is slow (each answer 1 s) but within its deadlines: no new
    command goes out after the answer in flight, so the stop waits for one answer, not for the
    rest of the transaction; the notice was not sent and goes back to the queue as it was."""
    server = smtp_server(behaviour=ServerBehaviour(reply_delay=1.0))
    clock = Clock()
    service = make_service(tmp_path, server, clock, ListSource([resolution(1)]))
    report = PassReport()
    service.poll_sources(report)
    stop = threading.Event()
    threading.Timer(1.3, stop.set).start()  # during the first answers of the session
    started = time.monotonic()
    finishes_within(TIMEOUT + SLACK + 5, lambda: service.deliver_due(report, stop))
    assert time.monotonic() - started <= 1.3 + TIMEOUT + 1.0
    assert server.data_attempts == 0 and (report.sent, report.deferred) == (0, 0)
    assert service.outbox.counts_by_state() == {"queued": 1}
    (record,) = service.outbox.audit_records(AuditQuery())
    assert record.outcome == "queued"  # no attempt recorded: it was never handed over


def test_an_endless_fast_multi_line_answer_is_cut_at_the_reply_cap(
    smtp_server: SmtpServerFactory,
) -> None:
    """A server streaming ``250-`` lines as fast as it can is cut off at the reply cap long
    before the deadline: TRANSIENT, the answer could not be read."""
    server = smtp_server(behaviour=ServerBehaviour(drip="mail", drip_interval=0.0))

    def send() -> object:
        with sender_for(server).session() as session:
            return session.send(make_notice())

    result, _ = finishes_within(TRANSACTION_TIMEOUTS * TIMEOUT + SLACK, send)
    assert result.outcome is DeliveryOutcome.TRANSIENT  # type: ignore[attr-defined]
    assert "could not be read" in result.detail  # type: ignore[attr-defined]


def test_an_over_long_answer_after_data_is_retried_with_the_same_message_id(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A 200 KiB answer line after DATA is the client failing to read, not the server refusing:
    the server had the message, so the notice is deferred and sent again with the same
    Message-ID (the duplicate window), never made a dead letter."""
    server = smtp_server(behaviour=ServerBehaviour(accept_reply="250 " + "x" * 200 * 1024))
    clock = Clock()
    service = make_service(tmp_path, server, clock, ListSource([resolution(1)]))
    report = service.run_pass()
    assert (report.sent, report.deferred, report.failed) == (0, 1, 0)
    (deferred,) = service.outbox.audit_records(AuditQuery(outcome="deferred"))
    assert "could not be read" in deferred.reason and "may have accepted" in deferred.reason
    assert deferred.smtp_code is None  # no refusal code invented for the server

    server.handler.behaviour = ServerBehaviour()
    clock.now += timedelta(minutes=5)
    assert service.run_pass().sent == 1
    first, second = server.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]


def test_a_non_ascii_password_logs_in_with_utf8_and_is_never_echoed(
    smtp_server: SmtpServerFactory,
) -> None:
    """AUTH with a UTF-8 password (RFC 4616 PLAIN) delivers; a wrong one is a clear TRANSIENT
    refusal that does not show any part of the password."""
    server = smtp_server(security="starttls", auth=("robot", "pässwörd€"))
    options = dict(server.client_settings(), timeout=TIMEOUT, from_address="it@example.org")
    with SmtpSender(SmtpOptions(**options), Clock()).session() as session:  # type: ignore[arg-type]
        assert session.send(make_notice()).outcome is DeliveryOutcome.SENT
    options["password"] = "wröng€"
    with SmtpSender(SmtpOptions(**options), Clock()).session() as session:  # type: ignore[arg-type]
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.TRANSIENT and result.code == 535
    assert not any(c in result.detail for c in "öä€")
