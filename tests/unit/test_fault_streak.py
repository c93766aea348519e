"""FaultStreak: one unexpected fault is the item's problem, a run of them stops the pass."""

from __future__ import annotations

import pytest

from notifier.core.errors import FaultStreak, SourceError


def test_a_fault_between_good_items_never_stops_the_pass() -> None:
    streak = FaultStreak("reading mail in 'Resolved'")
    for _ in range(10):
        streak.record(ValueError("odd mail"))
        streak.record(ValueError("odd mail"))
        streak.reset()  # a good item in between


def test_the_limit_in_a_row_raises_a_source_error_naming_the_last_fault() -> None:
    streak = FaultStreak("composing notices")
    for _ in range(FaultStreak.LIMIT - 1):
        streak.record(KeyError("first_name"))
    with pytest.raises(SourceError, match=r"composing notices: 3 items in a row.*KeyError"):
        streak.record(KeyError("first_name"))
    streak.record(KeyError("first_name"))  # counting starts again after the stop
