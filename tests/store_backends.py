"""The state store on each backend, for the store's contract tests: the same test runs on
SQLite (a state directory) and on PostgreSQL (a fresh database on a real server).

``StoreBackend.open()`` opens the same state again each time, as a restart would.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from notifier.core.audit import Verification
from notifier.store.postgres.database import PostgresDatabase
from notifier.store.postgres.store import PostgresStore
from notifier.store.sql import audit
from notifier.store.sql.store import SqlStore
from notifier.store.sqlite.database import SqliteDatabase
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.paths import DATABASE_NAME
from notifier.store.sqlite.schema import MIGRATIONS
from tests.postgres import PostgresServer

BACKENDS = ("sqlite", "postgres")


@dataclass
class StoreBackend:
    name: str
    directory: Path  # the SQLite state directory
    url: str = ""  # the PostgreSQL database
    opened: list[SqlStore] = field(default_factory=list)

    def open(self) -> SqlStore:
        store: SqlStore
        if self.name == "sqlite":
            store = Outbox.open(self.directory)
        else:
            store = PostgresStore.open(self.url, "test-database")
        self.opened.append(store)
        return store

    def raw(self) -> RawAccess:
        """A plain connection to this state, as someone with database access has."""
        return RawAccess(self)

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


def new_database(server: PostgresServer, *, with_password: bool = True) -> str:
    """The URL of a new, empty database on ``server`` (``PostgresServer.url_for``)."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server.url_for("postgres"), autocommit=True, connect_timeout=10) as db:
        db.execute(f"CREATE DATABASE {name}")
    return server.url_for(name, with_password=with_password)


def config_lines(server: PostgresServer, directory: Path, password: str | None = None) -> str:
    """``[state]`` lines for a new database on ``server``, as an operator writes them: its URL
    without the password, and the password (``password``, or the right one) in a file."""
    secret = directory / "db-password"
    secret.write_text((server.password if password is None else password) + "\n", "utf-8")
    return f'url = "{new_database(server, with_password=False)}"\npassword_file = "{secret}"'


def backend(name: str, tmp_path: Path, server: PostgresServer | None) -> Iterator[StoreBackend]:
    found = StoreBackend(name, tmp_path, new_database(server) if server is not None else "")
    try:
        yield found
    finally:
        found.close_all()


class RawAccess:
    """What someone with access to the database has: a plain connection, no notifier.

    ``execute`` takes the shared SQL's ``?`` placeholders on both backends; ``refused`` is the
    error a guard (trigger) raises.
    """

    def __init__(self, found: StoreBackend) -> None:
        self.backend = found
        self.refused: type[Exception]
        if found.name == "sqlite":
            self._sqlite = sqlite3.connect(found.directory / DATABASE_NAME, isolation_level=None)
            self.refused = sqlite3.IntegrityError
        else:
            self._postgres = psycopg.connect(found.url, autocommit=True, connect_timeout=10)
            self.refused = psycopg.errors.RaiseException

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Any:
        if self.backend.name == "sqlite":
            return self._sqlite.execute(sql, parameters)
        if parameters:
            sql = sql.replace("?", "%s")
        return self._postgres.execute(sql.encode() if not parameters else sql, parameters or None)

    def drop_guard(self, name: str) -> None:
        self.execute(
            f"DROP TRIGGER {name}" + (" ON audit" if self.backend.name != "sqlite" else "")
        )

    def verify(self) -> Verification:
        if self.backend.name == "sqlite":
            return audit.verify(SqliteDatabase(self._sqlite))
        database = PostgresDatabase(self.backend.url, "test-database")
        try:
            return audit.verify(database)
        finally:
            database.close()

    def close(self) -> None:
        if self.backend.name == "sqlite":
            self._sqlite.close()
        else:
            self._postgres.close()

    def __enter__(self) -> RawAccess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def state_from_before_the_chain(directory: Path, rows: int = 3) -> None:
    """A SQLite state as schema version 3 left it: ``rows`` rejected-input audit rows with no
    hashes (the chain came in version 4)."""
    connection = sqlite3.connect(directory / DATABASE_NAME, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        for statement in script.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {number}")
    for n in range(rows):
        connection.execute(
            "INSERT INTO audit (at, outcome, source, origin, reason, requester) "
            "VALUES (?, 'rejected', 'desk', ?, 'bad row', 'x@example.org')",
            (f"2026-10-0{n + 1}T00:00:00.000000Z", f"old.csv:{n}"),
        )
    connection.close()
