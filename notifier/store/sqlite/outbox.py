"""The SQLite store: the shared SQL store on one WAL file in the state directory, locked for
one daemon. The embedded default (``[state] directory``)."""

from __future__ import annotations

from pathlib import Path

from notifier.core.errors import StateError
from notifier.store.sql.store import SqlStore
from notifier.store.sqlite import connection as statedb
from notifier.store.sqlite.database import SqliteDatabase
from notifier.store.sqlite.lock import StateLock
from notifier.store.sqlite.paths import DATABASE_NAME
from notifier.store.sqlite.schema import migrate


class Outbox(SqlStore):
    """The state of one notifier in ``directory/notifier.sqlite3``. Build it with :meth:`open`;
    nothing touches the disk before."""

    @classmethod
    def open(cls, directory: Path, *, exclusive: bool = True) -> Outbox:
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
            # Shared by the delivery threads; Ledger.transaction serialises its use.
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
            migrate(connection, path)
        except StateError as exc:
            connection.close()
            if lock is not None:
                lock.close()
            error = statedb.reword(exc, path, "cannot open the state database")
            raise error from error.__cause__
        return cls(SqliteDatabase(connection, path), lock)
