"""The audit trail: one row per decision, written in the same transaction as the state change.

Each row is mirrored as one structlog event (see the README's event table). This module owns the
row's shape, the event names, the insert, the hash chain, retention, the queries and the output
formats of ``notifier audit``; the outbox decides *when* a row is written.

The chain (schema version 4, see docs/audit.md): every row stores ``row_hash``, a SHA-256 over its
public fields, the hash of the row before it (``prev_hash``) and ``content_hash``, a salted
SHA-256 of its private fields (the requester's address). Retention blanks the private fields and
the salt but keeps ``content_hash``, so the chain still verifies after personal data is gone.
SQLite triggers refuse every UPDATE and DELETE except that one blanking and the one-time sealing
of rows written before version 4.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import secrets
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import SupportsIndex

from notifier.core.clock import from_stamp, to_stamp
from notifier.core.printable import csv_cell, json_text, printable, printable_block, say_to
from notifier.runtime.logs import events_logger
from notifier.store.sqlite import connection as statedb

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
    "edited": "notice_edited",  # a reviewer corrected a held notice's words (notifier edit)
    "pruned": "audit_pruned",
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
    words_hash: str = ""  # on 'sent' rows: SHA-256 of the exact subject and text sent
    row_hash: str = ""  # this row's link in the chain (set by insert)
    id: int | None = None


# Columns the caller supplies; insert computes words_hash and the chain columns.
_CHAIN_FIELDS = ("words_hash", "row_hash")
_COLUMNS = [f.name for f in fields(AuditRecord) if f.name not in ("id", *_CHAIN_FIELDS)]
_READ_COLUMNS = ["id", *_COLUMNS, *_CHAIN_FIELDS]
_FIELD_NAMES = tuple(f.name for f in fields(AuditRecord))


def _record_values(record: AuditRecord) -> dict[str, object]:
    """``asdict(record)`` for this flat record (same keys, order and values), without its deep copy."""
    return {name: getattr(record, name) for name in _FIELD_NAMES}


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


# The private fields: what retention may blank. The chain covers their salted hash only.
PRIVATE_COLUMNS = ("requester",)
# Every other column as of version 4 (never edit: a released migration is fixed).
_V4_PUBLIC = (
    "id", "at", "outcome", "resolution_key", "ticket_id", "source", "team", "template", "reason",
    "smtp_code", "smtp_reply", "message_id", "attempt", "origin", "findings",
)  # fmt: skip
_SAME_PUBLIC = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _V4_PUBLIC)
_SAME_PRIVATE = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in PRIVATE_COLUMNS)
_BLANK_PRIVATE = " AND ".join(f"NEW.{c} = ''" for c in PRIVATE_COLUMNS)

# Version 4: the hash chain and the append-only guard.
SCHEMA_V4 = SqlScript(
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
TRIGGERS = ("audit_append_only_insert", "audit_append_only_delete", "audit_append_only_update")

GENESIS = "0" * 64  # prev_hash of the first row
CHAIN_FORMAT = 1
# Not part of a row's public payload: the row's own chain columns and its private fields.
_NOT_PUBLIC = frozenset({"row_hash", "prev_hash", "content_hash", "content_salt", *PRIVATE_COLUMNS})
# Outcomes after which a notice's words never change again: their rows carry words_hash.
_WORD_OUTCOMES = frozenset({"sent"})


# -- hashing -------------------------------------------------------------------------------------


def _sha256(payload: object) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(values: Mapping[str, object], salt: str) -> str:
    """The salted hash of a row's private fields (the salt stops guessing addresses from it)."""
    return _sha256({"salt": salt, **{c: values.get(c) or "" for c in PRIVATE_COLUMNS}})


def row_hash(values: Mapping[str, object], prev_hash: str, content: str) -> str:
    """A row's chain hash: its public fields, its content hash and the previous row's hash.

    Empty values (``''``, ``NULL``, ``0``) are left out, so that a column added later with an
    empty default does not change the hash of the rows written before it.
    """
    public = {
        name: value
        for name, value in values.items()
        if name not in _NOT_PUBLIC and value not in (None, "", 0)
    }
    return _sha256({"v": CHAIN_FORMAT, "prev": prev_hash, "content": content, "row": public})


def words_hash(subject: str, text: str, html: str | None) -> str:
    """SHA-256 of the exact words of a notice: subject, plain text and HTML as stored."""
    return _sha256({"subject": subject, "text": text, "html": html})


