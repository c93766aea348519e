"""The hold window's decision on a reopen, as a table (notifier.core.hold, docs/rules.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifier.core.hold import decide_reopen

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("resolved", "reopened", "delay", "verdict"),
    [
        (T, T + timedelta(days=3), timedelta(0), "keep"),  # no window: it was due at once
        (T, T + timedelta(seconds=1), timedelta(0), "keep"),
        (T, T + H / 2, H, "cancel"),
        (T, T + H, H, "cancel"),  # at the very moment it is due: the reopen wins
        (T, T + H + timedelta(seconds=1), H, "keep"),
        (T, T, H, "older"),  # the same moment as the resolution: an older open row
        (T, T - H, H, "older"),
        (T, None, timedelta(0), "cancel"),  # order unknown: the safe side
        (None, T, timedelta(0), "cancel"),
    ],
)
def test_a_reopen_cancels_only_up_to_the_moment_the_notice_is_due(
    resolved: datetime | None, reopened: datetime | None, delay: timedelta, verdict: str
) -> None:
    assert decide_reopen(resolved, reopened, delay).verdict == verdict


def test_a_kept_notice_says_when_it_was_due_and_why_it_stays() -> None:
    reason = decide_reopen(T, T + timedelta(days=3), timedelta(0)).reason
    assert "after the notice was due at 2026-11-23 09:00 UTC" in reason
    assert "no hold window" in reason and "new resolution" in reason
