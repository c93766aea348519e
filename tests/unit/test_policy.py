"""Retry policy: where a notice goes after each kind of send result."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from notifier.core.model import DeliveryOutcome, DeliveryResult, State
from notifier.core.policy import RetryPolicy, after_attempt, retry_delay

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(timedelta(minutes=1), timedelta(hours=1), timedelta(days=3))


@pytest.mark.parametrize(
    ("result", "age", "state", "reason_part"),
    [
        (DeliveryResult(DeliveryOutcome.SENT, 250, "OK"), timedelta(0), State.SENT, ""),
        (
            DeliveryResult(DeliveryOutcome.PERMANENT, 550, "no such user"),
            timedelta(0),
            State.FAILED,
            "550 no such user",
        ),
        (
            DeliveryResult(DeliveryOutcome.TRANSIENT, 451, "try later"),
            timedelta(hours=1),
            State.DEFERRED,
            "451 try later",
        ),
        (
            DeliveryResult(DeliveryOutcome.TRANSIENT, None, "", "connection refused"),
            timedelta(days=3),
            State.FAILED,
            "gave up after 4 attempts",
        ),
    ],
)
def test_after_attempt_table(
    result: DeliveryResult, age: timedelta, state: State, reason_part: str
) -> None:
    """Sent stays sent, 5xx is a dead letter, 4xx waits, and the give-up age turns 4xx fatal."""
    decision = after_attempt(
        POLICY, result, queued_at=NOW - age, now=NOW, attempt=4, rng=random.Random(1)
    )
    assert decision.state is state
    assert reason_part in decision.reason
    assert (decision.next_attempt_at is not None) == (state is State.DEFERRED)


def test_retry_delay_grows_caps_and_jitters() -> None:
    """Backoff doubles per attempt, never exceeds the maximum, and is never below half."""
    rng = random.Random(7)
    delays = [retry_delay(POLICY, attempt, rng) for attempt in range(1, 12)]
    for attempt, delay in enumerate(delays, start=1):
        full = min(POLICY.initial * 2 ** (attempt - 1), POLICY.maximum)
        assert full / 2 <= delay <= full
    assert len({round(d.total_seconds(), 6) for d in delays}) > 5  # jitter: not all equal
