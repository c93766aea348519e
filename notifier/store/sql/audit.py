"""The audit trail in SQL: the insert that links a row to the chain, verification, retention
and the queries, the same on every backend.

A row is written in the same transaction as the state change it records; the store decides
*when*. The row's shape and the chain's hash rules are the core's (:mod:`notifier.core.audit`).
Each backend's schema adds triggers that refuse every UPDATE and DELETE except retention's
blanking of the private fields and the one-time sealing of rows written before the chain.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from notifier.core.audit import (
    GENESIS,
    PRIVATE_COLUMNS,
    READ_COLUMNS,
    WORD_OUTCOMES,
    AuditQuery,
    AuditRecord,
    NoticeView,
    Problem,
    Retention,
    Verification,
    content_hash,
    record_values,
    row_hash,
    words_hash,
)
from notifier.core.clock import from_stamp, to_stamp
from notifier.store.sql.database import Database, column_names

# The append-only guards every backend installs on the audit table (``verify`` checks them).
TRIGGERS = ("audit_append_only_insert", "audit_append_only_delete", "audit_append_only_update")


# -- hashing -------------------------------------------------------------------------------------


def _notice_words_hash(connection: Database, key: str) -> str:
    if not key:
        return ""
    row = connection.execute(
        "SELECT subject, body_text, body_html FROM notices WHERE resolution_key = ?", (key,)
    ).fetchone()
    if row is None or not (row[0] or row[1]):
        return ""
    return words_hash(row[0], row[1], row[2])


# -- writing -------------------------------------------------------------------------------------


def insert(connection: Database, record: AuditRecord) -> AuditRecord:
    """Add one row linked to the chain; return it with its id and hashes.

    The caller owns the transaction, begun with ``Database.begin``: no other writer can append
    between reading the chain's head and writing the new row.
    """
    last = connection.chain_head()
    if last is not None and not last[1]:
        seal_legacy(connection)
        last = connection.chain_head()
    prev = GENESIS if last is None else last[1]
    row_id = max(connection.audit_sequence(), last[0] if last else 0) + 1
    values = record_values(record)
    values["at"] = to_stamp(record.at)
    values["id"] = row_id
    del values["row_hash"]
    if not record.words_hash and record.outcome in WORD_OUTCOMES:
        values["words_hash"] = _notice_words_hash(connection, record.resolution_key)
    salt = secrets.token_hex(16)
    content = content_hash(values, salt)
    own = row_hash(values, prev, content)
    columns = [*values, "content_salt", "content_hash", "prev_hash", "row_hash"]
    connection.execute(
        f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",  # noqa: S608 - fixed column names
        [*values.values(), salt, content, prev, own],
    )
    connection.audit_appended(row_id, own)
    return replace(record, id=row_id, row_hash=own, words_hash=str(values["words_hash"]))


def seal_legacy(connection: Database) -> int:
    """Link rows written before schema version 4 into the chain, in id order (once).

    They are vouched for from the moment they are sealed, not from when they were written.
    Sent rows get the hash of the words their notice holds at that moment.
    """
    cursor = connection.execute("SELECT * FROM audit WHERE row_hash = '' ORDER BY id")
    names = column_names(cursor)
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if not rows:
        return 0
    before = connection.execute(
        "SELECT row_hash FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1", (rows[0]["id"],)
    ).fetchone()
    prev = GENESIS if before is None else str(before[0])
    for values in rows:
        if values["outcome"] in WORD_OUTCOMES:
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


# -- verification --------------------------------------------------------------------------------


_THROUGH = re.compile(r"through #(\d+)")


def verify(connection: Database) -> Verification:
    """Check the whole chain; problems are ordered by row, the first is where it broke."""
    cursor = connection.execute("SELECT * FROM audit ORDER BY id")
    names = column_names(cursor)
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
        if values["outcome"] in WORD_OUTCOMES and values.get("words_hash"):
            sent_words[str(values["resolution_key"])] = (row_id, str(values["words_hash"]))
        prev, prev_id = str(values["row_hash"]), row_id
    if chain_break is not None:
        problems.append(chain_break)
    problems += [
        Problem(b, f"row #{b}: its requester was removed, but no retention run covers it")
        for b in blanked
    ]
    if chain_break is None:
        last = connection.audit_sequence()
        if last > prev_id and prev_id:
            missing = f"#{prev_id + 1}" if last == prev_id + 1 else f"#{prev_id + 1}-#{last}"
            problems.append(
                Problem(prev_id + 1, f"row {missing} is missing (deleted from the end)")
            )
        problems += _check_words(connection, sent_words)
    present = connection.audit_guards()
    problems += [
        Problem(0, f"the append-only guard {name} was removed: the store no longer refuses edits")
        for name in TRIGGERS
        if name not in present
    ]
    problems.sort(key=lambda p: (p.row_id == 0, p.row_id))
    return Verification(count, prev_id or None, prev, unsealed, pruned, tuple(problems))


def _check_words(connection: Database, sent_words: Mapping[str, tuple[int, str]]) -> list[Problem]:
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


# -- retention -----------------------------------------------------------------------------------

# Notice states still waiting for a decision: their data is needed and is never pruned.
_OPEN_STATES = ("queued", "deferred", "sending", "held")


def prune(connection: Database, cutoff: datetime) -> Retention:
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


# -- queries -------------------------------------------------------------------------------------


def query(connection: Database, wanted: AuditQuery) -> list[AuditRecord]:
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
        clauses.append(connection.same_address("requester", "?"))
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
    sql = f"SELECT {', '.join(READ_COLUMNS)} FROM audit {where} ORDER BY id"  # noqa: S608 - fixed columns, bound values
    if wanted.limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(wanted.limit)}) AS recent ORDER BY id"  # noqa: S608
    return [_from_row(row) for row in connection.execute(sql, params)]


def _from_row(row: Sequence[object]) -> AuditRecord:
    values = dict(zip(READ_COLUMNS, row, strict=True))
    values["at"] = from_stamp(str(values["at"]))
    return AuditRecord(**values)  # type: ignore[arg-type]


# -- what the requester saw ----------------------------------------------------------------------


def find_notices(connection: Database, key: str) -> list[str]:
    """Resolution keys matching ``key``: the key itself, else every notice of that ticket id."""
    if connection.execute("SELECT 1 FROM notices WHERE resolution_key = ?", (key,)).fetchone():
        return [key]
    return [
        str(found)
        for (found,) in connection.execute(
            "SELECT resolution_key FROM notices WHERE ticket_id = ? ORDER BY id", (key,)
        )
    ]


def notice_view(connection: Database, key: str) -> NoticeView | None:
    row = connection.execute(
        """SELECT resolution_key, ticket_id, source, team, state, requester_email,
           requester_name, subject, body_text, body_html, template, message_id, resolved_at,
           queued_at, sent_at, attempts, findings_json FROM notices WHERE resolution_key = ?""",
        (key,),
    ).fetchone()
    if row is None:
        return None
    history = connection.execute(
        f"SELECT {', '.join(READ_COLUMNS)} FROM audit WHERE resolution_key = ? ORDER BY id",  # noqa: S608 - fixed columns
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
