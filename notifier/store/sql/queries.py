"""Read-only questions about the state (queue depth, the oldest waiting notice, dead letters,
audit counts for the metrics), for ``notifier status`` and the metrics, in the SQL every
backend runs. Each backend asks them on a connection of its own that never migrates, never
writes and never takes the daemon's lock, so they never compete with the store's writer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Self

from notifier.core.clock import from_stamp, stamp_or_none, to_stamp
from notifier.core.queue import WAITING_STATES, DeadLetter, OldestWaiting, QueueSnapshot
from notifier.core.roles import InstanceView


class StateQuestions(ABC):
    """``notifier.core.ports.StateQueries`` over one backend's :meth:`_query`."""

    @abstractmethod
    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        """All rows of one read-only query; StateError when the state cannot be read."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def queue(self, now: datetime, recent: timedelta = timedelta(hours=24)) -> QueueSnapshot:
        counts = {
            str(state): int(count)
            for state, count in self._query(
                "SELECT state, count(*) FROM notices GROUP BY state ORDER BY state"
            )
        }
        rows = self._query(
            "SELECT resolution_key, ticket_id, source, team, state, queued_at, attempts, "
            "next_attempt_at, last_reply FROM notices WHERE state IN (?, ?, ?) "
            "ORDER BY queued_at LIMIT 1",
            WAITING_STATES,
        )
        oldest = None
        if rows:
            key, ticket, source, team, state, queued, attempts, next_at, reply = rows[0]
            oldest = OldestWaiting(
                str(key), str(ticket), str(source), str(team), str(state),
                from_stamp(str(queued)), int(attempts), stamp_or_none(next_at), str(reply or ""),
            )  # fmt: skip
        ((recent_count,),) = self._query(
            "SELECT count(*) FROM notices WHERE state = 'failed' AND updated_at >= ?",
            (to_stamp(now - recent),),
        )
        latest = None
        rows = self._query(
            "SELECT resolution_key, ticket_id, source, team, requester_email, updated_at, reason "
            "FROM notices WHERE state = 'failed' ORDER BY updated_at DESC LIMIT 1"
        )
        if rows:
            key, ticket, source, team, requester, updated, reason = rows[0]
            latest = DeadLetter(
                str(key), str(ticket), str(source), str(team), str(requester),
                from_stamp(str(updated)), str(reason or ""),
            )  # fmt: skip
        return QueueSnapshot(
            counts=counts,
            oldest_waiting=oldest,
            dead_letters=counts.get("failed", 0),
            dead_letters_recent=int(recent_count),
            latest_dead_letter=latest,
        )

    def instances(self) -> list[InstanceView]:
        """None here: a state of one instance's own (the daemon status tells about it)."""
        return []

    def last_audit_id(self) -> int:
        ((last,),) = self._query("SELECT coalesce(max(id), 0) FROM audit")
        return int(last)

    def audit_counts_since(self, after_id: int) -> tuple[dict[tuple[str, str, str], int], int]:
        """Audit rows after ``after_id`` counted per (source, team, outcome); and the new last id."""
        counts: dict[tuple[str, str, str], int] = {}
        last = after_id
        for source, team, outcome, count, top in self._query(
            "SELECT source, team, outcome, count(*), max(id) FROM audit WHERE id > ? "
            "GROUP BY source, team, outcome",
            (after_id,),
        ):
            counts[(str(source), str(team), str(outcome))] = int(count)
            last = max(last, int(top))
        return counts, last
