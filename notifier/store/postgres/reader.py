"""Read-only questions about the PostgreSQL state, on a connection of their own."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from notifier.core.roles import InstanceView
from notifier.store.postgres import leases
from notifier.store.postgres.database import PostgresDatabase
from notifier.store.sql.queries import StateQuestions


class PostgresReader(StateQuestions):
    """Connects on the first question, in a read-only session; never migrates or locks."""

    def __init__(self, conninfo: str, where: str, *, password: str | None = None) -> None:
        self.where = where
        self._conninfo = conninfo
        self._password = password
        self._db: PostgresDatabase | None = None

    def _database(self) -> PostgresDatabase:
        if self._db is None:
            self._db = PostgresDatabase(self._conninfo, self.where, password=self._password)
            self._db.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        return self._db

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        return list(self._database().execute(sql, tuple(params)).fetchall())

    def instances(self) -> list[InstanceView]:
        return leases.instances(self._database())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
