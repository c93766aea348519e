"""Connections to the state database whose every failure is a :class:`StateError`.

SQLite reports a damaged page only when a query reads it, which may be any query, inside a
transaction or not, and while rows are being fetched. Instead of a ``try`` around each of them,
the connections notifier opens translate at the boundary: ``execute``, ``executemany`` and
every fetch raise ``StateError`` naming the file and saying what to do, never a bare
``sqlite3.Error`` that would end the daemon with a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from notifier.core.errors import StateError

# Primary result codes (the low byte of an extended code), https://sqlite.org/rescode.html
_PERM, _READONLY, _CORRUPT, _CANTOPEN, _FULL, _NOTADB = 3, 8, 11, 14, 13, 26


def describe(path: Path, exc: sqlite3.Error, doing: str = "") -> str:
    """One line: the file, what failed, SQLite's words and, where known, what to do."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    what = f"{path}: {doing + ': ' if doing else ''}"
    text = f"{what}{exc}"
    if code in (_CORRUPT, _NOTADB):
        return (
            f"{what}the state database is damaged ({exc}); stop notifier and restore the file "
            "from a backup (docs/operations.md, 'The state database is damaged')"
        )
    if code == _FULL:
        return f"{text}; free space on its file system"
    if code in (_PERM, _READONLY, _CANTOPEN):
        return f"{text}; notifier must be able to write in {path.parent}"
    return text


def state_error(path: Path, exc: sqlite3.Error, doing: str = "") -> StateError:
    error = StateError(describe(path, exc, doing))
    error.__cause__ = exc
    return error


def reword(exc: StateError, path: Path, doing: str) -> StateError:
    """``exc`` from a query, described as part of ``doing`` (for example "cannot write")."""
    cause = exc.__cause__
    return state_error(path, cause, doing) if isinstance(cause, sqlite3.Error) else exc


class StateCursor(sqlite3.Cursor):
    """A cursor whose fetches raise StateError (see the module docstring)."""

    path: Path = Path()

    def execute(self, sql: str, parameters: Any = (), /) -> StateCursor:
        try:
            super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from exc
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> StateCursor:
        try:
            super().executemany(sql, seq_of_parameters)
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from exc
        return self

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from exc

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size if size is not None else self.arraysize)
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from exc


class StateConnection(sqlite3.Connection):
    """A connection whose queries give :class:`StateCursor` (see the module docstring)."""

    path: Path = Path()

    def _cursor(self) -> StateCursor:
        cursor = self.cursor(StateCursor)
        cursor.path = self.path
        return cursor

    def execute(self, sql: str, parameters: Any = (), /) -> StateCursor:
        return self._cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> StateCursor:
        return self._cursor().executemany(sql, seq_of_parameters)


def connect(path: Path, **options: Any) -> StateConnection:
    """``sqlite3.connect`` for the state database at ``path``, giving a StateConnection."""
    try:
        connection: StateConnection = sqlite3.connect(path, factory=StateConnection, **options)
    except sqlite3.Error as exc:
        raise state_error(path, exc, "cannot open the state database") from exc
    connection.path = path
    return connection
