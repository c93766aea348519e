"""The SQLite store's ground floor: the connection, its lock, transactions and audit rows.

Every state change runs in :meth:`Ledger.transaction` and writes its audit row there; the rows
are mirrored to the log only after the commit succeeded, so the log never claims what the
database does not hold. The outbox's parts (``outbox``, ``held``, ``trail``) build on it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Self

from notifier.core.audit import AuditRecord
from notifier.core.errors import StateError
from notifier.store.mirror import emit_committed
from notifier.store.sqlite import audit
from notifier.store.sqlite import connection as statedb
from notifier.store.sqlite.lock import StateLock
from notifier.store.sqlite.paths import DATABASE_NAME
from notifier.store.sqlite.schema import _migrate


class Ledger:
    """The store's connection. Build it with :meth:`open`; nothing touches the disk before."""

    def __init__(self, connection: sqlite3.Connection, path: Path, lock: StateLock | None) -> None:
        self._db = connection
        self.path = path
        self._lock = lock
        self._pending: list[AuditRecord] = []
        self._in_transaction = False
        # Delivery threads record their results here at the same time (see Service): one
        # transaction at a time, and a thread's nested transaction joins its own only.
        self._writer = threading.RLock()
        self._group = threading.Condition()  # see together()
        self._group_waiting: list[_GroupEntry] = []
        self._group_committing = False

    @classmethod
    def open(cls, directory: Path, *, exclusive: bool = True) -> Self:
        """Open (creating and migrating as needed) the state database in ``directory``.

        ``exclusive`` takes a lock so that two daemons never share one state directory;
        read-only commands such as ``notifier audit`` open without it.
        """
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {directory}: {exc.strerror}") from exc
        lock = StateLock(directory) if exclusive else None
        path = directory / DATABASE_NAME
        if not exclusive and not path.exists():
            raise StateError(f"{path}: no state database here yet (has notifier run?)")
        try:
            # Shared by the delivery threads; Outbox.transaction serialises its use.
            connection = statedb.connect(
                path, isolation_level=None, timeout=30, check_same_thread=False
            )
        except StateError:
            if lock is not None:
                lock.close()
            raise
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a notice marked sent must still be marked sent after a power cut.
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            _migrate(connection, path)
        except StateError as exc:
            connection.close()
            if lock is not None:
                lock.close()
            error = statedb.reword(exc, path, "cannot open the state database")
            raise error from error.__cause__
        return cls(connection, path, lock)

    def close(self) -> None:
        with self._writer:  # not in the middle of another thread's transaction
            self._db.close()
        if self._lock is not None:
            self._lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of state changes and their audit rows; safe to use from threads."""
        with self._writer:
            if self._in_transaction:
                yield
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except StateError as exc:
                error = statedb.reword(exc, self.path, "cannot start a transaction")
                raise error from error.__cause__
            self._in_transaction = True
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._pending.clear()
                with contextlib.suppress(StateError):
                    self._db.execute("ROLLBACK")
                if isinstance(exc, StateError):
                    error = statedb.reword(exc, self.path, "cannot write the state database")
                    raise error from error.__cause__
                raise
            finally:
                self._in_transaction = False
            committed, self._pending = self._pending, []
            emit_committed(committed)

    def together(self, work: Callable[[], None]) -> None:
        """Run ``work`` in one transaction with the work other threads hand in meanwhile.

        Delivery sessions record each result before they send their next message; when
        several finish at about the same time, one commit (one fsync) covers them all. Returns
        once ``work`` is committed. If the shared commit fails, each work is committed on its
        own, and only a thread whose work fails alone gets the error (a StateError).
        """
        entry = _GroupEntry(work)
        with self._group:
            self._group_waiting.append(entry)
            while self._group_committing and not entry.settled:
                self._group.wait()
            if entry.settled:
                entry.raise_failure()
                return
            # This thread commits everything waiting, its own work included.
            self._group_committing = True
            group, self._group_waiting = self._group_waiting, []
        failures = self._commit_group(group)
        with self._group:
            for member, failure in zip(group, failures, strict=True):
                member.settle(failure)
            self._group_committing = False
            self._group.notify_all()
        own = failures[group.index(entry)]
        if own is not None:
            raise own

    def _commit_group(self, group: list[_GroupEntry]) -> list[BaseException | None]:
        """Commit the group's work together; what went wrong for each member (None: committed)."""
        try:
            with self.transaction():
                for member in group:
                    member.work()
            return [None] * len(group)
        except BaseException as exc:
            if len(group) == 1:
                return [exc]
        # One member's failure must not undo the others' (their messages went out): each is
        # committed alone, and only what fails alone fails.
        return [self._commit_alone(member) for member in group]

    def _commit_alone(self, member: _GroupEntry) -> BaseException | None:
        try:
            with self.transaction():
                member.work()
        except BaseException as exc:
            return exc
        return None

    def _audit(self, record: AuditRecord) -> None:
        # Linked to the chain inside this transaction (we hold the write lock).
        self._pending.append(audit.insert(self._db, record))

    def _audit_row(
        self, row_id: int, now: datetime, outcome: str, reason: str, *, words_hash: str = ""
    ) -> None:
        row = self._db.execute(
            "SELECT resolution_key, ticket_id, source, team, requester_email, template, "
            "message_id, attempts FROM notices WHERE id = ?",
            (row_id,),
        ).fetchone()
        self._audit(
            AuditRecord(
                at=now,
                outcome=outcome,
                resolution_key=row[0],
                ticket_id=row[1],
                source=row[2],
                team=row[3],
                requester=row[4],
                template=row[5],
                message_id=row[6],
                attempt=row[7],
                reason=reason,
                words_hash=words_hash,
            )
        )

    def _audit_key(self, key: str, now: datetime, outcome: str, reason: str) -> None:
        (row_id,) = self._db.execute(
            "SELECT id FROM notices WHERE resolution_key = ?", (key,)
        ).fetchone()
        self._audit_row(row_id, now, outcome, reason)


class _GroupEntry:
    """One thread's work in a shared commit (Outbox.together), and how the commit went."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.work = work
        self.settled = False
        self._failure: BaseException | None = None

    def settle(self, failure: BaseException | None) -> None:
        self.settled = True
        self._failure = failure

    def raise_failure(self) -> None:
        """In a thread that did not run the commit: the committing thread's error, as its own."""
        if self._failure is not None:
            raise StateError(f"not recorded: {self._failure}") from self._failure
