"""When a reopen cancels a waiting notice: decided by the events' own times and the hold
window, never by the order in which notifier happened to read them (issue 15, item 9).

The real state store (SQLite and PostgreSQL) and aiosmtpd; the source is a fake of the ``Source`` port, so each case
controls exactly which events arrive in which pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.compose import TeamProfile
from notifier.core.model import Reopened, Resolution, SourceEvent
from notifier.core.rules import NoticeRules
from notifier.service import Service
from notifier.store.sql.store import SqlStore
from tests.integration.test_service import Clock, ListSource, make_service
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the resolution
READ = T + timedelta(days=4)  # when notifier reads the input (a late export, a backfill)


def service_for(
    store: SqlStore, server: SmtpTestServer, clock: Clock, source: ListSource, delay: timedelta
) -> Service:
    service = make_service(store, server, clock, source)
    service.teams = {"default": TeamProfile("default", "IT", rules=NoticeRules(delay=delay))}
    return service


def resolved(at: datetime | None, note: str = "We fixed it.") -> Resolution:
    return Resolution(
        source="fake", ticket_id="T-1", requester_email="ann@example.org", title="Printer",
        resolved_at=at, resolution_note=note, origin=f"fake:resolved {at}",
    )  # fmt: skip


def reopened(at: datetime | None, *, announced: bool = False) -> Reopened:
    return Reopened("fake", "T-1", f"fake:reopened {at}", "Open", announced=announced, seen_at=at)


H = timedelta(hours=1)
NO_DELAY = timedelta(0)

# (name, hold window, events in one pass, notices sent once every window has passed,
#  outcomes of the ticket's notices in the audit trail)
CASES: list[tuple[str, timedelta, list[SourceEvent], int, list[str]]] = [
    ("no window, reopen 3 days later: was due, sent", NO_DELAY,
     [resolved(T), reopened(T + timedelta(days=3))], 1, ["queued", "sent"]),
    ("reopen inside the window: cancelled", H,
     [resolved(T), reopened(T + H / 2)], 0, ["queued", "cancelled"]),
    ("reopen at the very end of the window: cancelled", H,
     [resolved(T), reopened(T + H)], 0, ["queued", "cancelled"]),
    ("reopen after the window: was due, sent", H,
     [resolved(T), reopened(T + 2 * H)], 1, ["queued", "sent"]),
    ("reopen inside the window, resolved again later: the new one is sent", H,
     [resolved(T), reopened(T + H / 2), resolved(T + 5 * H, "We replaced it.")], 1,
     ["queued", "cancelled", "queued", "sent"]),
    ("an open row older than the resolution is no reopen", H,
     [resolved(T), reopened(T - H)], 1, ["queued", "sent"]),
    ("read before its resolution (an export listed newest first), inside the window", H,
     [reopened(T + H / 2), resolved(T)], 0, ["queued", "cancelled"]),
    ("read before its resolution, after the window: sent", H,
     [reopened(T + 2 * H), resolved(T)], 1, ["queued", "sent"]),
    ("an open row, then a resolution of unknown time (a log read in order): sent", H,
     [reopened(T), resolved(None)], 1, ["queued", "sent"]),
    ("a reopen mail of unknown time: order unknown, cancelled", NO_DELAY,
     [resolved(T), reopened(None, announced=True)], 0, ["queued", "cancelled"]),
    ("a resolution of unknown time: order unknown, cancelled", NO_DELAY,
     [resolved(None), reopened(T)], 0, ["queued", "cancelled"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("delay", "events", "sent", "outcomes"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_reopen_cancels_only_what_was_not_yet_due_by_the_events_own_times(
    state_store: SqlStore,
    smtp_server: SmtpServerFactory,
    delay: timedelta,
    events: list[SourceEvent],
    sent: int,
    outcomes: list[str],
) -> None:
    """The decision table of docs/rules.md, all events read in one pass days after they
    happened: the outcome is the one a notifier reading them live would have reached."""
    server, clock, source = smtp_server(), Clock(READ), ListSource(list(events))
    service = service_for(state_store, server, clock, source, delay)
    service.run_pass()
    clock.now += delay + timedelta(seconds=1)  # the reading-time hold has passed too
    service.run_pass()
    assert len(server.messages) == sent
    history = service.outbox.audit_records(AuditQuery(ticket="T-1"))
    assert [r.outcome for r in history if r.resolution_key] == outcomes


def test_the_same_events_in_two_passes_end_the_same_way(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Read in separate passes (the reopen mail in a later pass, while the notice still waits
    out its one-hour window after being read): the reopen three days after the resolution came
    after the notice was due, so it does not cancel it, and that is recorded."""
    server, clock, source = smtp_server(), Clock(READ), ListSource([resolved(T)])
    service = service_for(state_store, server, clock, source, timedelta(hours=1))
    service.run_pass()  # queued, held for the reading-time window
    clock.now += timedelta(minutes=5)
    source.events = [reopened(T + timedelta(days=3), announced=True)]
    service.run_pass()
    clock.now += timedelta(hours=1)
    service.run_pass()
    assert len(server.messages) == 1
    notes = [r for r in service.outbox.audit_records(AuditQuery()) if r.outcome == "ignored"]
    assert len(notes) == 1 and "after the notice was due" in notes[0].reason


def test_a_second_reopen_mail_after_the_cancel_is_recorded_as_finding_nothing_waiting(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """Nothing silent: a reopen notification that finds no notice waiting (the first reopen
    already cancelled it) is still recorded, saying so."""
    events: list[SourceEvent] = [
        resolved(T),
        reopened(T + H / 2, announced=True),
        reopened(T + H, announced=True),
    ]
    server, clock, source = smtp_server(), Clock(READ), ListSource(events)
    service = service_for(state_store, server, clock, source, H)
    report = service.run_pass()
    assert (report.cancelled, report.ignored) == (1, 1)
    (note,) = [r for r in service.outbox.audit_records(AuditQuery()) if r.outcome == "ignored"]
    assert note.reason == "reopened: Open; no notice was waiting"


def test_a_reopen_seen_by_one_source_of_a_helpdesk_cancels_the_notice_another_queued(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    """The mail source queued the notice (a 10-minute hold); the helpdesk's webhook says the
    ticket is open again: the mail's notice is cancelled. A newer resolution read by the
    webhook replaces it the same way."""
    server, clock = smtp_server(), Clock(T)
    mail, hook = ListSource(name="mail"), ListSource(name="hook")
    service = service_for(state_store, server, clock, mail, timedelta(minutes=10))
    service.sources = [mail, hook]
    service.helpdesks = {"mail": "desk", "hook": "desk"}
    first = Resolution(
        source="mail", ticket_id="T-1", requester_email="ann@example.org", title="VPN",
        resolved_at=T, origin="mail:1",
    )  # fmt: skip
    mail.events = [first]
    service.run_pass()
    hook.events = [
        Reopened("hook", "T-1", "webhook event 1", "open", announced=True,
                 seen_at=T + timedelta(minutes=2))
    ]  # fmt: skip
    clock.now = T + timedelta(minutes=3)
    report = service.run_pass()
    assert report.cancelled == 1
    clock.now = T + timedelta(minutes=30)
    assert service.run_pass().sent == 0
    assert server.messages == []
