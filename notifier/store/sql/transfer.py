"""Moving a whole state from one database to another (``notifier migrate-state``): every
row of every table, ids and hashes as they are, in one transaction of the target, so the
audit chain verifies there exactly as it did at the source."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from notifier.store.sql.database import Database, column_names

# Every table of the shared schema, in an order that needs nothing that is not there yet.
TABLES = ("notices", "source_state", "audit", "webhook_events")
# Rows per INSERT round trip.
_BATCH = 1000


def copy_state(source: Database, target: Database) -> Mapping[str, int]:
    """Copy every row of ``source`` to ``target`` inside the target's open transaction (begun
    with ``Database.begin``); the rows copied per table. The target must be empty."""
    copied: dict[str, int] = {}
    for table in TABLES:
        rows = source.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - fixed names
        columns = column_names(rows)
        insert = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names from the schema
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        count = 0
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, _BATCH)):
            target.executemany(insert, batch)
            count += len(batch)
        copied[table] = count
    target.identities_follow(("notices", "webhook_events"))
    head = source.chain_head()
    target.audit_appended(source.audit_sequence(), head[1] if head else "")
    return copied


def row_counts(database: Database) -> dict[str, int]:
    return {
        table: int(database.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
        for table in TABLES
    }
