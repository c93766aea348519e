"""The audit trail: one row per decision, written in the same transaction as the state change.

Each row is mirrored as one structlog event (see the README's event table). This module owns the
row's shape, the event names, the insert, the queries and the output formats of
``notifier audit``; the outbox decides *when* a row is written.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime

import structlog

from notifier.clock import from_stamp, to_stamp

# outcome -> structlog event name. Outcomes are what an auditor filters on.
EVENTS = {
    "queued": "notice_queued",
    "sent": "notice_sent",
    "deferred": "notice_deferred",
    "failed": "notice_failed",
    "held": "notice_held",
    "suppressed": "notice_suppressed",
    "recovered": "notice_recovered",
    "rejected": "input_rejected",
    "ignored": "input_ignored",
    "released": "notice_released",
    "cancelled": "notice_cancelled",
}
OUTCOMES = tuple(EVENTS)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    outcome: str
    resolution_key: str = ""
    ticket_id: str = ""
    source: str = ""
    team: str = ""
    requester: str = ""
    template: str = ""
    reason: str = ""
    smtp_code: int | None = None
    smtp_reply: str = ""
    message_id: str = ""
    attempt: int = 0
    origin: str = ""
    findings: str = ""  # JSON list of plain-language findings, when there were any
    id: int | None = None


_COLUMNS = [f.name for f in fields(AuditRecord) if f.name != "id"]

SCHEMA = """
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
SCHEMA_V2 = "ALTER TABLE audit ADD COLUMN findings TEXT NOT NULL DEFAULT '';"


def insert(connection: sqlite3.Connection, record: AuditRecord) -> None:
    """Add one row; the caller owns the transaction."""
    values = asdict(record)
    values["at"] = to_stamp(record.at)
    connection.execute(
        f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",  # noqa: S608 - fixed column names
        [values[name] for name in _COLUMNS],
    )


def emit(record: AuditRecord) -> None:
    """Mirror a committed row as one structlog event (never the message body, never secrets)."""
    fields_ = {
        name: value
        for name, value in asdict(record).items()
        if name not in ("at", "id", "outcome", "findings")
        and value not in ("", None)
        and not (name == "attempt" and value == 0)
    }
    if record.outcome in ("deferred", "rejected"):
        structlog.get_logger().warning(EVENTS[record.outcome], **fields_)
    elif record.outcome == "failed":
        structlog.get_logger().error(EVENTS[record.outcome], **fields_)
    else:
        structlog.get_logger().info(EVENTS[record.outcome], **fields_)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    ticket: str | None = None
    requester: str | None = None
    outcome: str | None = None
    source: str | None = None
    team: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


def query(connection: sqlite3.Connection, wanted: AuditQuery) -> list[AuditRecord]:
    """Rows matching every given filter, oldest first."""
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (
        ("ticket_id", wanted.ticket),
        ("outcome", wanted.outcome),
        ("source", wanted.source),
        ("team", wanted.team),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if wanted.requester is not None:
        clauses.append("requester = ? COLLATE NOCASE")
        params.append(wanted.requester)
    if wanted.since is not None:
        clauses.append("at >= ?")
        params.append(to_stamp(wanted.since))
    if wanted.until is not None:
        clauses.append("at < ?")
        params.append(to_stamp(wanted.until))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT id, {', '.join(_COLUMNS)} FROM audit {where} ORDER BY id"  # noqa: S608 - fixed columns, bound values
    if wanted.limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(wanted.limit)}) ORDER BY id"  # noqa: S608
    return [_from_row(row) for row in connection.execute(sql, params)]


def _from_row(row: Sequence[object]) -> AuditRecord:
    values = dict(zip(["id", *_COLUMNS], row, strict=True))
    values["at"] = from_stamp(str(values["at"]))
    return AuditRecord(**values)  # type: ignore[arg-type]


def format_records(records: Iterable[AuditRecord], fmt: str) -> str:
    """Render rows as ``table`` (for a terminal), ``json`` (a list) or ``csv``."""
    rows = list(records)
    if fmt == "json":
        return json.dumps([_plain(record) for record in rows], indent=2, ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", *_COLUMNS], lineterminator="\n")
        writer.writeheader()
        writer.writerows(_plain(record) for record in rows)
        return buffer.getvalue().rstrip("\n")
    return _table(rows)


def _plain(record: AuditRecord) -> dict[str, object]:
    values = asdict(record)
    values["at"] = record.at.isoformat().replace("+00:00", "Z")
    return {"id": values.pop("id"), **values}


def _table(rows: list[AuditRecord]) -> str:
    headers = ("time (UTC)", "outcome", "ticket", "source", "team", "requester", "detail")
    lines = [
        (
            record.at.strftime("%Y-%m-%d %H:%M:%S"),
            record.outcome,
            record.ticket_id or "-",
            record.source or "-",
            record.team or "-",
            record.requester or "-",
            _detail(record),
        )
        for record in rows
    ]
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column is not padded
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    if not lines:
        out.append("(no audit records match)")
    return "\n".join(out)


def _detail(record: AuditRecord) -> str:
    parts = []
    if record.smtp_code is not None:
        parts.append(f"{record.smtp_code} {record.smtp_reply}".strip())
    if record.reason:
        parts.append(record.reason)
    if record.origin and record.outcome == "rejected":
        parts.insert(0, record.origin)
    return "; ".join(parts)
