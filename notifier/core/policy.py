"""Retry policy: pure decisions about what happens after a send attempt.

Nothing here reads the clock or the network: the caller passes ``now`` and a random source, so
every rule is a table of cases in the unit tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifier.core.model import DeliveryOutcome, DeliveryResult, State


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial: timedelta = timedelta(minutes=1)
    maximum: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Decision:
    state: State
    next_attempt_at: datetime | None
    reason: str


def retry_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> timedelta:
    """Exponential backoff capped at ``maximum``, with jitter between half and the full delay.

    The jitter spreads retries of many notices deferred by the same outage, so that they do
    not all hit the mail server again in the same second.
    """
    exponent = max(attempt - 1, 0)
    base = min(policy.initial * (2 ** min(exponent, 30)), policy.maximum)
    return timedelta(seconds=base.total_seconds() * rng.uniform(0.5, 1.0))


def after_attempt(
    policy: RetryPolicy,
    result: DeliveryResult,
    *,
    queued_at: datetime,
    now: datetime,
    attempt: int,
    rng: random.Random,
) -> Decision:
    """Where a notice goes after one send attempt."""
    words = describe(result)
    if result.outcome is DeliveryOutcome.SENT:
        return Decision(State.SENT, None, "")
    if result.outcome is DeliveryOutcome.PERMANENT:
        return Decision(State.FAILED, None, f"refused permanently: {words}")
    age = now - queued_at
    if age >= policy.give_up_after:
        return Decision(
            State.FAILED,
            None,
            f"gave up after {attempt} attempts over {_human(age)}: last error: {words}",
        )
    next_at = now + retry_delay(policy, attempt, rng)
    return Decision(State.DEFERRED, next_at, f"will retry: {words}")


def describe(result: DeliveryResult) -> str:
    """The server's words when it gave some, else our own explanation."""
    if result.code is not None:
        return f"{result.code} {result.reply}".strip()
    return result.detail or result.reply or "no reason given"


def _human(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
