"""One pass of the service on real components: the state store (SQLite and PostgreSQL, the
``state_store`` fixture), aiosmtpd, compiled templates.

Only the source is a fake (the project's own small ``Source`` port), so each test controls
exactly which resolutions arrive, and a settable clock stands in for time.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.compose import TeamProfile
from notifier.core.errors import SourceError
from notifier.core.model import DeliveryResult, InputProblem, Notice, Resolution, SourceEvent, State
from notifier.core.policy import RetryPolicy
from notifier.core.render import Renderer
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.service import DeliveryLimits, PassReport, Service
from notifier.store.sql.store import SqlStore
from notifier.store.sqlite.outbox import Outbox
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, SmtpTestServer

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ListSource:
    """A fake of the Source port: yields what the test put in, once."""

    events: list[SourceEvent] = field(default_factory=list)
    name: str = "fake"

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        events, self.events = self.events, []
        yield from events

    def committed(self) -> None:
        """Nothing to acknowledge: what was yielded is gone already."""


def resolution(n: int, email: str | None = None) -> Resolution:
    return Resolution(
        source="fake",
        ticket_id=f"T-{n}",
        requester_email=email or f"user{n}@example.org",
        title=f"Request {n}",
        resolved_at=START,
        origin=f"fake:{n}",
    )


def make_service(
    state: Path | SqlStore, server: SmtpTestServer, clock: Clock, source: ListSource, **limits: int
) -> Service:
    """A service on ``state``: a store opened already (``state_store``, each backend in turn),
    or a directory for a SQLite state of its own."""
    outbox = state if isinstance(state, SqlStore) else Outbox.open(state / "state")
    sender = SmtpSender(
        SmtpOptions(
            host=server.host,
            port=server.port,
            security="plain",
            timeout=5,
            from_address="it@example.org",
        ),
        clock,
    )
    return Service(
        sources=[source],
        outbox=outbox,
        renderer=Renderer.load(ROOT / "templates"),
        routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=sender,
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(**limits),
        domain="example.org",
        clock=clock,
        rng=random.Random(3),
    )


def test_rate_limit_spreads_sends_over_minutes(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """With 5 per minute, 12 notices go out as 5, 5 and 2 in successive minutes."""
    server, clock, source = smtp_server(), Clock(), ListSource()
    service = make_service(state_store, server, clock, source, rate_limit_per_minute=5)
    source.events = [resolution(n) for n in range(12)]
    sent = []
    for _ in range(3):
        sent.append(service.run_pass().sent)
        if len(server.messages) < 12:  # rate-limited: sleep until the window has room again
            assert service.next_wake(timedelta(seconds=30)) == timedelta(minutes=1)
        clock.now += timedelta(seconds=61)
    assert sent == [5, 5, 2]
    assert len(server.messages) == 12


def test_552_defers_and_the_give_up_age_makes_a_dead_letter(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """A 552 is retried with backoff; once older than give_up_after it becomes a dead letter."""
    server = smtp_server(behaviour=ServerBehaviour(data_reply="552 5.2.2 Mailbox full"))
    clock, source = Clock(), ListSource([resolution(1)])
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert (report.sent, report.deferred, report.failed) == (0, 1, 0)
    assert service.run_pass().deferred == 0  # not due again yet: backoff respected
    clock.now += timedelta(hours=3)
    assert service.run_pass().failed == 1
    history = service.outbox.audit_records(AuditQuery(ticket="T-1"))
    assert [r.outcome for r in history] == ["queued", "deferred", "failed"]
    assert "gave up after 2 attempts" in history[-1].reason
    assert history[-1].smtp_code == 552 and "Mailbox full" in history[-1].smtp_reply


def test_permanent_refusal_is_a_dead_letter_with_the_servers_words(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """A refused recipient fails that notice only; the other one in the batch is delivered."""
    server = smtp_server(
        behaviour=ServerBehaviour(refuse_recipients={"gone@example.org": "550 5.1.1 No such user"})
    )
    clock, source = Clock(), ListSource([resolution(1, "gone@example.org"), resolution(2)])
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert (report.sent, report.failed) == (1, 1)
    (failed,) = service.outbox.audit_records(AuditQuery(outcome="failed"))
    assert failed.ticket_id == "T-1" and failed.smtp_code == 550
    assert "No such user" in failed.smtp_reply
    assert [m.rcpt_tos[0] for m in server.messages] == ["user2@example.org"]


def test_input_problems_are_audited_and_do_not_stop_the_pass(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """A rejected row is recorded with its origin; the resolutions around it are delivered."""
    server, clock = smtp_server(), Clock()
    source = ListSource(
        [resolution(1), InputProblem("fake", "x.csv:3", "requester_email: missing"), resolution(2)]
    )
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert (report.sent, report.rejected) == (2, 1)
    (rejected,) = service.outbox.audit_records(AuditQuery(outcome="rejected"))
    assert (rejected.origin, rejected.reason) == ("x.csv:3", "requester_email: missing")


class _StoppingSender:
    """Wraps the real sender: asks the service to stop after the first message is sent."""

    def __init__(self, inner: SmtpSender, stop: threading.Event) -> None:
        self.inner, self.stop = inner, stop

    def session(self, stop: threading.Event | None = None) -> _StoppingSession:
        return _StoppingSession(self.inner.session(stop), self.stop)


class _StoppingSession:
    def __init__(self, inner: object, stop: threading.Event) -> None:
        self.inner, self.stop = inner, stop

    def __enter__(self) -> _StoppingSession:
        self.inner.__enter__()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)  # type: ignore[attr-defined]

    def send(self, notice: Notice) -> DeliveryResult:
        result: DeliveryResult = self.inner.send(notice)  # type: ignore[attr-defined]
        self.stop.set()  # SIGTERM arrives while this transaction was in flight
        return result


def test_stop_finishes_the_message_in_flight_and_requeues_the_rest(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """A stop request mid-batch: the current send is recorded, the rest go back to the queue."""
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n) for n in range(5)])
    service = make_service(state_store, server, clock, source)
    stop = threading.Event()
    service.sender = _StoppingSender(service.sender, stop)  # type: ignore[arg-type]
    report = PassReport()
    service.poll_sources(report)
    service.deliver_due(report, stop)
    assert report.sent == 1 and len(server.messages) == 1
    assert service.outbox.counts_by_state() == {"queued": 4, "sent": 1}
    (claimed, *_) = service.outbox.claim_due(clock(), 10)
    assert claimed.notice.attempt == 1  # the released notices were never attempted


@pytest.mark.parametrize(
    "bad_team_template",
    ["{{ ticket.nope }}", "{% if %}", "{{ ''.__class__.__mro__[1].__subclasses__() }}"],
)
def test_template_error_holds_with_reason_and_others_go_on(
    tmp_path: Path, state_store: SqlStore, smtp_server: SmtpServerFactory, bad_team_template: str
) -> None:
    """A broken team template holds that team's notice (reason recorded); default still sends."""
    import shutil

    from notifier.core.rules import TeamRoute

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "ops").mkdir()
    (templates / "ops" / "resolved.txt.j2").write_text(bad_team_template)
    server, clock = smtp_server(), Clock()
    ops_ticket = Resolution(
        source="fake", ticket_id="T-ops", requester_email="ops@example.org", team_hint="Ops"
    )
    source = ListSource([ops_ticket, resolution(2)])
    service = make_service(state_store, server, clock, source)
    service.renderer = Renderer.load(templates)
    service.routes = [TeamRoute("ops", {"team": ("ops",)})]
    report = service.run_pass()
    assert (report.held, report.sent) == (1, 1)
    (held,) = service.outbox.audit_records(AuditQuery(outcome="held"))
    assert held.ticket_id == "T-ops" and "ops/resolved.txt.j2:1" in held.reason


