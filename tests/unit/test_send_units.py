"""How a claimed batch is shared out among SMTP sessions (service._Units): a requester's messages
stay in one session, in order, and what no session took is exactly what goes back to the queue."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from notifier.core.queue import QueuedNotice
from notifier.service import Unit, _Units
from tests.notices import make_notice

QUEUED_AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def unit(name: str, to: str) -> Unit:
    notice = make_notice(resolution_key=name, ticket_id=name, to_email=to)
    return ([QueuedNotice(notice, QUEUED_AT)], None)


def name(taken: Unit | None) -> str | None:
    return None if taken is None else taken[0][0].notice.resolution_key


A, B = unit("a", "ann@example.org"), unit("b", "bob@example.org")
C1, C2 = unit("c1", "cat@example.org"), unit("c2", "Cat@Example.org")  # one requester


def test_a_requesters_messages_form_one_run_taken_by_one_session_in_order() -> None:
    work = _Units([A, B, C1, C2], stop=None)
    assert work.runs == 3
    first_run, taken = work.take(None)  # session 1
    assert name(taken) == "a"
    second_run, taken = work.take(None)  # session 2
    assert name(taken) == "b"
    first_run, taken = work.take(first_run)  # session 1 again: its run is done, the next one
    assert name(taken) == "c1"
    second_run, taken = work.take(second_run)  # session 2: c2 belongs to session 1's run
    assert taken is None
    assert [name(u) for u in work.untried()] == ["c2"]
    first_run, taken = work.take(first_run)
    assert name(taken) == "c2"
    assert work.take(first_run)[1] is None and work.untried() == []


def test_abandon_half_way_through_a_run_leaves_exactly_the_untaken_units() -> None:
    work = _Units([A, B, C1, C2, unit("d", "dan@example.org")], stop=None)
    run_1, _ = work.take(None)
    run_2, _ = work.take(None)
    run_1, _ = work.take(run_1)  # c1 in flight
    work.abandon()
    assert work.take(run_1)[1] is None and work.take(run_2)[1] is None
    assert sorted(name(u) or "" for u in work.untried()) == ["c2", "d"]


def test_a_stop_ends_a_run_between_two_of_its_messages() -> None:
    stop = threading.Event()
    work = _Units([C1, C2, A], stop=stop)
    run, taken = work.take(None)
    assert name(taken) == "c1"
    stop.set()
    assert work.take(run)[1] is None
    assert sorted(name(u) or "" for u in work.untried()) == ["a", "c2"]
