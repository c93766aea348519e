"""``delivery.connections``: one batch sent over several SMTP sessions at once (aiosmtpd).

Each session records a result before it sends its next message, so whatever happens, every
notice ends sent once, queued again, or 'sending' (recovered and sent again with its
Message-ID): at most one message per session is in doubt after a failure.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest
import structlog

from notifier.core.audit import AuditQuery
from notifier.core.errors import StateError
from notifier.runtime import logs
from notifier.service import PassReport
from notifier.store import mirror
from notifier.store.sql.store import SqlStore
from tests.integration.test_service import (
    Clock,
    ListSource,
    _StoppingSender,
    make_service,
    resolution,
)
from tests.smtp_server import ServerBehaviour, SmtpServerFactory


def test_three_sessions_deliver_every_notice_once_and_the_chain_holds(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    # A slow end of DATA keeps each transaction open long enough to see the sessions overlap.
    server = smtp_server(behaviour=ServerBehaviour(data_delay=0.05))
    clock, source = Clock(), ListSource([resolution(n) for n in range(30)])
    service = make_service(state_store, server, clock, source, connections=3)
    report = service.run_pass()
    assert (report.queued, report.sent, report.deferred, report.failed) == (30, 30, 0, 0)
    recipients = [m.rcpt_tos[0] for m in server.messages]
    assert sorted(recipients) == sorted(f"user{n}@example.org" for n in range(30))
    assert len({m.message["Message-ID"] for m in server.messages}) == 30
    assert server.most_sessions_open >= 2 and len({m.connection for m in server.messages}) >= 2
    assert server.handler.most_in_data >= 2  # side by side, not one after the other
    assert service.outbox.counts_by_state() == {"sent": 30}
    sent = service.outbox.audit_records(AuditQuery(outcome="sent"))
    assert sorted(r.ticket_id for r in sent) == sorted(f"T-{n}" for n in range(30))
    assert all(r.words_hash for r in sent)
    verification = service.outbox.verify()
    assert verification.problems == () and verification.rows == 60


def test_notices_to_one_requester_arrive_in_the_order_they_were_queued(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Several sessions share out requesters, not messages: while the first notice to a
    requester is held up at the server, her next one does not overtake it on another session."""
    server = smtp_server(behaviour=ServerBehaviour(slow_messages={b"Request 0": 0.5}))
    same = [resolution(n, "same@example.org") for n in range(3)]
    others = [resolution(n) for n in range(3, 12)]
    clock, source = Clock(), ListSource([*same, *others])
    service = make_service(state_store, server, clock, source, connections=3)
    report = service.run_pass()
    assert (report.sent, report.postponed, report.source_errors) == (12, 0, [])
    to_her = [m.message["Subject"] for m in server.messages if m.rcpt_tos == ("same@example.org",)]
    assert len(to_her) == 3
    assert [next(n for n in range(3) if f"Request {n}" in s) for s in to_her] == [0, 1, 2]
    assert len({m.connection for m in server.messages}) >= 2  # the others used other sessions


def test_a_refusal_on_one_session_leaves_the_others_sending(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server(
        behaviour=ServerBehaviour(refuse_recipients={"user3@example.org": "550 5.1.1 No such user"})
    )
    clock, source = Clock(), ListSource([resolution(n) for n in range(12)])
    service = make_service(state_store, server, clock, source, connections=2)
    report = service.run_pass()
    assert (report.sent, report.failed) == (11, 1)
    (failed,) = service.outbox.audit_records(AuditQuery(outcome="failed"))
    assert failed.ticket_id == "T-3" and "No such user" in failed.smtp_reply
    assert len(server.messages) == 11


def test_a_failed_state_write_stops_every_session_and_strands_nothing(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """One session cannot record its result: the others finish the message they are sending,
    take no more, and everything not attempted goes back to the queue."""
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n) for n in range(20)])
    service = make_service(state_store, server, clock, source, connections=2)
    real_record = service.outbox.record_attempt
    calls = {"n": 0}
    lock = threading.Lock()

    def failing_once(*args: object, **kwargs: object) -> None:
        with lock:
            calls["n"] += 1
            fail = calls["n"] == 5
        if fail:
            raise StateError("disk I/O error (injected)")
        real_record(*args, **kwargs)  # type: ignore[arg-type]

    service.outbox.record_attempt = failing_once  # type: ignore[method-assign]
    with pytest.raises(StateError, match="injected"):
        service.run_pass()
    counts = service.outbox.counts_by_state()
    # The message whose result was lost, and the other session's if it was in the same commit.
    in_doubt = counts["sending"]
    assert 1 <= in_doubt <= 2
    assert counts["sent"] + in_doubt + counts.get("queued", 0) == 20
    assert counts["sent"] >= 3
    service.start()  # the daemon recovers 'sending' rows before its next pass
    service.run_pass()
    assert service.outbox.counts_by_state() == {"sent": 20}
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(set(ids)) == 20 and len(ids) == 20 + in_doubt  # sent again, same Message-ID


def test_stop_lets_each_session_finish_its_message_and_requeues_the_rest(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n) for n in range(20)])
    service = make_service(state_store, server, clock, source, connections=2)
    stop = threading.Event()
    service.sender = _StoppingSender(service.sender, stop)  # type: ignore[arg-type]
    report = PassReport()
    service.poll_sources(report)
    service.deliver_due(report, stop)
    # Each session had at most one message in flight when the stop came.
    assert 1 <= report.sent <= 2 and len(server.messages) == report.sent
    assert service.outbox.counts_by_state() == {"queued": 20 - report.sent, "sent": report.sent}
    claimed = service.outbox.claim_due(clock(), 20)
    assert {item.notice.attempt for item in claimed} == {1}  # the rest were never attempted


@pytest.fixture
def log_to_a_closed_pipe(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Log to a pipe; closing the read end (the fd in the list) breaks every later log line."""
    saved = structlog.get_config()
    monkeypatch.setattr(mirror, "_events_logger", None)
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w", encoding="utf-8")
    logs.configure("info", "json", stream=stream)
    try:
        yield [read_end]
    finally:
        structlog.configure(**saved)
        with contextlib.suppress(OSError):
            stream.close()  # its last flush fails: nobody reads any more
        with contextlib.suppress(OSError):
            os.close(read_end)


def test_a_log_that_cannot_be_written_does_not_record_a_sent_notice_twice(
    state_store: SqlStore,
    smtp_server: SmtpServerFactory,
    log_to_a_closed_pipe: list[int],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The log is a mirror of the audit trail: when it breaks after a commit, the results are
    still recorded once, the pass goes on, and stderr says which rows were not logged."""
    server = smtp_server(behaviour=ServerBehaviour(data_delay=0.02))
    clock, source = Clock(), ListSource([resolution(n) for n in range(12)])
    service = make_service(state_store, server, clock, source, connections=3)
    report = PassReport()
    service.poll_sources(report)
    os.close(log_to_a_closed_pipe[0])  # journald went away: every log line now fails
    service.deliver_due(report)
    assert (report.sent, report.failed) == (12, 0)
    assert len(server.messages) == 12
    assert service.outbox.counts_by_state() == {"sent": 12}
    sent = service.outbox.audit_records(AuditQuery(outcome="sent"))
    assert sorted(r.ticket_id for r in sent) == sorted(f"T-{n}" for n in range(12))
    assert service.outbox.verify().problems == ()
    unlogged = [
        line for line in capfd.readouterr().err.splitlines() if "could not be logged" in line
    ]
    assert len(unlogged) == 12 and all("BrokenPipeError" in line for line in unlogged)
