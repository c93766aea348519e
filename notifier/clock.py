"""Time as a value: the core never reads the clock itself; it is handed one of these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock, aware UTC."""
    return datetime.now(UTC)


_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_stamp(moment: datetime) -> str:
    """A fixed-width UTC text form that sorts like the time it names (stored in SQLite)."""
    return moment.astimezone(UTC).strftime(_STAMP)


def from_stamp(text: str) -> datetime:
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)
