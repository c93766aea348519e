"""Read-only questions about the SQLite state, on a connection of its own opened ``mode=ro``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from notifier.core.errors import StateError
from notifier.store.sql.queries import StateQuestions
from notifier.store.sqlite.paths import DATABASE_NAME


class StateReader(StateQuestions):
    """The state database in ``directory``, opened ``mode=ro`` on the first question: it never
    migrates, never writes, never takes the daemon's lock."""

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

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the state database: {exc}") from exc
