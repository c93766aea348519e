"""The small interfaces between the core and its adapters.

Tests fake these (and only these); the real adapters are built in ``runtime/bootstrap``. The
store's ports are what the service, the sources and the commands need from the state; the SQLite
store (``store/sqlite``) implements them, and a second store implements the same Protocols
without a change anywhere else.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from notifier.core.audit import AuditQuery, AuditRecord, NoticeView, Retention, Verification
from notifier.core.model import (
    Checkpoint,
    DeliveryResult,
    Ignored,
    InputProblem,
    Notice,
    ReceivedEvent,
    Resolution,
    SourceEvent,
    State,
)
from notifier.core.policy import Decision
from notifier.core.queue import (
    HeldNotice,
    KnownCopy,
    QueuedNotice,
    QueueSnapshot,
    WaitingNotice,
)
from notifier.core.report import Report
from notifier.core.roles import InstanceView


class Source(Protocol):
    """Turns raw input into source events. Never sends, never renders."""

    name: str

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        """Yield what is new since the last committed checkpoints."""
        ...

    def committed(self) -> None:
        """Everything the last poll yielded is committed (an IMAP source may now flag/move)."""
        ...

    def watch(self, wake: threading.Event) -> None:
        """Start watching for new input between passes, setting ``wake`` when some arrives."""
        ...

    def close(self) -> None:
        """Release connections and stop watching."""
        ...


class SendSession(Protocol):
    def send(self, notice: Notice) -> DeliveryResult: ...


class Sender(Protocol):
    """Owns the mail transport. A session may reuse one connection for many notices."""

    def session(
        self, stop: threading.Event | None = None
    ) -> contextlib.AbstractContextManager[SendSession]:
        """Once ``stop`` is set, ``send`` starts no new command and raises SendInterrupted for
        a message it did not hand over; the answer in flight is still awaited."""
        ...


class Roles(Protocol):
    """What this instance may do now, among the instances sharing one state.

    Any instance delivers; each polled source is read by one instance at a time, the one
    holding its lease. An instance that cannot renew its leases stops both before they expire.
    """

    shared: bool  # other instances may be working on the same state

    def may_read(self, source: str) -> bool: ...

    def may_send(self) -> bool: ...


# -- the store -------------------------------------------------------------------------------------


class SourceState(Protocol):
    """What a source reads back from the store: its committed checkpoints."""

    def checkpoint(self, source: str, key: str) -> str | None:
        """A source's last committed progress mark for ``key`` (see ``model.Checkpoint``)."""
        ...


class Checkpoints(SourceState, Protocol):
    """Progress marks of the sources, committed with what they yielded."""

    def save_checkpoint(self, mark: Checkpoint, now: datetime) -> None: ...

    def holds_lease(self, source: str) -> bool:
        """Inside a transaction: whether this instance still holds ``source``'s lease, and
        keeps it until the commit (another instance taking it over waits for the commit).
        Always true on a state one instance has to itself."""
        ...

    def source_checkpoints(self, source: str) -> dict[str, str]:
        """Every committed checkpoint of ``source``: key -> value."""
        ...

    def forget_checkpoints(self, source: str, keys: Sequence[str]) -> None:
        """Drop these checkpoints of ``source``: its next pass reads that input again."""
        ...


class NoticeQueue(Protocol):
    """One notice per resolution key: queued, claimed, sent, deferred, failed or cancelled.

    Every state change writes its audit row in the same transaction.
    """

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One atomic unit of state changes and their audit rows; safe to use from threads."""
        ...

    def together(self, work: Callable[[], None]) -> None:
        """Run ``work`` in one transaction with the work other threads hand in meanwhile."""
        ...

    def add(
        self,
        resolution: Resolution,
        *,
        team: str,
        state: State,
        reason: str,
        now: datetime,
        notice: Notice | None = None,
        findings: str = "",
        due_at: datetime | None = None,
        explain: str = "",
    ) -> bool:
        """Record a newly seen resolution; False (and nothing written) if its key is known."""
        ...

    def reject(self, problem: InputProblem, now: datetime, *, team: str = "") -> None:
        """Record input that could not be used."""
        ...

    def ignore(self, item: Ignored, now: datetime) -> None:
        """Record input that is deliberately not a resolution (auto-reply, bounce, update...)."""
        ...

    def known(self, key: str) -> KnownCopy | None:
        """The resolution already recorded under ``key``; None when it is new."""
        ...

    def known_for_ticket(self, sources: Sequence[str], ticket_id: str) -> list[KnownCopy]:
        """The resolutions of ``ticket_id`` recorded from any of ``sources``."""
        ...

    def waiting_tickets(self, source: str) -> set[str]:
        """Tickets of ``source`` with a notice not yet attempted (queued, or held for review)."""
        ...

    def waiting_notices(self, source: str, ticket_id: str) -> list[WaitingNotice]:
        """A ticket's notices not yet attempted (queued or held), oldest first."""
        ...

    def cancel_waiting(
        self,
        source: str,
        ticket_id: str,
        now: datetime,
        reason: str,
        *,
        keep: str = "",
        resolved_before: datetime | None = None,
    ) -> list[str]:
        """Cancel a ticket's notices not yet attempted, except ``keep``; their keys."""
        ...

    def cancel_notices(self, keys: Sequence[str], now: datetime, reason: str) -> list[str]:
        """Cancel these notices if they are still not attempted (queued or held)."""
        ...

    def sent_to_since_many(
        self, requesters: Sequence[str], moment: datetime, *, until: datetime
    ) -> dict[str, tuple[int, datetime | None]]:
        """Per requester: notices sent from ``moment`` to ``until``, and the oldest."""
        ...

    def postpone(
        self, claimed: list[QueuedNotice], until: datetime, now: datetime, reason: str
    ) -> None:
        """Put claimed notices back unattempted, due at ``until`` (recorded as deferred)."""
        ...

    def resolutions(self, keys: list[str]) -> dict[str, Resolution]: ...

    def recover_interrupted(self, now: datetime) -> int:
        """Put back notices left ``sending`` by a crash; they go out again with the same ID."""
        ...

    def claim_due(
        self, now: datetime, limit: int, *, retry_horizon: datetime | None = None
    ) -> list[QueuedNotice]:
        """Mark up to ``limit`` due notices ``sending`` (committed before any is sent)."""
        ...

    def unclaim(self, resolution_keys: list[str]) -> None:
        """Hand back claimed notices that were not attempted (the daemon is stopping)."""
        ...

    def record_attempt(
        self,
        claimed: QueuedNotice,
        result: DeliveryResult,
        decision: Decision,
        now: datetime,
        *,
        digest: Notice | None = None,
    ) -> None:
        """Store how one send attempt ended, with its audit row, in one transaction."""
        ...

    def attempts_since(self, moment: datetime, *, until: datetime) -> int:
        """Send attempts from ``moment`` to ``until`` (the per-minute rate limit)."""
        ...

    def oldest_attempt_since(self, moment: datetime, *, until: datetime) -> datetime | None: ...

    def next_due_at(self) -> datetime | None: ...