def compose_failing(
    monkeypatch: pytest.MonkeyPatch, when: Callable[[Resolution], bool], error: Exception
) -> None:
    """Composing fails with ``error`` for the resolutions ``when`` picks: a fault in notifier."""
    import notifier.service as service_module

    real = service_module.compose

    def compose(resolution: Resolution, *args: Any, **kwargs: Any) -> Any:
        if when(resolution):
            raise error
        return real(resolution, *args, **kwargs)

    monkeypatch.setattr(service_module, "compose", compose)


def test_a_fault_while_composing_one_notice_holds_it_and_the_pass_goes_on(
    state_store: SqlStore, smtp_server: SmtpServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a template error but a fault in notifier's own checking, for one ticket: that notice
    is held with the error, and the other notices of the same input are sent."""
    compose_failing(
        monkeypatch, lambda r: r.ticket_id == "T-2", IndexError("string index out of range")
    )
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n) for n in range(5)])
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert (report.held, report.sent, report.source_errors) == (1, 4, [])
    (held,) = service.outbox.audit_records(AuditQuery(outcome="held"))
    assert held.ticket_id == "T-2"
    assert held.reason == "could not be composed (IndexError: string index out of range)"
    assert sorted(m.rcpt_tos[0] for m in server.messages) == [
        f"user{n}@example.org" for n in (0, 1, 3, 4)
    ]


def test_the_same_fault_composing_notice_after_notice_stops_the_pass_instead(
    state_store: SqlStore, smtp_server: SmtpServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault that meets every ticket is notifier's, not the input's: after three in a row the
    source's pass stops (source error) and nothing is held or sent; once fixed, all go out."""
    broken = {"yes": True}
    compose_failing(
        monkeypatch,
        lambda r: broken["yes"] and r.ticket_id != "T-0",
        LookupError("word list missing"),
    )
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n) for n in range(6)])
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert len(report.source_errors) == 1 and "3 items in a row" in report.source_errors[0]
    # Rolled back: nothing held, queued or sent (the pass report counted what it tried).
    assert (report.sent, service.outbox.counts_by_state(), server.messages) == (0, {}, [])
    broken["yes"] = False
    source.events = [resolution(n) for n in range(6)]  # the input is read again next pass
    again = service.run_pass()
    assert (again.sent, again.held, again.source_errors) == (6, 0, [])