def _notice_words_hash(connection: sqlite3.Connection, key: str) -> str:
    if not key:
        return ""
    row = connection.execute(
        "SELECT subject, body_text, body_html FROM notices WHERE resolution_key = ?", (key,)
    ).fetchone()
    if row is None or not (row[0] or row[1]):
        return ""
    return words_hash(row[0], row[1], row[2])


# -- writing -------------------------------------------------------------------------------------


def insert(connection: sqlite3.Connection, record: AuditRecord) -> AuditRecord:
    """Add one row linked to the chain; return it with its id and hashes.

    The caller owns the transaction and must hold the write lock (``BEGIN IMMEDIATE``), so that
    no other writer can append between reading the chain's head and writing the new row.
    """
    last = connection.execute("SELECT id, row_hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    if last is not None and not last[1]:
        seal_legacy(connection)
        last = connection.execute(
            "SELECT id, row_hash FROM audit ORDER BY id DESC LIMIT 1"
        ).fetchone()
    prev = GENESIS if last is None else str(last[1])
    sequence = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    row_id = max(int(sequence[0]) if sequence else 0, int(last[0]) if last else 0) + 1
    values = _record_values(record)
    values["at"] = to_stamp(record.at)
    values["id"] = row_id
    del values["row_hash"]
    if not record.words_hash and record.outcome in _WORD_OUTCOMES:
        values["words_hash"] = _notice_words_hash(connection, record.resolution_key)
    salt = secrets.token_hex(16)
    content = content_hash(values, salt)
    own = row_hash(values, prev, content)
    columns = [*values, "content_salt", "content_hash", "prev_hash", "row_hash"]
    connection.execute(
        f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",  # noqa: S608 - fixed column names
        [*values.values(), salt, content, prev, own],
    )
    return replace(record, id=row_id, row_hash=own, words_hash=str(values["words_hash"]))


def seal_legacy(connection: sqlite3.Connection) -> int:
    """Link rows written before schema version 4 into the chain, in id order (once).

    They are vouched for from the moment they are sealed, not from when they were written.
    Sent rows get the hash of the words their notice holds at that moment.
    """
    cursor = connection.execute("SELECT * FROM audit WHERE row_hash = '' ORDER BY id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if not rows:
        return 0
    before = connection.execute(
        "SELECT row_hash FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1", (rows[0]["id"],)
    ).fetchone()
    prev = GENESIS if before is None else str(before[0])
    for values in rows:
        if values["outcome"] in _WORD_OUTCOMES:
            values["words_hash"] = _notice_words_hash(connection, str(values["resolution_key"]))
        salt = secrets.token_hex(16)
        content = content_hash(values, salt)
        own = row_hash(values, prev, content)
        connection.execute(
            "UPDATE audit SET words_hash = ?, content_salt = ?, content_hash = ?, prev_hash = ?, "
            "row_hash = ? WHERE id = ?",
            (values["words_hash"], salt, content, prev, own, values["id"]),
        )
        prev = own
    return len(rows)


def emit(record: AuditRecord) -> None:
    """Mirror a committed row as one structlog event (never the message body, never secrets).

    The event carries ``audit_id`` and ``row_hash``: the journal is an independent witness of
    the chain's head (see docs/audit.md).
    """
    fields_ = {
        name: value
        for name, value in _record_values(record).items()
        if name not in ("at", "id", "outcome", "findings")
        and value not in ("", None)
        and not (name == "attempt" and value == 0)
    }
    if record.id is not None:
        fields_["audit_id"] = record.id
    logger = events_logger()
    if record.outcome in ("deferred", "rejected"):
        logger.warning(EVENTS[record.outcome], **fields_)
    elif record.outcome == "failed":
        logger.error(EVENTS[record.outcome], **fields_)
    else:
        logger.info(EVENTS[record.outcome], **fields_)


def emit_committed(records: Sequence[AuditRecord]) -> None:
    """Mirror committed rows to the log, in commit order (the log's order is the chain's).

    The rows are written: a log that cannot be written (journald gone, a closed pipe) must
    not look like a failed write to the caller, who would record the same decision again.
    What could not be logged is said on stderr if that still works; the trail has it all.
    """
    for record in records:
        try:
            emit(record)
        except Exception as exc:  # any failure of the log output
            stderr = sys.__stderr__
            if stderr is None:  # print(file=None) would write to the failing stdout
                continue
            with contextlib.suppress(Exception):
                say_to(
                    stderr,
                    f"notifier: audit row {record.id} ({record.outcome}, "
                    f"{printable(record.resolution_key)}) is recorded but could not be logged: "
                    f"{printable(repr(exc))}",
                )


# -- verification --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    row_id: int
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    rows: int
    head_id: int | None
    head_hash: str
    unsealed: int  # rows from before version 4 not linked yet (sealed by the next write)
    pruned: int  # rows whose private fields retention dropped
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


_THROUGH = re.compile(r"through #(\d+)")


def verify(connection: sqlite3.Connection) -> Verification:
    """Check the whole chain; problems are ordered by row, the first is where it broke."""
    cursor = connection.execute("SELECT * FROM audit ORDER BY id")
    names = [d[0] for d in cursor.description]
    if "row_hash" not in names:
        return Verification(0, None, "", 0, 0, (Problem(0, "the trail has no hash chain"),))
    problems: list[Problem] = []
    chain_break: Problem | None = None
    prev, prev_id = GENESIS, 0
    count = unsealed = pruned = 0
    blanked: list[int] = []  # rows with private fields dropped, to match with 'pruned' rows
    sent_words: dict[str, tuple[int, str]] = {}
    for raw in cursor:
        values = dict(zip(names, raw, strict=True))
        row_id = int(values["id"])
        count += 1
        if not values["row_hash"]:
            if prev != GENESIS or prev_id:
                chain_break = Problem(
                    row_id, f"row #{row_id}: its hashes were erased (it follows sealed rows)"
                )
                break
            unsealed += 1
            continue
        if values["prev_hash"] != prev:
            if row_id != prev_id + 1 and not unsealed:
                missing = (
                    f"#{prev_id + 1}" if row_id == prev_id + 2 else f"#{prev_id + 1}-#{row_id - 1}"
                )
                chain_break = Problem(
                    prev_id + 1,
                    f"row {missing} is missing (deleted): row #{row_id} does not link to "
                    f"{'the start' if prev_id == 0 else f'row #{prev_id}'}",
                )
            elif prev_id:
                chain_break = Problem(
                    prev_id,
                    f"row #{prev_id}: its hash was rewritten (row #{row_id} recorded a "
                    "different one)",
                )
            else:
                chain_break = Problem(row_id, f"row #{row_id}: does not start the chain")
            break
        salt = str(values["content_salt"])
        if salt:
            if content_hash(values, salt) != values["content_hash"]:
                chain_break = Problem(
                    row_id, f"row #{row_id}: its requester was changed after it was written"
                )
                break
        elif any(values[c] for c in PRIVATE_COLUMNS):
            chain_break = Problem(
                row_id, f"row #{row_id}: its requester was changed after it was written"
            )
            break
        else:
            pruned += 1
            blanked.append(row_id)
        if row_hash(values, prev, str(values["content_hash"])) != values["row_hash"]:
            chain_break = Problem(
                row_id,
                f"row #{row_id}: its contents were changed after it was written "
                "(the hash no longer matches)",
            )
            break
        if values["outcome"] == "pruned" and (match := _THROUGH.search(str(values["origin"]))):
            through = int(match.group(1))
            blanked = [b for b in blanked if b > through]
        if values["outcome"] in _WORD_OUTCOMES and values.get("words_hash"):
            sent_words[str(values["resolution_key"])] = (row_id, str(values["words_hash"]))
        prev, prev_id = str(values["row_hash"]), row_id
    if chain_break is not None:
        problems.append(chain_break)
    problems += [
        Problem(b, f"row #{b}: its requester was removed, but no retention run covers it")
        for b in blanked
    ]
    if chain_break is None:
        sequence = connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit'"
        ).fetchone()
        if sequence and int(sequence[0]) > prev_id and prev_id:
            last = int(sequence[0])
            missing = f"#{prev_id + 1}" if last == prev_id + 1 else f"#{prev_id + 1}-#{last}"
            problems.append(
                Problem(prev_id + 1, f"row {missing} is missing (deleted from the end)")
            )
        problems += _check_words(connection, sent_words)
    present = {
        str(name)
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"
        )
    }
    problems += [
        Problem(0, f"the append-only guard {name} was removed: the store no longer refuses edits")
        for name in TRIGGERS
        if name not in present
    ]
    problems.sort(key=lambda p: (p.row_id == 0, p.row_id))
    return Verification(count, prev_id or None, prev, unsealed, pruned, tuple(problems))


