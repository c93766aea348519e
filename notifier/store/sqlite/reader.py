"""Read-only questions about the SQLite state (queue depth, the oldest waiting notice, dead
letters, audit counts for the metrics), on a connection of its own opened ``mode=ro``: it never
migrates, never writes and never takes the daemon's lock, so ``notifier status`` and the metrics
never compete with the outbox's writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from notifier.core.clock import from_stamp, stamp_or_none, to_stamp
from notifier.core.errors import StateError
from notifier.core.queue import WAITING_STATES, DeadLetter, OldestWaiting, QueueSnapshot
from notifier.store.sqlite.paths import DATABASE_NAME


class StateReader:
    """Read-only questions about the state database, on a connection of its own.

    Opened with ``mode=ro``: it never migrates, never writes, never takes the daemon's lock.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / DATABASE_NAME
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            if not self.path.exists():
                raise StateError(f"{self.path}: no state database here yet (has notifier run?)")
            try:
                self._db = sqlite3.connect(
                    f"file:{pathname2url(str(self.path))}?mode=ro",
                    uri=True,
                    timeout=10,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise StateError(f"{self.path}: cannot open read-only: {exc}") from exc
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> StateReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the state database: {exc}") from exc

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