def test_a_failed_state_write_mid_batch_strands_nothing(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """If recording a result fails, unattempted notices go back to the queue and the one in
    flight is recovered and resent (same Message-ID) once the store works again."""
    from notifier.core.errors import StateError

    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n) for n in range(5)])
    service = make_service(state_store, server, clock, source)
    real_record = service.outbox.record_attempt
    calls = {"n": 0}

    def failing_once(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StateError("disk I/O error (injected)")
        real_record(*args, **kwargs)  # type: ignore[arg-type]

    service.outbox.record_attempt = failing_once  # type: ignore[method-assign]
    with pytest.raises(StateError):
        service.run_pass()
    assert service.outbox.counts_by_state() == {"queued": 3, "sending": 1, "sent": 1}
    service.start()  # what the daemon does before the next pass after a StateError
    assert service.run_pass().sent == 4
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(ids) == 6 and len(set(ids)) == 5  # the one in flight went twice, same ID


def test_a_refused_sender_is_retried_not_dead_lettered(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """530 at MAIL FROM (AUTH missing) is our configuration, not the notice: it is deferred."""
    server, clock = smtp_server(auth=("robot", "pw")), Clock()
    source = ListSource([resolution(1), resolution(2)])
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert (report.failed, report.deferred) == (0, 2)
    (first, _) = service.outbox.audit_records(AuditQuery(outcome="deferred"))
    assert first.smtp_code == 530


def test_without_a_digest_template_the_limit_still_holds(
    tmp_path: Path, state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Five notices due for one person, no digest template: three go out, two wait their turn."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    for digest in (templates / "default").glob("digest.*"):
        digest.unlink()
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n, "ann@example.org") for n in range(5)])
    service = make_service(state_store, server, clock, source, per_recipient=3)
    service.renderer = Renderer.load(templates)
    report = service.run_pass()
    assert (report.sent, report.postponed) == (3, 2)
    assert len(server.messages) == 3
    postponed = service.outbox.audit_records(AuditQuery(outcome="deferred"))
    assert len(postponed) == 2 and "no digest could be made" in postponed[0].reason


