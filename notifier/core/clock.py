"""Time as a value: the core never reads the clock itself; it is handed one of these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

# A stamp further ahead of the clock than this was written before the clock was set back (NTP
# stepping a wrong time back, an operator's correction). Time windows counted from stored
# stamps (the rate limit, the per-recipient limit) end this far after "now", so that such rows
# do not count as recent until the clock catches up with them: without this bound, a clock set
# back an hour stalled delivery for an hour.
CLOCK_TOLERANCE = timedelta(minutes=1)


def system_clock() -> datetime:
    """The real clock, aware UTC."""
    return datetime.now(UTC)


_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_STAMP_LENGTH = len("2026-11-27T09:00:00.000000Z")


def to_stamp(moment: datetime) -> str:
    """A fixed-width UTC text form that sorts like the time it names (stored in SQLite)."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime writes such years unpadded; keep what was always stored
        return utc.strftime(_STAMP)
    # The same text as strftime(_STAMP), at a fifth of the cost.
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_stamp(text: str) -> datetime:
    if len(text) == _STAMP_LENGTH and text.endswith("Z"):
        # fromisoformat reads this fixed form at a twentieth of strptime's cost.
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)  # years before 1000


def stamp_or_none(text: object) -> datetime | None:
    """A stored stamp read back, or None for a missing or unreadable one (status, reports)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return from_stamp(text)
    except ValueError:
        return None
