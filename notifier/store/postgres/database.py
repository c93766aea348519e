"""A PostgreSQL connection as the shared SQL store's :class:`Database` (psycopg 3).

The connection is in autocommit mode and the store begins and commits its transactions
itself, so nothing stays open between them ("idle in transaction" holds locks and old rows).
A connection the server dropped (a restart, a failover, a cut network) is replaced on the next
transaction; the one in progress fails with a :class:`StateError` the service already knows
how to wait out. Every wait has a deadline: the connect, each statement, a lock, a transaction
left idle, and TCP itself (keepalives and ``tcp_user_timeout``), so a partition ends a query
within seconds rather than at the kernel's retransmission limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors, sql

from notifier.core.errors import StateError
from notifier.store.sql.database import Rows

# The lock that serialises appends to the audit chain: the head row, locked by every write
# transaction before it changes anything (see ``begin``).
_LOCK_HEAD = "BEGIN; SELECT last_id, last_hash FROM audit_head FOR UPDATE"

# The channel the instances wake each other on (``wakeups.py``).
CHANNEL = "notifier_wake"

# Server-side limits, in milliseconds (see the module docstring).
DEFAULT_OPTIONS: Mapping[str, str] = {
    "statement_timeout": "60000",
    "lock_timeout": "30000",
    # No transaction of notifier's waits on anything but the database: one left idle is an
    # instance that stopped or lost its network, and it holds the chain's head; end it soon.
    "idle_in_transaction_session_timeout": "5000",
}
# libpq connection parameters: seconds, except tcp_user_timeout (milliseconds).
DEFAULT_CONNECT: Mapping[str, str | int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30000,
    "application_name": "notifier",
}


def describe(where: str, exc: psycopg.Error, doing: str = "") -> str:
    """One line: the database, what failed, PostgreSQL's words and, where known, what to do."""
    what = f"{where}: {doing + ': ' if doing else ''}"
    diag = getattr(exc, "diag", None)
    words = (diag.message_primary if diag is not None else None) or str(exc).strip()
    words = " ".join(words.split())
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, errors.QueryCanceled):
        return (
            f"{what}{words}; is PostgreSQL running and reachable? notifier retries "
            "(docs/high-availability.md)"
        )
    if isinstance(exc, errors.InsufficientPrivilege):
        return f"{what}{words}; grant the notifier role the rights docs/high-availability.md lists"
    return f"{what}{words}"


def state_error(where: str, exc: psycopg.Error, doing: str = "") -> StateError:
    error = StateError(describe(where, exc, doing))
    error.__cause__ = exc
    return error


def connect(conninfo: str, where: str, *, password: str | None = None) -> psycopg.Connection[Any]:
    """A new autocommit connection with notifier's deadlines; StateError when it cannot be made."""
    options = " ".join(f"-c {name}={value}" for name, value in DEFAULT_OPTIONS.items())
    given = psycopg.conninfo.conninfo_to_dict(conninfo)
    extra: dict[str, Any] = {k: v for k, v in DEFAULT_CONNECT.items() if k not in given}
    if "options" not in given:
        extra["options"] = options
    if password is not None:
        extra["password"] = password
    try:
        return psycopg.connect(conninfo, autocommit=True, **extra)
    except psycopg.Error as exc:
        raise state_error(where, exc, "cannot connect") from exc


