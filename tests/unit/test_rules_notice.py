"""Notification rules as pure functions of the ticket, the rules and a clock value."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifier.core.model import Resolution
from notifier.core.rules import NoticeRules, OwnAddresses, WorkingHours, evaluate, next_working_time

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
RULES = NoticeRules(
    closure_reasons=frozenset({"duplicate", "won't do", "spam"}),
    closure_fields=("resolution", "close_code"),
    suppress_requesters=("noreply@*", "*@internal.example.org"),
    resolver_fields=("assignee",),
    max_age=timedelta(days=7),
    own_addresses=OwnAddresses({"it-helpdesk@example.org": "our From address"}),
)


def ticket(**changes: object) -> Resolution:
    values: dict[str, object] = {
        "source": "desk", "ticket_id": "T-1", "requester_email": "ann@example.org",
        "requester_name": "Ann Lee", "resolved_at": NOW - timedelta(hours=1), "fields": {},
    }  # fmt: skip
    values.update(changes)
    return Resolution(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("resolution", "rules", "rule", "detail"),
    [
        (ticket(), RULES, None, ""),
        (ticket(), NoticeRules(notify=False), "team_opt_out", "notify = false"),
        (ticket(fields={"Resolution": "Duplicate"}), RULES, "closure_reason", "'Duplicate'"),
        (ticket(fields={"close_code": " won't do "}), RULES, "closure_reason", "close_code"),
        (ticket(fields={"Resolution": "Done"}), RULES, None, ""),
        (
            ticket(requester_email="noreply@vendor.example"),
            RULES,
            "requester_address",
            "'noreply@*'",
        ),
        (
            ticket(requester_email="Bob@Internal.example.org"),
            RULES,
            "requester_address",
            "internal",
        ),
        (
            ticket(requester_email="It-Helpdesk@example.org"),
            RULES,
            "protected_recipient",
            "ticket T-1: the requester address is our From address",
        ),
        (
            ticket(fields={"Assignee": "ann lee"}),
            RULES,
            "resolver_is_requester",
            "is the requester",
        ),
        (
            ticket(fields={"Assignee": "ann@example.org"}),
            RULES,
            "resolver_is_requester",
            "requester",
        ),
        (ticket(fields={"Assignee": "Tom Tech"}), RULES, None, ""),
        (ticket(resolved_at=NOW - timedelta(days=8)), RULES, "max_age", "backfill guard"),
        (ticket(resolved_at=None), RULES, None, ""),
    ],
)
def test_suppression_table(
    resolution: Resolution, rules: NoticeRules, rule: str | None, detail: str
) -> None:
    """Each suppression rule fires on its case, names itself and says why; others pass."""
    evaluation = evaluate(resolution, "network", rules, NOW)
    suppressed = evaluation.suppressed_by
    if rule is None:
        assert suppressed is None, suppressed
    else:
        assert suppressed is not None and suppressed.rule == rule
        assert detail in suppressed.detail
    # Every rule is evaluated and recorded, in a fixed order, whatever happened.
    assert [s.rule for s in evaluation.steps][:6] == [
        "protected_recipient", "team_opt_out", "closure_reason", "requester_address", "resolver_is_requester", "max_age",
    ]  # fmt: skip


def test_hold_window_delays_the_due_time() -> None:
    """A team delay makes the notice due that much later, and says so."""
    evaluation = evaluate(ticket(), "network", NoticeRules(delay=timedelta(minutes=10)), NOW)
    assert evaluation.due_at == NOW + timedelta(minutes=10)
    assert any(s.rule == "hold_window" and s.verdict == "delay" for s in evaluation.steps)


BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(time(8), time(18), frozenset(range(5)), BERLIN)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Friday 12:00 UTC = 13:00 Berlin: inside working hours.
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        # Friday 18:30 Berlin: next working period is Monday 08:00 Berlin.
        (
            datetime(2026, 11, 27, 18, 30, tzinfo=BERLIN),
            datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN),
        ),
        # Tuesday 06:00 Berlin: the same day's 08:00.
        (datetime(2026, 12, 1, 6, 0, tzinfo=BERLIN), datetime(2026, 12, 1, 8, 0, tzinfo=BERLIN)),
        # Summer time: Monday 2026-06-01 05:30 UTC = 07:30 CEST -> 08:00 CEST = 06:00 UTC.
        (datetime(2026, 6, 1, 5, 30, tzinfo=UTC), datetime(2026, 6, 1, 6, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_move_to_the_next_working_period(moment: datetime, expected: datetime) -> None:
    """Notices due at night or at the weekend wait for the next start, in the team's zone."""
    assert next_working_time(moment, OFFICE) == expected


def test_working_hours_appear_in_the_evaluation() -> None:
    """A notice resolved on Friday evening is due Monday morning, and the trace says when."""
    friday_evening = datetime(2026, 11, 27, 19, 0, tzinfo=BERLIN)
    evaluation = evaluate(
        ticket(resolved_at=friday_evening), "n", NoticeRules(working_hours=OFFICE), friday_evening
    )
    assert evaluation.due_at == datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
    step = next(s for s in evaluation.steps if s.rule == "working_hours")
    assert step.verdict == "delay" and "Mon 2026-11-30 08:00" in step.detail


SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("resolved_at", "max_age", "since", "verdict", "words"),
    [
        (NOW - timedelta(days=20), timedelta(days=7), SINCE, "pass", "backfill_since 2026-11-01"),
        (NOW - timedelta(days=40), timedelta(days=7), SINCE, "suppress", "before this source's"),
        (NOW - timedelta(days=2), timedelta(days=7), NOW, "pass", "resolved 2 days ago"),
        (NOW - timedelta(days=40), None, SINCE, "pass", "resolved 40 days ago"),
        (NOW - timedelta(days=8), timedelta(days=7), None, "suppress", "[rules] max_age"),
        (NOW - timedelta(days=8), None, None, "pass", "no age limit"),
    ],
)
def test_old_resolutions_are_one_decision_of_max_age_and_backfill_since(
    resolved_at: datetime,
    max_age: timedelta | None,
    since: datetime | None,
    verdict: str,
    words: str,
) -> None:
    """A resolution passes when within max_age or, for a source with backfill_since, resolved
    since that date: backfill_since only lets more through, and each verdict names its knob."""
    rules = NoticeRules(max_age=max_age)
    evaluation = evaluate(ticket(resolved_at=resolved_at), "t", rules, NOW, backfill_since=since)
    (step,) = [s for s in evaluation.steps if s.rule == "max_age"]
    assert step.verdict == verdict and words in step.detail
