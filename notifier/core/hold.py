"""The hold window: whether a reopen cancels a notice still waiting to go out.

Decided by the events' own times, never by the order notifier happened to read them: a
notice is due at its resolution's time plus the team's hold window (``delay``). A reopen at or
before that moment (and after the resolution) cancels it; a later reopen does not, because a
notifier reading the input as it happened would already have sent the notice. When either
time is unknown, the order cannot be told and the reopen cancels (the safe side: no "it is
fixed" for a ticket that may be open). Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Verdict = Literal["cancel", "keep", "older"]


@dataclass(frozen=True, slots=True)
class ReopenDecision:
    """``cancel`` the waiting notice; ``keep`` it (the reopen came after it was due); or the
    open row is ``older`` than the resolution (not a reopen of it at all)."""

    verdict: Verdict
    reason: str


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds == 0:
        return "no hold window"
    if seconds % 3600 == 0:
        return f"a {seconds // 3600} h hold window"
    if seconds % 60 == 0:
        return f"a {seconds // 60} min hold window"
    return f"a {seconds} s hold window"


def decide_reopen(
    resolved_at: datetime | None, reopened_at: datetime | None, delay: timedelta
) -> ReopenDecision:
    """What a reopen seen at ``reopened_at`` does to a notice for a resolution at
    ``resolved_at`` whose team holds notices for ``delay``."""
    if reopened_at is None:
        return ReopenDecision("cancel", "ticket reopened (when is not known, so it counts)")
    if resolved_at is None:
        return ReopenDecision(
            "cancel",
            f"ticket reopened at {_at(reopened_at)}; the resolution's time is not known, so "
            "the reopen counts",
        )
    if reopened_at <= resolved_at:
        return ReopenDecision(
            "older", f"open at {_at(reopened_at)}, before the resolution at {_at(resolved_at)}"
        )
    due = resolved_at + delay
    if reopened_at <= due:
        return ReopenDecision(
            "cancel",
            f"ticket reopened before the notice was due (reopened {_at(reopened_at)}, "
            f"resolved {_at(resolved_at)}, {_span(delay)})",
        )
    return ReopenDecision(
        "keep",
        f"reopened {_at(reopened_at)}, after the notice was due at {_at(due)} (resolved "
        f"{_at(resolved_at)}, {_span(delay)}): the notice stays; a new resolution gets a "
        "notice of its own",
    )