def _check_words(
    connection: sqlite3.Connection, sent_words: Mapping[str, tuple[int, str]]
) -> list[Problem]:
    """The words a sent notice holds must still be the words its 'sent' row recorded."""
    problems = []
    for key, subject, text, html in connection.execute(
        "SELECT resolution_key, subject, body_text, body_html FROM notices "
        "WHERE state = 'sent' AND (subject != '' OR body_text != '')"
    ):
        recorded = sent_words.get(key)
        if recorded is not None and words_hash(subject, text, html) != recorded[1]:
            problems.append(
                Problem(
                    recorded[0],
                    f"row #{recorded[0]}: the words stored for {key} are not the words "
                    "recorded as sent",
                )
            )
    return problems


def format_verification(result: Verification, seconds: float) -> str:
    lines = []
    if result.ok:
        lines.append(
            f"audit trail intact: {result.rows} rows checked in {seconds:.2f} s"
            + (f", chain from #1 to #{result.head_id}" if result.head_id else "")
        )
    else:
        first = result.problems[0]
        where = f"at row #{first.row_id}" if first.row_id else "guard removed"
        lines.append(f"audit trail BROKEN {where}: {printable(first.message)}")
        lines += [f"  also: {printable(p.message)}" for p in result.problems[1:]]
        lines.append(f"({result.rows} rows read in {seconds:.2f} s)")
    if result.unsealed:
        lines.append(
            f"{result.unsealed} rows from before the chain existed are not linked yet; "
            "notifier links them with its next write"
        )
    if result.pruned:
        lines.append(f"{result.pruned} rows had their requester removed by retention")
    if result.head_id:
        lines.append(f"head: #{result.head_id} {result.head_hash}")
    return "\n".join(lines)


