"""The PostgreSQL store: the shared SQL store on a database several instances share
(``[state] url``). See docs/high-availability.md."""

from __future__ import annotations

from notifier.core.errors import StateError
from notifier.store.postgres.database import PostgresDatabase
from notifier.store.postgres.schema import migrate
from notifier.store.sql.store import SqlStore


class PostgresStore(SqlStore):
    """The state of one or more notifier instances in one PostgreSQL database."""

    @classmethod
    def open(cls, conninfo: str, where: str, *, password: str | None = None) -> PostgresStore:
        """Connect and migrate as needed. ``where`` names the database in messages (the URL
        without its password); ``password`` is the one read from a file or credential."""
        database = PostgresDatabase(conninfo, where, password=password)
        try:
            migrate(database)
        except StateError as exc:
            database.close()
            error = database.reword(exc, "cannot open the state database")
            raise error from error.__cause__
        return cls(database)
