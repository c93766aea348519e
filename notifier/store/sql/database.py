"""What the shared SQL store needs from a database: one connection, its transactions, and the
few things SQLite and PostgreSQL say differently.

The queries in ``store/sql`` are written once, with ``?`` placeholders, in the SQL both
databases understand; each backend (``store/sqlite``, ``store/postgres``) wraps its connection
in a :class:`Database` that translates what differs and raises :class:`StateError` (naming the
database and what to do) for every failure, never the driver's own exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from notifier.core.errors import StateError


class Rows(Protocol):
    """A query's result, as both drivers' cursors give it."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """One connection to the state, used under the store's writer lock."""

    where: str  # where the state lives, for messages (a file, or a database's address)
    # Appended to the claim's SELECT: a row another instance claims is skipped, not waited for.
    claim_lock: str
    # SQL true for a notice (``notices.claimed_by``) whose claiming instance has stopped.
    orphaned_claim: str
    # A row while the instance (2nd ?) holds the lease of a source (1st ?), locked until the
    # transaction ends; "" where one instance has the state to itself (nothing to check).
    lease_held: str
    # A statement that wakes the other instances when the transaction commits (a webhook
    # event for the lease holder to read, notices to send); "" where there are no others.
    wake_others: str

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> Rows: ...

    def begin(self) -> None:
        """Start a write transaction; no other writer appends to the audit chain until it ends."""
        ...

    def begin_unaudited(self) -> None:
        """Start a transaction that appends no audit row (it claims, or hands claims back)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def reword(self, exc: StateError, doing: str) -> StateError:
        """``exc`` from a query, described as part of ``doing`` ("cannot write ...")."""
        ...

    def same_address(self, left: str, right: str) -> str:
        """SQL comparing two mail addresses case-insensitively."""
        ...

    def audit_sequence(self) -> int:
        """The highest audit row id ever handed out (rows deleted from the end still count)."""
        ...

    def chain_head(self) -> tuple[int, str] | None:
        """The id and row_hash of the chain's last row (None while it is empty), in the
        transaction that appends after it."""
        ...

    def audit_appended(self, row_id: int, row_hash: str) -> None:
        """Row ``row_id`` with ``row_hash`` was appended to the chain in this transaction."""
        ...

    def identities_follow(self, tables: Sequence[str]) -> None:
        """After rows were copied in with their ids: new rows of ``tables`` get higher ones."""
        ...

    def audit_guards(self) -> set[str]:
        """The names of the append-only guards (triggers) on the audit table."""
        ...


def column_names(rows: Rows) -> list[str]:
    return [str(column[0]) for column in rows.description or ()]