# -- retention -----------------------------------------------------------------------------------

# Notice states still waiting for a decision: their data is needed and is never pruned.
_OPEN_STATES = ("queued", "deferred", "sending", "held")


@dataclass(frozen=True, slots=True)
class Retention:
    cutoff: datetime
    audit_rows: int
    notices: int
    through_id: int  # the newest audit row at or before the cutoff


def prune(connection: sqlite3.Connection, cutoff: datetime) -> Retention:
    """Drop requester addresses and message words recorded before ``cutoff``.

    Audit rows keep every hash (the triggers allow exactly this change); finished notices lose
    the address, name, subject, text, HTML, stored resolution and rule trace. The caller owns
    the transaction and records the run as a 'pruned' audit row.
    """
    stamp = to_stamp(cutoff)
    (through,) = connection.execute("SELECT max(id) FROM audit WHERE at < ?", (stamp,)).fetchone()
    blank = ", ".join(f"{c} = ''" for c in PRIVATE_COLUMNS)
    audit_rows = connection.execute(
        f"UPDATE audit SET {blank}, content_salt = '' WHERE at < ? AND content_salt != ''",  # noqa: S608 - fixed column names
        (stamp,),
    ).rowcount
    notices = connection.execute(
        """UPDATE notices SET requester_email = '', requester_name = '', subject = '',
           body_text = '', body_html = NULL, resolution_json = '', explain_json = '',
           last_reply = '', reply_to = ''
           WHERE updated_at < ? AND state NOT IN (?, ?, ?, ?)
           AND (requester_email != '' OR subject != '' OR body_text != ''
                OR resolution_json != '')""",
        (stamp, *_OPEN_STATES),
    ).rowcount
    return Retention(cutoff, audit_rows, notices, int(through or 0))


def pruned_record(result: Retention, now: datetime) -> AuditRecord:
    """The audit row of one retention run (``origin`` names the rows it covers)."""
    return AuditRecord(
        at=now,
        outcome="pruned",
        origin=f"audit rows through #{result.through_id}",
        reason=(
            f"retention: requester removed from {result.audit_rows} audit rows and addresses "
            f"and words from {result.notices} notices recorded before "
            f"{result.cutoff.isoformat().replace('+00:00', 'Z')}"
        ),
    )


# -- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditQuery:
    ticket: str | None = None
    resolution_key: str | None = None
    requester: str | None = None
    outcome: str | None = None
    source: str | None = None
    team: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None
    after_id: int | None = None  # only rows newer than this one (audit --follow)