class HeldNotices(Protocol):
    """Notices the plain-language gate held for a person's review."""

    def held(self) -> list[HeldNotice]:
        """Notices waiting for review, oldest first."""
        ...

    def held_notice(self, key: str) -> HeldNotice:
        """One held notice, with its words; StateError when no notice with ``key`` is held."""
        ...

    def edit(
        self, key: str, now: datetime, *, subject: str, text: str, findings: str, note: str
    ) -> None:
        """Replace a held notice's words with a reviewer's (it stays held until released)."""
        ...

    def held_content(self, key: str) -> tuple[bool, Resolution | None]:
        """Whether a held notice has rendered words stored, and its resolution."""
        ...

    def release(self, key: str, now: datetime, *, note: str, notice: Notice | None = None) -> None:
        """Queue a held notice after review (with freshly rendered words when given)."""
        ...

    def cancel(self, key: str, now: datetime, *, note: str) -> None:
        """Drop a held notice after review; it is never sent."""
        ...


class AuditTrail(Protocol):
    """The hash-chained record of every decision, and the questions people ask of it."""

    def audit_records(self, wanted: AuditQuery) -> list[AuditRecord]: ...

    def apply_retention(self, cutoff: datetime, now: datetime) -> Retention:
        """Drop requester addresses and message words recorded before ``cutoff``."""
        ...

    def verify(self) -> Verification:
        """Check the whole chain (``notifier audit verify``)."""
        ...

    def find_notices(self, key: str) -> list[str]:
        """Resolution keys of the notices ``key`` names: a resolution key or a ticket id."""
        ...

    def notice_view(self, key: str) -> NoticeView | None:
        """One notice with its audit rows, for ``notifier audit show``."""
        ...

    def explain_record(self, key: str) -> dict[str, object]:
        """Everything stored about one resolution, for ``notifier explain``."""
        ...

    def report(
        self, *, since: datetime | None, until: datetime | None, team: str | None, now: datetime
    ) -> Report:
        """What was told, held, failed and never told per team (``notifier report``)."""
        ...


class WebhookInbox(Protocol):
    """Webhook events committed as they arrive (the sender's 2xx waits for that), kept until
    their source has read them. An event id is received once per source: a retry or a replay
    of it is recognised, not received again."""

    def receive(self, source: str, event_id: str, received_at: datetime, body: str) -> bool:
        """Commit one event; False when ``source`` received ``event_id`` before.

        Safe to call from the HTTP server's threads; returns once the event is committed,
        and raises StateError when it could not be.
        """
        ...

    def received_after(self, source: str, after: int, limit: int) -> list[ReceivedEvent]:
        """``source``'s events numbered above ``after``, oldest first, at most ``limit``."""
        ...


class StateStore(NoticeQueue, Checkpoints, HeldNotices, AuditTrail, WebhookInbox, Protocol):
    """The whole state of one notifier: what the service and the commands hold open."""

    where: str  # where it lives, for messages (a file, or a database's address)
    instance: str  # this process's name in the claims it makes and the leases it holds

    def close(self) -> None: ...

    def __enter__(self) -> StateStore: ...

    def __exit__(self, *_: object) -> None: ...


class StateQueries(Protocol):
    """Read-only questions for ``notifier status`` and the metrics; never writes or locks."""

    def queue(self, now: datetime, recent: timedelta = ...) -> QueueSnapshot: ...

    def last_audit_id(self) -> int: ...

    def instances(self) -> list[InstanceView]:
        """The instances sharing this state and their leases (none for a state of one's own)."""
        ...

    def audit_counts_since(self, after_id: int) -> tuple[dict[tuple[str, str, str], int], int]:
        """Audit rows after ``after_id`` counted per (source, team, outcome); the new last id."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> StateQueries: ...

    def __exit__(self, *_: object) -> None: ...
