"""The values a state store hands out about its notices: claimed, waiting, held, and the
queue's health. Every store returns these, so the service and the commands never see a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifier.core.model import (
    Notice,
)


@dataclass(frozen=True, slots=True)
class HeldNotice:
    resolution_key: str
    ticket_id: str
    source: str
    team: str
    requester: str
    reason: str
    subject: str
    findings: list[dict[str, object]]
    held_since: datetime
    text: str = ""  # the words as they would be sent ("" when not rendered)
    language: str = ""  # the ticket's language, as the source read it ("" if it did not say)


@dataclass(frozen=True, slots=True)
class KnownCopy:
    """What the state holds of a resolution already read: whom it tells, and where it was read
    (with its key, source and time when looked up by ticket)."""

    requester_email: str
    origin: str
    key: str = ""
    source: str = ""
    resolved_at: datetime | None = None
    state: str = ""  # the notice's state (queued, sent, cancelled...)


@dataclass(frozen=True, slots=True)
class WaitingNotice:
    """A notice not yet attempted: what deciding on a reopen of its ticket needs."""

    resolution_key: str
    team: str
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueuedNotice:
    notice: Notice
    queued_at: datetime


# Notices waiting to go out: new, or deferred for a retry.
WAITING_STATES = ("queued", "deferred", "sending")


@dataclass(frozen=True, slots=True)
class OldestWaiting:
    """The oldest notice that has not gone out yet."""

    resolution_key: str
    ticket_id: str
    source: str
    team: str
    state: str
    queued_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_reply: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    resolution_key: str
    ticket_id: str
    source: str
    team: str
    requester: str
    failed_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    counts: dict[str, int]
    oldest_waiting: OldestWaiting | None
    dead_letters: int
    dead_letters_recent: int  # failed within ``recent`` of ``now``
    latest_dead_letter: DeadLetter | None

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(state, 0) for state in WAITING_STATES)