def query(connection: sqlite3.Connection, wanted: AuditQuery) -> list[AuditRecord]:
    """Rows matching every given filter, oldest first."""
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (
        ("ticket_id", wanted.ticket),
        ("resolution_key", wanted.resolution_key),
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
    if wanted.after_id is not None:
        clauses.append("id > ?")
        params.append(wanted.after_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {', '.join(_READ_COLUMNS)} FROM audit {where} ORDER BY id"  # noqa: S608 - fixed columns, bound values
    if wanted.limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(wanted.limit)}) ORDER BY id"  # noqa: S608
    return [_from_row(row) for row in connection.execute(sql, params)]


def _from_row(row: Sequence[object]) -> AuditRecord:
    values = dict(zip(_READ_COLUMNS, row, strict=True))
    values["at"] = from_stamp(str(values["at"]))
    return AuditRecord(**values)  # type: ignore[arg-type]


# -- what the requester saw ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeView:
    """Everything kept about one notice: its words, template, state and audit history."""

    resolution_key: str
    ticket_id: str
    source: str
    team: str
    state: str
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str | None
    template: str
    message_id: str
    resolved_at: datetime | None
    queued_at: datetime
    sent_at: datetime | None
    attempts: int
    findings: str
    history: tuple[AuditRecord, ...]

    @property
    def template_name(self) -> str:
        return self.template.partition("@")[0]

    @property
    def template_version(self) -> str:
        return self.template.partition("@")[2]

    @property
    def words_hash(self) -> str:
        return words_hash(self.subject, self.text, self.html) if self.has_words else ""

    @property
    def has_words(self) -> bool:
        return bool(self.subject or self.text)

    @property
    def recorded_words_hash(self) -> str:
        """The words hash of the last 'sent' row, as the chain recorded it."""
        sent = [r for r in self.history if r.outcome in _WORD_OUTCOMES and r.words_hash]
        return sent[-1].words_hash if sent else ""


def find_notices(connection: sqlite3.Connection, key: str) -> list[str]:
    """Resolution keys matching ``key``: the key itself, else every notice of that ticket id."""
    if connection.execute("SELECT 1 FROM notices WHERE resolution_key = ?", (key,)).fetchone():
        return [key]
    return [
        str(found)
        for (found,) in connection.execute(
            "SELECT resolution_key FROM notices WHERE ticket_id = ? ORDER BY id", (key,)
        )
    ]


def notice_view(connection: sqlite3.Connection, key: str) -> NoticeView | None:
    row = connection.execute(
        """SELECT resolution_key, ticket_id, source, team, state, requester_email,
           requester_name, subject, body_text, body_html, template, message_id, resolved_at,
           queued_at, sent_at, attempts, findings_json FROM notices WHERE resolution_key = ?""",
        (key,),
    ).fetchone()
    if row is None:
        return None
    history = connection.execute(
        f"SELECT {', '.join(_READ_COLUMNS)} FROM audit WHERE resolution_key = ? ORDER BY id",  # noqa: S608 - fixed columns
        (key,),
    ).fetchall()
    return NoticeView(
        resolution_key=row[0], ticket_id=row[1], source=row[2], team=row[3], state=row[4],
        to_email=row[5], to_name=row[6], subject=row[7], text=row[8], html=row[9],
        template=row[10], message_id=row[11],
        resolved_at=from_stamp(row[12]) if row[12] else None,
        queued_at=from_stamp(row[13]), sent_at=from_stamp(row[14]) if row[14] else None,
        attempts=int(row[15]), findings=row[16],
        history=tuple(_from_row(h) for h in history),
    )  # fmt: skip


