"""Frozen value types that flow through the pipeline.

A source produces :class:`SourceEvent` values (a :class:`Resolution`, an :class:`InputProblem`,
an :class:`Ignored` item or a :class:`Checkpoint`); the core turns a resolution into a :class:`Notice`; delivery
answers each notice with a :class:`DeliveryResult`. None of these types does any I/O.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Resolution:
    """One ticket resolved, as a source saw it.

    ``resolved_at`` is an aware UTC datetime when the source knows it; without it the resolution
    is identified by a fingerprint of its content. ``origin`` names where it was read
    (``exports/jira.csv:12``, ``INBOX uid 42``). ``fields`` keeps the raw input fields so that
    routing rules can match any of them (group, queue, component...).
    """

    source: str
    ticket_id: str
    requester_email: str
    requester_name: str = ""
    title: str = ""
    status: str = ""
    resolved_at: datetime | None = None
    team_hint: str = ""
    resolution_note: str = ""
    language: str = ""
    original_message_id: str = ""
    origin: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.resolved_at is not None and self.resolved_at.utcoffset() is None:
            raise ValueError("resolved_at must be an aware datetime")

    @property
    def key(self) -> str:
        """The resolution key: UNIQUE in the outbox, so re-reading input is always safe.

        A ticket reopened and resolved again has a new resolved time, hence a new key.
        """
        if self.resolved_at is not None:
            utc = self.resolved_at.astimezone(UTC)
            if utc.year >= 1000:  # isoformat: strftime's text at a fifth of its cost
                when = utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
            else:  # strftime writes such years unpadded: keys already stored stay the same
                when = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            # Not the status: Resolved -> Closed is the same resolution, not a new one.
            digest = hashlib.sha256(
                "\x1f".join((self.title, self.resolution_note)).encode()
            ).hexdigest()[:16]
            when = f"fp-{digest}"
        return f"{self.source}:{self.ticket_id}:{when}"


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One item of input that could not be used: recorded in the audit trail, then skipped.

    ``ticket_id`` when the ticket could still be read (``audit --ticket`` finds the rejection);
    ``team_hint`` and ``fields`` are what routing reads, so the rejection counts for the team
    the ticket would have gone to (``notifier report``). Neither is stored beyond the team.
    """

    source: str
    origin: str
    reason: str
    ticket_id: str = ""
    team_hint: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ignored:
    """Input that is deliberately not a resolution (an auto-reply, a bounce, list mail, an
    update notification...): recorded with the reason, never notified. ``ticket_id`` when the
    input names a ticket (``audit --ticket`` finds it)."""

    source: str
    origin: str
    reason: str
    ticket_id: str = ""


@dataclass(frozen=True, slots=True)
class Reopened:
    """A ticket was seen open again (an export row whose status went back, a reopen mail).

    A notice for it that is still waiting in its hold window is cancelled. ``announced`` marks
    an explicit reopen notification (recorded even when nothing was waiting), as opposed to an
    export row that is simply not resolved (recorded only when it cancels something).
    """

    source: str
    ticket_id: str
    origin: str
    status: str
    announced: bool = False
    seen_at: datetime | None = None  # when the ticket was open: only newer resolutions stay


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A source's progress mark, committed in the same transaction as the events before it.

    An export source marks a file read completely (``key`` the path, ``value`` its size and
    mtime, so a file that changes is read again); an IMAP source marks a folder's UIDVALIDITY
    and last processed UID. Sources read their marks back through ``SourceState``.
    """

    source: str
    key: str
    value: str


SourceEvent = Resolution | InputProblem | Ignored | Reopened | Checkpoint


# The checkpoint key under which a webhook source marks the last received event it has read.
INBOX_CHECKPOINT = "inbox"


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One webhook request as it was committed on receipt, before its source read it.

    ``number`` orders the events of all sources (the source's checkpoint is the last it read);
    ``body`` is the request body as text, checked and size-capped by the receiver.
    """

    number: int
    source: str
    event_id: str
    received_at: datetime
    body: str


class State(enum.StrEnum):
    """Outbox states of one notice."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"  # dead letter
    SUPPRESSED = "suppressed"
    HELD = "held"  # waiting for review: notifier release / cancel
    CANCELLED = "cancelled"  # dropped after review


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """What a template produced: the words the requester will read."""

    subject: str
    text: str
    html: str | None
    template: str  # for example "network/resolved" or "default/resolved"
    template_version: str  # short hash of the template sources used
    language: str = "en"  # the language of the templates used


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice ready to send (or already sent): everything delivery needs, fixed at queue time.

    The Message-ID is fixed when the notice is queued and reused by every retry, so that a
    duplicate after a crash carries the same Message-ID as the first copy.
    """

    resolution_key: str
    ticket_id: str
    source: str
    team: str
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str | None
    message_id: str
    in_reply_to: str  # the requester's original Message-ID, or ""
    references: tuple[str, ...]
    reply_to: str
    template: str
    attempt: int = 0
    language: str = ""  # the language the words are written in (Content-Language), if known


class DeliveryOutcome(enum.StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"  # try again later
    PERMANENT = "permanent"  # dead letter


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How one send attempt ended, with the server's own words."""

    outcome: DeliveryOutcome
    code: int | None = None
    reply: str = ""
    detail: str = ""  # our own explanation when the server said nothing (timeout, drop...)