def test_a_fault_while_composing_a_digest_sends_what_the_limit_allows(
    state_store: SqlStore, smtp_server: SmtpServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is already claimed: a fault in the digest must not strand it. The notices go
    out one by one as far as the limit allows, the rest wait their turn."""
    import notifier.service as service_module

    def failing(*args: object, **kwargs: object) -> object:
        raise KeyError("first_name")

    monkeypatch.setattr(service_module, "compose_digest", failing)
    server, clock = smtp_server(), Clock()
    source = ListSource([resolution(n, "ann@example.org") for n in range(5)])
    service = make_service(state_store, server, clock, source, per_recipient=3)
    report = service.run_pass()
    assert (report.sent, report.postponed) == (3, 2)
    assert service.outbox.counts_by_state() == {"sent": 3, "queued": 2}  # due again later


def test_a_digest_deferred_by_the_server_is_retried_as_one_digest(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Five notices for one person go out as a digest; the server answers 451. The members
    are due again at the same moment, so the retry is one digest again, not five messages."""
    server = smtp_server(behaviour=ServerBehaviour(defer_first=1))
    clock = Clock()
    source = ListSource([resolution(n, "ann@example.org") for n in range(5)])
    service = make_service(state_store, server, clock, source, per_recipient=3)
    first = service.run_pass()
    assert (first.sent, first.deferred) == (0, 5)
    due = service.outbox.next_due_at()
    assert due is not None
    clock.now = due  # the daemon wakes when the first of them is due
    second = service.run_pass()
    assert second.sent == 5 and len(server.messages) == 1  # all five, in one digest
    body = server.messages[0].message.get_body(("plain",)).get_content()
    assert all(f"Request {n}" in body for n in range(5))


def test_a_second_copy_naming_another_requester_is_recorded_not_dropped(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Two copies of one resolution (a watcher's and the requester's) have one key: the first
    read wins. A later copy that names someone else leaves an audit row saying so, with both
    origins; a copy that agrees, or the same copy read again, leaves none."""
    server, clock = smtp_server(), Clock()
    first = resolution(1, "watcher@example.org")
    agreeing = dataclasses.replace(first, origin="fake:agreeing")
    other = dataclasses.replace(
        first, requester_email="User1@Example.org", origin="fake:requester-copy"
    )
    source = ListSource([first, first, agreeing, other])
    service = make_service(state_store, server, clock, source)
    report = service.run_pass()
    assert (report.sent, report.already_known, report.ignored) == (1, 3, 1)
    (row,) = service.outbox.audit_records(AuditQuery(outcome="ignored"))
    assert row.origin == "fake:requester-copy"
    assert row.ticket_id == "T-1"
    assert "User1@Example.org" in row.reason and "watcher@example.org" in row.reason
    assert "fake:1" in row.reason, row.reason


def test_sources_of_one_helpdesk_tell_one_resolution_once_whichever_comes_first(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """A helpdesk's webhook and its mail of one resolution carry times seconds apart: within
    ``same_within`` they are one resolution (the second recorded as ignored, naming the
    first); later, or in another helpdesk's sources, they are not."""
    server, clock = smtp_server(), Clock()
    hook, mail, other = ListSource(name="hook"), ListSource(name="mail"), ListSource(name="other")
    service = make_service(state_store, server, clock, hook)
    service.sources = [hook, mail, other]
    service.helpdesks = {"hook": "desk", "mail": "desk", "other": "elsewhere"}

    def seen(source: str, seconds: int) -> Resolution:
        return dataclasses.replace(
            resolution(1), source=source, origin=f"{source}:1",
            resolved_at=START + timedelta(seconds=seconds),
        )  # fmt: skip

    hook.events = [seen("hook", 0)]
    mail.events = [seen("mail", 4)]
    other.events = [seen("other", 4)]
    report = service.run_pass()
    assert (report.sent, report.already_known, report.ignored) == (2, 1, 1)
    (row,) = service.outbox.audit_records(AuditQuery(outcome="ignored"))
    assert row.origin == "mail:1" and row.ticket_id == "T-1"
    assert "the same resolution as hook:T-1:" in row.reason and "4 s apart" in row.reason

    mail.events = [seen("mail", 600)]  # resolved again ten minutes later: a new resolution
    assert service.run_pass().sent == 1


@dataclass
class SlowSource:
    """A source whose reading waits (a slow server), then yields one resolution, then fails."""

    name: str = "slow"
    waited: threading.Event = field(default_factory=threading.Event)
    fail: bool = False

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        self.waited.wait(timeout=2)
        yield resolution(7)
        if self.fail:
            raise SourceError("the server went away")

    def committed(self) -> None:
        """Nothing to acknowledge."""


def test_reading_a_slow_source_does_not_hold_the_state_for_webhook_receipts(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """A webhook's commit (another thread) goes through while a source is still being read:
    the transaction opens only once the source has given its events."""
    server, clock = smtp_server(), Clock()
    slow = SlowSource()
    service = make_service(state_store, server, clock, ListSource())
    service.sources = [slow]
    passing = threading.Thread(target=service.run_pass)
    passing.start()
    time.sleep(0.3)  # the pass is waiting on the slow source now
    started = time.monotonic()
    assert service.outbox.receive("hooks", "e-1", START, "{}")
    assert time.monotonic() - started < 1.0, "the receipt waited for the source's read"
    slow.waited.set()
    passing.join(timeout=10)
    assert len(server.messages) == 1


def test_a_source_failing_part_way_loses_that_chunk_and_is_read_again(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """What a source gave in the chunk it failed in is not kept (a run of faults may be
    notifier's own); the next pass reads it again and tells it once."""
    server, clock = smtp_server(), Clock()
    failing = SlowSource(fail=True)
    failing.waited.set()
    service = make_service(state_store, server, clock, ListSource())
    service.sources = [failing]
    report = service.run_pass()
    assert report.source_errors == ["slow: the server went away"]
    assert (report.seen, report.sent) == (0, 0)
    failing.fail = False
    assert service.run_pass().sent == 1


def test_a_cancelled_resolution_of_one_helpdesk_source_is_not_the_same_as_a_new_one(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Resolved (webhook), reopened (its notice cancelled), resolved again a minute later and
    seen only by mail: a new resolution, told, not taken for the cancelled one."""
    server, clock = smtp_server(), Clock()
    hook, mail = ListSource(name="hook"), ListSource(name="mail")
    service = make_service(state_store, server, clock, hook)
    service.sources = [hook, mail]
    service.helpdesks = {"hook": "desk", "mail": "desk"}
    first = dataclasses.replace(resolution(1), source="hook", origin="hook:1")
    with service.outbox.transaction():
        service.outbox.add(first, team="default", state=State.QUEUED, reason="", now=START)
    service.outbox.cancel_notices([first.key], START, "reopened")
    mail.events = [
        dataclasses.replace(
            resolution(1), source="mail", origin="mail:1",
            resolved_at=START + timedelta(seconds=60),
        )
    ]  # fmt: skip
    assert service.run_pass().sent == 1
