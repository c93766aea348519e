"""The SQLite state's tables and their migrations, applied in order at open (never edit a
released step: add one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from notifier.core.errors import StateError
from notifier.store.sqlite import audit

_NOTICES = """
CREATE TABLE notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resolution_key TEXT NOT NULL UNIQUE,
    ticket_id TEXT NOT NULL,
    source TEXT NOT NULL,
    team TEXT NOT NULL,
    requester_email TEXT NOT NULL,
    requester_name TEXT NOT NULL DEFAULT '',
    resolved_at TEXT,
    origin TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    body_text TEXT NOT NULL DEFAULT '',
    body_html TEXT,
    template TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    in_reply_to TEXT NOT NULL DEFAULT '',
    references_json TEXT NOT NULL DEFAULT '[]',
    reply_to TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL,
    next_attempt_at TEXT,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    last_code INTEGER,
    last_reply TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notices_due ON notices (state, next_attempt_at);
CREATE INDEX notices_ticket ON notices (source, ticket_id);
CREATE TABLE source_state (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
"""


# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
_V2 = (
    audit.SCHEMA_V2
    + """
ALTER TABLE notices ADD COLUMN findings_json TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN resolution_json TEXT NOT NULL DEFAULT '';
"""
)


# Version 3: every rule evaluated for a resolution, in order (notifier explain).
_V3 = """
ALTER TABLE notices ADD COLUMN explain_json TEXT NOT NULL DEFAULT '';
CREATE INDEX notices_requester ON notices (requester_email, state);
"""


# Version 4: the audit hash chain and the append-only triggers (see notifier/store/sqlite/audit.py).
_V4 = audit.SCHEMA_V4


# Version 5: the per-recipient limit (``sent_to_since``) looks a requester's sends up instead of
# scanning every audit row of the period once per requester. Partial (sent rows only) and
# covering (message_id included), so the count never reads the audit table itself.
_V5 = """
CREATE INDEX audit_sent_requester ON audit (requester COLLATE NOCASE, at, message_id)
    WHERE outcome = 'sent';
"""


# Version 6: the language a notice is written in, sent as its Content-Language.
_V6 = """
ALTER TABLE notices ADD COLUMN language TEXT NOT NULL DEFAULT '';
"""


# Version 7: webhook events committed on receipt, until their source reads them (``inbox``).
_V7 = """
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (source, event_id)
);
CREATE INDEX webhook_events_source ON webhook_events (source, id);
"""


MIGRATIONS: tuple[str, ...] = (_NOTICES + audit.SCHEMA, _V2, _V3, _V4, _V5, _V6, _V7)


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise StateError(
            f"{path}: schema version {version} is newer than this notifier understands "
            f"({len(MIGRATIONS)}); upgrade notifier or restore a backup"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
