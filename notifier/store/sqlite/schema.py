"""The SQLite state's tables and their migrations, applied in order at open (never edit a
released step: add one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import SupportsIndex

from notifier.core.audit import PRIVATE_COLUMNS
from notifier.core.errors import StateError

# -- the audit trail (its chain and queries are notifier/store/sql/audit.py) ------------------

AUDIT = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    resolution_key TEXT NOT NULL DEFAULT '',
    ticket_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    team TEXT NOT NULL DEFAULT '',
    requester TEXT NOT NULL DEFAULT '',
    template TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    smtp_code INTEGER,
    smtp_reply TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    attempt INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_ticket ON audit (ticket_id);
CREATE INDEX audit_key ON audit (resolution_key);
CREATE INDEX audit_at ON audit (at);
"""

# Version 2: the plain-language findings of a notice are kept with its audit rows.
AUDIT_V2 = "ALTER TABLE audit ADD COLUMN findings TEXT NOT NULL DEFAULT '';"


class SqlScript(str):
    """A migration script whose ``split(";")`` keeps trigger bodies whole.

    The outbox's migration runner splits scripts on ``;``; a trigger's body holds ``;`` of its
    own. Splitting only where SQLite says a statement is complete gives the same pieces for
    ordinary scripts and whole ``CREATE TRIGGER ... END`` statements for triggers.
    """

    __slots__ = ()

    def split(self, sep: str | None = None, maxsplit: SupportsIndex = -1) -> list[str]:
        if sep != ";" or maxsplit != -1:
            return str(self).split(sep, maxsplit)
        statements: list[str] = []
        pending = ""
        for piece in str(self).split(";"):
            pending = f"{pending};{piece}" if pending else piece
            if sqlite3.complete_statement(pending + ";"):
                statements.append(pending)
                pending = ""
        if pending:
            statements.append(pending)
        return statements


# Every other column as of version 4 (never edit: a released migration is fixed).
_V4_PUBLIC = (
    "id", "at", "outcome", "resolution_key", "ticket_id", "source", "team", "template", "reason",
    "smtp_code", "smtp_reply", "message_id", "attempt", "origin", "findings",
)  # fmt: skip
_SAME_PUBLIC = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _V4_PUBLIC)
_SAME_PRIVATE = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in PRIVATE_COLUMNS)
_BLANK_PRIVATE = " AND ".join(f"NEW.{c} = ''" for c in PRIVATE_COLUMNS)

# Version 4: the hash chain and the append-only guard.
AUDIT_V4 = SqlScript(
    f"""
ALTER TABLE audit ADD COLUMN words_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN content_salt TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN row_hash TEXT NOT NULL DEFAULT '';
CREATE TRIGGER audit_append_only_insert BEFORE INSERT ON audit WHEN NEW.row_hash = ''
BEGIN
    SELECT RAISE(ABORT, 'audit rows must be written by notifier (row_hash missing)');
END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only: DELETE refused (see docs/audit.md)');
END;
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
WHEN NOT (
    (OLD.row_hash = '' AND NEW.row_hash != '' AND {_SAME_PUBLIC} AND {_SAME_PRIVATE})
    OR (OLD.row_hash != '' AND NEW.row_hash = OLD.row_hash AND NEW.prev_hash = OLD.prev_hash
        AND NEW.content_hash = OLD.content_hash AND NEW.words_hash = OLD.words_hash
        AND NEW.content_salt = '' AND {_BLANK_PRIVATE} AND {_SAME_PUBLIC})
)
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only: UPDATE refused (see docs/audit.md)');
END
"""
)

# -- the notices --------------------------------------------------------------------------------

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
    AUDIT_V2
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


# Version 4: the audit hash chain and the append-only triggers (see notifier/store/sql/audit.py).
_V4 = AUDIT_V4


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


# Version 8: which instance claimed a notice being sent (a shared PostgreSQL state recovers
# only the claims of instances that stopped; here there is one instance, and it is the same).
_V8 = """
ALTER TABLE notices ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
"""


MIGRATIONS: tuple[str, ...] = (_NOTICES + AUDIT, _V2, _V3, _V4, _V5, _V6, _V7, _V8)


def migrate(connection: sqlite3.Connection, path: Path) -> None:
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
