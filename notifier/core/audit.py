"""The audit trail's values: what a row says, the outcomes and their event names, and the
hash chain's rules (schema version 4, docs/audit.md).

Every store computes a row's hashes the same way, so notifier audit verify means the same on
each backend: row_hash is a SHA-256 over the row's public fields, the hash of the row before it
(prev_hash) and content_hash, a salted SHA-256 of its private fields (the requester's
address). Retention blanks the private fields and the salt but keeps content_hash, so the
chain still verifies after personal data is gone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime

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


READ_COLUMNS = ["id", *_COLUMNS, *_CHAIN_FIELDS]


_FIELD_NAMES = tuple(f.name for f in fields(AuditRecord))


def record_values(record: AuditRecord) -> dict[str, object]:
    """``asdict(record)`` for this flat record (same keys, order and values), without its deep copy."""
    return {name: getattr(record, name) for name in _FIELD_NAMES}


# The private fields: what retention may blank. The chain covers their salted hash only.
PRIVATE_COLUMNS = ("requester",)


GENESIS = "0" * 64  # prev_hash of the first row


CHAIN_FORMAT = 1


# Not part of a row's public payload: the row's own chain columns and its private fields.
_NOT_PUBLIC = frozenset({"row_hash", "prev_hash", "content_hash", "content_salt", *PRIVATE_COLUMNS})


# Outcomes after which a notice's words never change again: their rows carry words_hash.
WORD_OUTCOMES = frozenset({"sent"})


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


@dataclass(frozen=True, slots=True)
class Retention:
    cutoff: datetime
    audit_rows: int
    notices: int
    through_id: int  # the newest audit row at or before the cutoff


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
        sent = [r for r in self.history if r.outcome in WORD_OUTCOMES and r.words_hash]
        return sent[-1].words_hash if sent else ""