def format_notice(view: NoticeView, *, fmt: str = "text", html: bool = False) -> str:
    """What the requester saw, where it came from, and whether the trail vouches for it."""
    recorded = view.recorded_words_hash
    if not view.has_words:
        words_state = "removed by retention" if recorded else "none stored (not rendered)"
    elif not recorded:
        words_state = "not sent yet" if view.state != "sent" else "no hash recorded"
    elif recorded == view.words_hash:
        words_state = "match the audit trail"
    else:
        words_state = "DO NOT MATCH the audit trail (changed after sending)"
    if fmt == "json":
        return json_text(
            {
                "resolution_key": view.resolution_key,
                "ticket_id": view.ticket_id,
                "source": view.source,
                "team": view.team,
                "state": view.state,
                "to_email": view.to_email,
                "to_name": view.to_name,
                "template": view.template_name,
                "template_version": view.template_version,
                "message_id": view.message_id,
                "resolved_at": _iso(view.resolved_at),
                "queued_at": _iso(view.queued_at),
                "sent_at": _iso(view.sent_at),
                "attempts": view.attempts,
                "subject": view.subject,
                "text": view.text,
                "html": view.html,
                "words_hash": recorded or view.words_hash,
                "words": words_state,
                "findings": json.loads(view.findings) if view.findings else [],
                "history": [_plain(record) for record in view.history],
            },
            indent=2,
        )
    to = f"{view.to_name} <{view.to_email}>" if view.to_name else view.to_email
    sent = (
        f"sent {view.sent_at:%Y-%m-%d %H:%M:%S} UTC after {view.attempts} attempt(s)"
        if view.sent_at
        else view.state
    )
    lines = [
        f"notice     {printable(view.resolution_key)}",
        f"ticket     {printable(view.ticket_id)} (source {printable(view.source)}, "
        f"team {printable(view.team)})",
        f"to         {printable(to or '(removed by retention)')}",
        f"state      {sent}",
        f"template   {printable(view.template_name or '-')}, "
        f"version {printable(view.template_version or '-')}",
        f"message-id {printable(view.message_id or '-')}",
        f"words      {words_state}" + (f" (sha256 {recorded})" if recorded else ""),
    ]
    if view.findings:
        kinds = sorted({str(f.get("kind")) for f in json.loads(view.findings)})
        lines.append(f"findings   {printable(', '.join(kinds))}")
    if view.has_words:
        lines += ["", f"Subject: {printable(view.subject)}", "", framed(view.text)]
        if view.html is not None:
            lines += (
                ["", "--- HTML part", framed(view.html)]
                if html
                else ["", f"(an HTML part of {len(view.html)} characters: --html shows it)"]
            )
    lines += ["", "--- audit trail", _table(list(view.history))]
    return "\n".join(lines)


def framed(words: str) -> str:
    """The notice's words, every line after ``| ``: they are several lines by nature (their
    line breaks stay), but no line of theirs can pass for one of this report's own."""
    lines = printable_block(words.rstrip("\n")).split("\n")
    return "\n".join(f"| {line}" if line else "|" for line in lines)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


# -- output formats ------------------------------------------------------------------------------


def format_records(records: Iterable[AuditRecord], fmt: str, *, header: bool = True) -> str:
    """Render rows as ``table`` (for a terminal), ``json`` (a list), ``jsonl`` or ``csv``.

    ``header=False`` leaves out the table and CSV header (the next lines of ``--follow``).
    """
    rows = list(records)
    if fmt == "json":
        return json_text([_plain(record) for record in rows], indent=2)
    if fmt == "jsonl":
        return "\n".join(json_text(_plain(record)) for record in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_READ_COLUMNS, lineterminator="\n")
        if header:
            writer.writeheader()
        # A person opens this in a spreadsheet: no line break inside a cell, no formula.
        writer.writerows(
            {name: csv_cell(value) for name, value in _plain(record).items()} for record in rows
        )
        return buffer.getvalue().rstrip("\n")
    return _table(rows, header=header)


def _plain(record: AuditRecord) -> dict[str, object]:
    values = asdict(record)
    values["at"] = record.at.isoformat().replace("+00:00", "Z")
    return {"id": values.pop("id"), **values}


def _table(rows: list[AuditRecord], *, header: bool = True) -> str:
    # The key is what `explain` and `audit show` take (a ticket id works too).
    headers = ("time (UTC)", "outcome", "ticket", "source", "team", "requester", "key", "detail")
    lines = [
        (
            record.at.strftime("%Y-%m-%d %H:%M:%S"),
            record.outcome,
            printable(record.ticket_id or "-"),
            printable(record.source or "-"),
            printable(record.team or "-"),
            printable(record.requester or "-"),
            printable(record.resolution_key or "-"),
            printable(_detail(record)),
        )
        for record in rows
    ]
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column is not padded
    out = (
        ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
        if header
        else []
    )
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    if not lines and header:
        out.append("(no audit records match)")
    return "\n".join(out)


def _detail(record: AuditRecord) -> str:
    parts = []
    if record.smtp_code is not None:
        parts.append(f"{record.smtp_code} {record.smtp_reply}".strip())
    if record.reason:
        parts.append(record.reason)
    if record.origin and record.outcome in ("rejected", "pruned"):
        parts.insert(0, record.origin)
    return "; ".join(parts)


def connect(path: Path) -> sqlite3.Connection:
    """A plain connection for the reading commands (verify, show, report); never writes."""
    connection = statedb.connect(path, isolation_level=None, timeout=30)
    connection.execute("PRAGMA query_only = ON")
    return connection