def _placeholders(sql: str) -> str:
    """The shared SQL's ``?`` as psycopg's ``%s`` (a query with parameters has no ``?`` in a
    literal); a query without parameters runs as written."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresDatabase:
    """One connection to the shared state, replaced when the server dropped it."""

    claim_lock = " FOR UPDATE SKIP LOCKED"
    orphaned_claim = (
        "NOT EXISTS (SELECT 1 FROM instances WHERE instances.id = notices.claimed_by "
        "AND instances.expires_at > now())"
    )
    # FOR SHARE: an instance taking the lease over (``Membership.take``) waits for this commit.
    lease_held = "SELECT 1 FROM leases WHERE name = ? AND holder = ? FOR SHARE"
    wake_others = f"NOTIFY {CHANNEL}"  # delivered at COMMIT (wakeups.py listens)

    def __init__(self, conninfo: str, where: str, *, password: str | None = None) -> None:
        self.where = where
        self._conninfo = conninfo
        self._password = password
        self._sql: dict[str, str] = {}
        self._in_transaction = False
        # The chain's head as locked by begin() and moved by this transaction's appends;
        # written back to audit_head once, at commit.
        self._head: tuple[int, str] | None = None
        self._head_moved = False
        self._connection = connect(conninfo, where, password=password)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._connection

    def _fresh(self) -> psycopg.Connection[Any]:
        """The connection, replaced first when it was lost (never in a transaction: what the
        transaction did so far is gone with the old one, and it fails)."""
        if not self._in_transaction and (self._connection.broken or self._connection.closed):
            self._connection.close()
            self._connection = connect(self._conninfo, self.where, password=self._password)
        return self._connection

    def _text(self, sql: str) -> str:
        found = self._sql.get(sql)
        if found is None:
            found = self._sql[sql] = _placeholders(sql)
        return found

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows:
        try:
            if not parameters:  # the simple protocol: a script of several statements runs
                return self._fresh().execute(sql.encode())
            return self._fresh().execute(self._text(sql), tuple(parameters))
        except psycopg.Error as exc:
            raise state_error(self.where, exc) from exc

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> Rows:
        cursor = self._fresh().cursor()
        try:
            cursor.executemany(self._text(sql), [tuple(p) for p in parameters])
        except psycopg.Error as exc:
            raise state_error(self.where, exc) from exc
        return cursor

    def begin(self) -> None:
        """BEGIN and lock the chain's head in one round trip (the simple protocol)."""
        self._fresh()  # a connection lost since the last transaction is replaced first
        self._in_transaction = True
        try:
            try:
                rows = self._connection.execute(_LOCK_HEAD.encode())
                rows.nextset()  # past BEGIN's empty result, to the head
                head = rows.fetchone()
            except psycopg.Error as exc:
                raise state_error(self.where, exc) from exc
        except BaseException:
            with contextlib.suppress(StateError):
                self.rollback()
            raise
        if head is None:
            raise StateError(f"{self.where}: audit_head is empty: the schema was changed by hand")
        self._head, self._head_moved = (int(head[0]), str(head[1])), False

    def begin_unaudited(self) -> None:
        self.execute("BEGIN")
        self._in_transaction = True
        self._head, self._head_moved = None, False

    def commit(self) -> None:
        try:
            if self._head_moved and self._head is not None:
                # The head's move and COMMIT in one round trip (the simple protocol takes
                # no parameters: the values go in as literals). The head stays locked for
                # every round trip of the transaction, so each one saved is time the other
                # instances do not wait (bench/ha_throughput.py's profile).
                self.execute(
                    sql.SQL("UPDATE audit_head SET last_id = {}, last_hash = {}; COMMIT")
                    .format(sql.Literal(self._head[0]), sql.Literal(self._head[1]))
                    .as_string(self._connection)
                )
            else:
                self.execute("COMMIT")
        finally:
            self._in_transaction = False
            self._head, self._head_moved = None, False

    def rollback(self) -> None:
        self._in_transaction = False
        self._head, self._head_moved = None, False
        if not self._connection.broken:
            self.execute("ROLLBACK")

    def close(self) -> None:
        self._connection.close()

    def reword(self, exc: StateError, doing: str) -> StateError:
        cause = exc.__cause__
        return state_error(self.where, cause, doing) if isinstance(cause, psycopg.Error) else exc

    def same_address(self, left: str, right: str) -> str:
        return f"lower({left}) = lower({right})"

    def audit_sequence(self) -> int:
        if self._head is not None:
            return self._head[0]
        row = self.execute("SELECT last_id FROM audit_head").fetchone()
        return int(row[0]) if row else 0

    def chain_head(self) -> tuple[int, str] | None:
        if self._head is None:  # not locked: read it (verify, a copy's source)
            row = self.execute("SELECT last_id, last_hash FROM audit_head").fetchone()
            head = (int(row[0]), str(row[1])) if row else (0, "")
        else:
            head = self._head
        return None if head[0] == 0 else head

    def audit_appended(self, row_id: int, row_hash: str) -> None:
        if self._head is None:
            raise StateError(f"{self.where}: an audit row outside a transaction begun to append")
        if row_id > self._head[0]:
            self._head, self._head_moved = (row_id, row_hash), True

    def identities_follow(self, tables: Sequence[str]) -> None:
        for table in tables:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table}"
            )

    def audit_guards(self) -> set[str]:
        return {
            str(name)
            for (name,) in self.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit'::regclass "
                "AND NOT tgisinternal AND tgenabled != 'D'"
            )
        }
