"""Webhook events as received: committed before the sender gets its 2xx, read by their source
in the service's pass (its checkpoint, ``INBOX_CHECKPOINT``, is the last event it read).

Receipt runs in the HTTP server's threads; several requests arriving together share one
commit (``Ledger.together``), so a burst costs one fsync, not one per event. An event id is
kept for ``KEEP_EVENTS`` after its source read it: a retry or replay in that time is known.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from notifier.core.clock import from_stamp, to_stamp
from notifier.core.model import INBOX_CHECKPOINT, ReceivedEvent
from notifier.store.sql.database import Database
from notifier.store.sql.ledger import Held, Ledger

# How long a read event's id stays known (a replay of it within this time is refused as one).
KEEP_EVENTS = timedelta(days=7)
# How often receipt also forgets the events read more than KEEP_EVENTS ago.
_FORGET_EVERY = timedelta(hours=1)


class WebhookEvents(Ledger):
    """The store's webhook inbox (``notifier.core.ports.WebhookInbox``)."""

    def __init__(self, database: Database, lock: Held | None = None) -> None:
        super().__init__(database, lock)
        self._forgotten_at: dict[str, datetime] = {}  # per source: when read events were dropped
        self._forget_lock = threading.Lock()

    def receive(self, source: str, event_id: str, received_at: datetime, body: str) -> bool:
        inserted = False
        forget = self._due_to_forget(source, received_at)

        def work() -> None:
            nonlocal inserted
            cursor = self._db.execute(
                "INSERT INTO webhook_events (source, event_id, received_at, body) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING",
                (source, event_id, to_stamp(received_at), body),
            )
            inserted = cursor.rowcount == 1
            if inserted:  # the lease holder may be another instance
                self.wake_others_at_commit()
            if forget:
                self._forget_read(source, received_at - KEEP_EVENTS)

        # An audited transaction, though it appends no audit row: on a shared database it
        # holds the chain's head, so receipts by all instances commit one at a time and event
        # numbers become visible in order; the reader's ``id > checkpoint`` relies on that.
        self.together(work)
        return inserted

    def received_after(self, source: str, after: int, limit: int) -> list[ReceivedEvent]:
        # Under the writer's lock: the connection is shared with the receiving threads, and
        # a read in the middle of one's transaction would see its event before the commit.
        with self._writer:
            rows = self._db.execute(
                "SELECT id, event_id, received_at, body FROM webhook_events "
                "WHERE source = ? AND id > ? ORDER BY id LIMIT ?",
                (source, after, limit),
            ).fetchall()
        return [
            ReceivedEvent(int(number), source, str(event_id), from_stamp(str(at)), str(body))
            for number, event_id, at, body in rows
        ]

    def _due_to_forget(self, source: str, now: datetime) -> bool:
        with self._forget_lock:
            last = self._forgotten_at.get(source)
            if last is not None and now - last < _FORGET_EVERY:
                return False
            self._forgotten_at[source] = now
            return True

    def _forget_read(self, source: str, before: datetime) -> None:
        """Drop ``source``'s events received before ``before`` that its source has read."""
        self._db.execute(
            "DELETE FROM webhook_events WHERE source = ? AND received_at < ? AND id <= "
            "COALESCE((SELECT CAST(value AS BIGINT) FROM source_state "
            "WHERE source = ? AND key = ?), 0)",
            (source, to_stamp(before), source, INBOX_CHECKPOINT),
        )
