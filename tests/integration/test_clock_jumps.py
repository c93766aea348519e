"""The wall clock set back (a wrong NTP server corrected, an operator's mistake): delivery goes on.

Attempts and sends recorded before the jump carry stamps in the new clock's future. The rate
limit and the per-recipient limit count a time window; rows stamped beyond the window's far
side (more than ``notifier.core.clock.CLOCK_TOLERANCE`` ahead) must not count as "in the last minute
(hour)", and a notice deferred before the jump, whose retry time is now further away than the
longest retry delay, is due at once.
"""

from __future__ import annotations

from datetime import timedelta

from notifier.core.model import State
from notifier.store.sql.store import SqlStore
from tests.integration.test_service import Clock, ListSource, make_service, resolution
from tests.smtp_server import ServerBehaviour, SmtpServerFactory

BACK = timedelta(hours=1)


def test_the_rate_limit_goes_on_after_the_clock_is_set_back_an_hour(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    server, clock, source = smtp_server(), Clock(), ListSource()
    service = make_service(state_store, server, clock, source, rate_limit_per_minute=5)
    source.events = [resolution(n) for n in range(5)]
    assert service.run_pass().sent == 5

    clock.now -= BACK
    source.events = [resolution(n) for n in range(5, 12)]
    assert service.run_pass().sent == 5  # the five sent "an hour from now" are not this minute
    # Rate-limited again, in the new timeline: one minute, not an hour and a minute.
    assert service.next_wake(timedelta(seconds=30)) == timedelta(minutes=1)
    clock.now += timedelta(seconds=61)
    assert service.run_pass().sent == 2
    assert len(server.messages) == 12


def test_the_per_recipient_limit_goes_on_after_the_clock_is_set_back_an_hour(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    server, clock, source = smtp_server(), Clock(), ListSource()
    service = make_service(state_store, server, clock, source, per_recipient=1)
    source.events = [resolution(1, "ann@example.org")]
    assert service.run_pass().sent == 1

    clock.now -= BACK
    source.events = [resolution(2, "ann@example.org")]
    report = service.run_pass()
    assert (report.sent, report.postponed) == (1, 0)
    assert len(server.messages) == 2


def test_a_notice_deferred_before_the_jump_is_not_left_waiting_an_hour(
    state_store: SqlStore, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server(behaviour=ServerBehaviour(defer_first=1))
    clock, source = Clock(), ListSource([resolution(1)])
    service = make_service(state_store, server, clock, source)  # retries at most 10 min apart
    assert service.run_pass().deferred == 1

    clock.now -= BACK  # its retry time is now more than its longest delay (10 min) away
    assert service.run_pass().sent == 1
    assert service.outbox.counts_by_state() == {State.SENT.value: 1}
