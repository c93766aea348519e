"""The store's ground floor: the connection, transactions and audit rows (every backend).

Every state change runs in :meth:`Ledger.transaction` and writes its audit row there; the rows
are mirrored to the log only after the commit succeeded, so the log never claims what the
database does not hold. The outbox's parts (``outbox``, ``held``, ``trail``) build on it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol, Self

from notifier.core.audit import AuditRecord
from notifier.core.errors import StateError
from notifier.store.mirror import emit_committed
from notifier.store.sql import audit
from notifier.store.sql.database import Database


class Held(Protocol):
    """Something the store holds while open and lets go of on close (a lock, a lease)."""

    def close(self) -> None: ...


class Ledger:
    """The store's connection; each backend's ``open`` builds it."""

    def __init__(self, database: Database, lock: Held | None = None) -> None:
        self._db = database
        self.where = database.where
        # This process's name in the claims it makes and the leases it holds.
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._lock = lock
        self._pending: list[AuditRecord] = []
        self._in_transaction = False
        self._wake_others = False  # see wake_others_at_commit()
        # Delivery threads record their results here at the same time (see Service): one
        # transaction at a time, and a thread's nested transaction joins its own only.
        self._writer = threading.RLock()
        self._group = threading.Condition()  # see together()
        self._group_waiting: list[_GroupEntry] = []
        self._group_committing = False

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
    def transaction(self, *, audited: bool = True) -> Iterator[None]:
        """One atomic unit of state changes and their audit rows; safe to use from threads.

        ``audited=False``: the transaction appends no audit row (a claim, handing claims
        back), so it need not wait for the chain's other writers (``Database.begin_unaudited``).
        """
        with self._writer:
            if self._in_transaction:
                yield
                return
            try:
                self._db.begin() if audited else self._db.begin_unaudited()
            except StateError as exc:
                error = self._db.reword(exc, "cannot start a transaction")
                raise error from error.__cause__
            self._in_transaction = True
            try:
                yield
                if self._wake_others:
                    self._db.execute(self._db.wake_others)
                self._db.commit()
            except BaseException as exc:
                self._pending.clear()
                with contextlib.suppress(StateError):
                    self._db.rollback()
                if isinstance(exc, StateError):
                    error = self._db.reword(exc, "cannot write the state database")
                    raise error from error.__cause__
                raise
            finally:
                self._in_transaction = False
                self._wake_others = False
            committed, self._pending = self._pending, []
            emit_committed(committed)

    def wake_others_at_commit(self) -> None:
        """In a transaction: once it commits, wake the other instances sharing the state (a
        notice due for any of them to send, an event for the lease holder to read). Once per
        transaction, however often asked; nothing where there are no others."""
        if self._db.wake_others:
            self._wake_others = True

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
