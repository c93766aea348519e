"""The SQLite state database as the shared SQL store's :class:`Database`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from notifier.core.errors import StateError
from notifier.store.sql.database import Rows
from notifier.store.sqlite import connection as statedb


class SqliteDatabase:
    """One WAL connection, shared by the store's threads under its writer lock.

    ``BEGIN IMMEDIATE`` takes SQLite's one write lock, so a transaction that appends to the
    audit chain has it to itself; claims need nothing more (there is one writer).
    """

    claim_lock = ""
    orphaned_claim = "1 = 1"  # one instance per state directory: any other claim is a crash's
    lease_held = ""  # the state directory's lock keeps other writers out
    wake_others = ""

    def __init__(self, connection: sqlite3.Connection, path: Path = Path()) -> None:
        # A StateConnection raises StateError for every failure; a plain one (a test's, or a
        # read-only one) raises sqlite3's own errors.
        self.connection = connection
        self.path = path
        self.where = str(path)

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows:
        return self.connection.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> Rows:
        return self.connection.executemany(sql, parameters)

    def begin(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def begin_unaudited(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        self.connection.execute("ROLLBACK")

    def close(self) -> None:
        self.connection.close()

    def reword(self, exc: StateError, doing: str) -> StateError:
        return statedb.reword(exc, self.path, doing)

    def same_address(self, left: str, right: str) -> str:
        return f"{left} = {right} COLLATE NOCASE"

    def audit_sequence(self) -> int:
        row = self.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        return int(row[0]) if row else 0

    def chain_head(self) -> tuple[int, str] | None:
        row = self.execute("SELECT id, row_hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def audit_appended(self, row_id: int, row_hash: str) -> None:
        """Nothing to do: an explicit id above ``sqlite_sequence`` moves it (AUTOINCREMENT)."""

    def identities_follow(self, tables: Sequence[str]) -> None:
        """Nothing to do: AUTOINCREMENT follows the highest id inserted."""

    def audit_guards(self) -> set[str]:
        return {
            str(name)
            for (name,) in self.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"
            )
        }
