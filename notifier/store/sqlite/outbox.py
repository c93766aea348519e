"""The outbox: a SQLite (WAL) store that is the single source of truth for what was decided.

One row per resolution key (UNIQUE), so re-reading the same input is always safe. Every state
change writes its audit row in the same transaction; the audit rows are mirrored to the log only
after the commit succeeded, so the log never claims what the database does not hold.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from notifier.core.audit import AuditQuery, AuditRecord, Retention, pruned_record, words_hash
from notifier.core.clock import from_stamp, to_stamp
from notifier.core.errors import StateError
from notifier.core.model import (
    Checkpoint,
    DeliveryResult,
    Ignored,
    InputProblem,
    Notice,
    Resolution,
    State,
)
from notifier.core.policy import Decision, describe
from notifier.core.queue import HeldNotice, QueuedNotice, WaitingNotice
from notifier.store.codec import resolution_from_json, resolution_to_json
from notifier.store.mirror import emit_committed
from notifier.store.sqlite import audit
from notifier.store.sqlite import connection as statedb
from notifier.store.sqlite.lock import StateLock
from notifier.store.sqlite.paths import DATABASE_NAME
from notifier.store.sqlite.schema import _migrate

# Requesters asked about in one query by ``sent_to_since_many`` (SQLite's bound-parameter
# limit is 32,766 since 3.32, 999 before).
_REQUESTERS_PER_QUERY = 400


class Outbox:
    """The store. Build it with :meth:`open`; nothing touches the disk in the constructor."""

    def __init__(self, connection: sqlite3.Connection, path: Path, lock: StateLock | None) -> None:
        self._db = connection
        self.path = path
        self._lock = lock
        self._pending: list[AuditRecord] = []
        self._in_transaction = False
        # Delivery threads record their results here at the same time (see Service): one
        # transaction at a time, and a thread's nested transaction joins its own only.
        self._writer = threading.RLock()
        self._group = threading.Condition()  # see together()
        self._group_waiting: list[_GroupEntry] = []
        self._group_committing = False

    # -- lifecycle ---------------------------------------------------------------------------

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
            # Shared by the delivery threads; Outbox.transaction serialises its use.
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
            _migrate(connection, path)
        except StateError as exc:
            connection.close()
            if lock is not None:
                lock.close()
            error = statedb.reword(exc, path, "cannot open the state database")
            raise error from error.__cause__
        return cls(connection, path, lock)

    def close(self) -> None:
        with self._writer:  # not in the middle of another thread's transaction
            self._db.close()
        if self._lock is not None:
            self._lock.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of state changes and their audit rows; safe to use from threads."""
        with self._writer:
            if self._in_transaction:
                yield
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except StateError as exc:
                error = statedb.reword(exc, self.path, "cannot start a transaction")
                raise error from error.__cause__
            self._in_transaction = True
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._pending.clear()
                with contextlib.suppress(StateError):
                    self._db.execute("ROLLBACK")
                if isinstance(exc, StateError):
                    error = statedb.reword(exc, self.path, "cannot write the state database")
                    raise error from error.__cause__
                raise
            finally:
                self._in_transaction = False
            committed, self._pending = self._pending, []
            emit_committed(committed)

    def together(self, work: Callable[[], None]) -> None:
        """Run ``work`` in one transaction with the work other threads hand in meanwhile.

        Delivery sessions record each result before they send their next message; when
        several finish at about the same time, one commit (one fsync) covers them all. Returns
        once ``work`` is committed. If the shared commit fails, each work is committed on its
        own, and only a thread whose work fails alone gets the error (a StateError).
        """
        entry = _GroupEntry(work)
        with self._group:
            self._group_waiting.append(entry)
            while self._group_committing and not entry.settled:
                self._group.wait()
            if entry.settled:
                entry.raise_failure()
                return
            # This thread commits everything waiting, its own work included.
            self._group_committing = True
            group, self._group_waiting = self._group_waiting, []
        failures = self._commit_group(group)
        with self._group:
            for member, failure in zip(group, failures, strict=True):
                member.settle(failure)
            self._group_committing = False
            self._group.notify_all()
        own = failures[group.index(entry)]
        if own is not None:
            raise own

    def _commit_group(self, group: list[_GroupEntry]) -> list[BaseException | None]:
        """Commit the group's work together; what went wrong for each member (None: committed)."""
        try:
            with self.transaction():
                for member in group:
                    member.work()
            return [None] * len(group)
        except BaseException as exc:
            if len(group) == 1:
                return [exc]
        # One member's failure must not undo the others' (their messages went out): each is
        # committed alone, and only what fails alone fails.
        return [self._commit_alone(member) for member in group]

    def _commit_alone(self, member: _GroupEntry) -> BaseException | None:
        try:
            with self.transaction():
                member.work()
        except BaseException as exc:
            return exc
        return None

    def _audit(self, record: AuditRecord) -> None:
        # Linked to the chain inside this transaction (we hold the write lock).
        self._pending.append(audit.insert(self._db, record))

    # -- input -------------------------------------------------------------------------------

    def add(
        self,
        resolution: Resolution,
        *,
        team: str,
        state: State,
        reason: str,
        now: datetime,
        notice: Notice | None = None,
        findings: str = "",
        due_at: datetime | None = None,
        explain: str = "",
    ) -> bool:
        """Record a newly seen resolution; False (and nothing written) if its key is known.

        ``findings`` is the JSON list of plain-language findings; the resolution itself is kept
        too, so that a notice held for a template error can be rendered again on release.
        """
        with self.transaction():
            cursor = self._db.execute(
                """INSERT OR IGNORE INTO notices (resolution_key, ticket_id, source, team,
                    requester_email, requester_name, resolved_at, origin, state, reason,
                    subject, body_text, body_html, template, message_id, in_reply_to,
                    references_json, reply_to, queued_at, next_attempt_at, updated_at,
                    findings_json, resolution_json, explain_json, language)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (
                    resolution.key,
                    resolution.ticket_id,
                    resolution.source,
                    team,
                    resolution.requester_email,
                    resolution.requester_name,
                    to_stamp(resolution.resolved_at) if resolution.resolved_at else None,
                    resolution.origin,
                    state.value,
                    reason,
                    notice.subject if notice else "",
                    notice.text if notice else "",
                    notice.html if notice else None,
                    notice.template if notice else "",
                    notice.message_id if notice else "",
                    notice.in_reply_to if notice else "",
                    json.dumps(list(notice.references) if notice else []),
                    notice.reply_to if notice else "",
                    to_stamp(now),
                    to_stamp(due_at or now) if state is State.QUEUED else None,
                    to_stamp(now),
                    findings,
                    resolution_to_json(resolution),
                    explain,
                    notice.language if notice else "",
                ),
            )
            if cursor.rowcount == 0:
                return False
            self._audit(
                AuditRecord(
                    at=now,
                    outcome=state.value,
                    resolution_key=resolution.key,
                    ticket_id=resolution.ticket_id,
                    source=resolution.source,
                    team=team,
                    requester=resolution.requester_email,
                    template=notice.template if notice else "",
                    reason=reason,
                    message_id=notice.message_id if notice else "",
                    origin=resolution.origin,
                    findings=findings,
                )
            )
            return True

    def reject(self, problem: InputProblem, now: datetime, *, team: str = "") -> None:
        """Record input that could not be used: with its ticket id when it was readable, and
        ``team``, the team that ticket would have gone to (``notifier report`` counts it)."""
        self._input_record(
            now, "rejected", problem.source, problem.origin, problem.reason,
            ticket_id=problem.ticket_id, team=team,
        )  # fmt: skip

    def _input_record(
        self,
        now: datetime,
        outcome: str,
        source: str,
        origin: str,
        reason: str,
        *,
        ticket_id: str = "",
        team: str = "",
    ) -> None:
        with self.transaction():
            self._audit(
                AuditRecord(
                    at=now,
                    outcome=outcome,
                    source=source,
                    origin=origin,
                    reason=reason,
                    ticket_id=ticket_id,
                    team=team,
                )
            )

    # -- the hold window ---------------------------------------------------------------------

    def waiting_tickets(self, source: str) -> set[str]:
        """Tickets of ``source`` with a notice not yet attempted (queued, or held for review)."""
        rows = self._db.execute(
            "SELECT ticket_id FROM notices WHERE source = ? AND state IN ('queued', 'held') "
            "AND attempts = 0",
            (source,),
        )
        return {str(row[0]) for row in rows}

    def known(self, key: str) -> bool:
        row = self._db.execute("SELECT 1 FROM notices WHERE resolution_key = ?", (key,)).fetchone()
        return row is not None

    def waiting_notices(self, source: str, ticket_id: str) -> list[WaitingNotice]:
        """A ticket's notices not yet attempted (queued or held), oldest first."""
        rows = self._db.execute(
            "SELECT resolution_key, team, resolved_at FROM notices WHERE source = ? "
            "AND ticket_id = ? AND state IN ('queued', 'held') AND attempts = 0 ORDER BY id",
            (source, ticket_id),
        ).fetchall()
        return [
            WaitingNotice(str(key), str(team), from_stamp(str(at)) if at else None)
            for key, team, at in rows
        ]

    def cancel_waiting(
        self,
        source: str,
        ticket_id: str,
        now: datetime,
        reason: str,
        *,
        keep: str = "",
        resolved_before: datetime | None = None,
    ) -> list[str]:
        """Cancel a ticket's notices not yet attempted (queued or held), except ``keep``.

        With ``resolved_before``, only notices for resolutions older than that moment (or of
        unknown time): an older resolution never cancels a newer one.
        """
        with self.transaction():
            rows = self._db.execute(
                "SELECT id, resolution_key FROM notices WHERE source = ? AND ticket_id = ? "
                "AND state IN ('queued', 'held') AND attempts = 0 AND resolution_key != ? "
                "AND (? IS NULL OR resolved_at IS NULL OR resolved_at < ?) ORDER BY id",
                (
                    source,
                    ticket_id,
                    keep,
                    to_stamp(resolved_before) if resolved_before else None,
                    to_stamp(resolved_before) if resolved_before else None,
                ),
            ).fetchall()
            return self._cancel_rows(rows, now, reason)

    def cancel_notices(self, keys: Sequence[str], now: datetime, reason: str) -> list[str]:
        """Cancel these notices if they are still not attempted (queued or held)."""
        with self.transaction():
            rows = [
                row
                for key in keys
                for row in self._db.execute(
                    "SELECT id, resolution_key FROM notices WHERE resolution_key = ? "
                    "AND state IN ('queued', 'held') AND attempts = 0",
                    (key,),
                )
            ]
            return self._cancel_rows(rows, now, reason)

    def _cancel_rows(
        self, rows: Sequence[tuple[int, str]], now: datetime, reason: str
    ) -> list[str]:
        for row_id, _ in rows:
            self._db.execute(
                "UPDATE notices SET state = 'cancelled', next_attempt_at = NULL, reason = ?, "
                "updated_at = ? WHERE id = ?",
                (reason, to_stamp(now), row_id),
            )
            self._audit_row(row_id, now, "cancelled", reason)
        return [str(key) for _, key in rows]

    # -- per-recipient limit -----------------------------------------------------------------

    def sent_to_since(
        self, requester: str, moment: datetime, *, until: datetime
    ) -> tuple[int, datetime | None]:
        """How many notices ``requester`` was sent from ``moment`` to ``until``, and the oldest.

        A digest counts once: its members share one Message-ID. ``until`` bounds the window's
        far side: sends stamped after it were recorded before the clock was set back.
        """
        return self.sent_to_since_many([requester], moment, until=until)[requester]

    def sent_to_since_many(
        self, requesters: Sequence[str], moment: datetime, *, until: datetime
    ) -> dict[str, tuple[int, datetime | None]]:
        """:meth:`sent_to_since` for several requesters at once: one query per batch.

        Every requester given is a key of the result (``(0, None)`` when nothing was sent).
        Addresses compare case-insensitively (``COLLATE NOCASE``), as in the single form; each
        requester is looked up in the ``audit_sent_requester`` index.
        """
        found: dict[str, tuple[int, datetime | None]] = {r: (0, None) for r in requesters}
        wanted = list(found)
        stamp, end = to_stamp(moment), to_stamp(until)
        for start in range(0, len(wanted), _REQUESTERS_PER_QUERY):
            chunk = wanted[start : start + _REQUESTERS_PER_QUERY]
            rows = self._db.execute(
                # The VALUES list keeps each count tied to the exact requester asked about.
                "WITH wanted (requester) AS (VALUES "
                + ", ".join("(?)" for _ in chunk)
                + ") SELECT wanted.requester, count(DISTINCT audit.message_id), min(audit.at) "
                "FROM wanted JOIN audit ON audit.requester = wanted.requester COLLATE NOCASE "
                "WHERE audit.outcome = 'sent' AND audit.at >= ? AND audit.at <= ? "
                "GROUP BY wanted.requester",
                (*chunk, stamp, end),
            ).fetchall()
            for requester, count, oldest in rows:
                found[str(requester)] = (int(count), from_stamp(oldest) if oldest else None)
        return found

    def postpone(
        self, claimed: list[QueuedNotice], until: datetime, now: datetime, reason: str
    ) -> None:
        """Put claimed notices back unattempted, due at ``until`` (recorded as deferred)."""
        with self.transaction():
            for item in claimed:
                self._db.execute(
                    "UPDATE notices SET state = 'queued', attempts = attempts - 1, "
                    "next_attempt_at = ?, updated_at = ? WHERE resolution_key = ?",
                    (to_stamp(until), to_stamp(now), item.notice.resolution_key),
                )
                self._audit_key(item.notice.resolution_key, now, "deferred", reason)

    def resolutions(self, keys: list[str]) -> dict[str, Resolution]:
        found: dict[str, Resolution] = {}
        for key in keys:
            row = self._db.execute(
                "SELECT resolution_json FROM notices WHERE resolution_key = ?", (key,)
            ).fetchone()
            if row and row[0]:
                found[key] = resolution_from_json(row[0])
        return found

    def explain_record(self, key: str) -> dict[str, object]:
        """Everything stored about one resolution, for ``notifier explain``."""
        self._db.row_factory = sqlite3.Row
        try:
            row = self._db.execute(
                "SELECT * FROM notices WHERE resolution_key = ?", (key,)
            ).fetchone()
        finally:
            self._db.row_factory = None
        if row is None:
            raise StateError(f"{key}: no resolution with this key (see notifier audit)")
        return dict(row)

    # -- review of held notices ---------------------------------------------------------------

    def held(self) -> list[HeldNotice]:
        """Notices waiting for review, oldest first."""
        rows = self._db.execute(f"{_HELD_COLUMNS} WHERE state = 'held' ORDER BY id").fetchall()
        return [_held_notice(row) for row in rows]

    def held_notice(self, key: str) -> HeldNotice:
        """One held notice, with its words; StateError when no notice with ``key`` is held."""
        row = self._db.execute(
            f"{_HELD_COLUMNS} WHERE state = 'held' AND resolution_key = ?", (key,)
        ).fetchone()
        if row is None:
            raise StateError(f"{key}: no held notice with this resolution key (see notifier held)")
        return _held_notice(row)

    def edit(
        self, key: str, now: datetime, *, subject: str, text: str, findings: str, note: str
    ) -> None:
        """Replace a held notice's words with a reviewer's (it stays held until released).

        The edited words go out as plain text only: the HTML part said the old words. The
        audit row carries the new words' hash, so the trail shows which words were approved.
        """
        with self.transaction():
            self._require_held(key)
            self._db.execute(
                # updated_at stays: `held` says since when the notice waits for review.
                "UPDATE notices SET subject = ?, body_text = ?, body_html = NULL, "
                "findings_json = ? WHERE resolution_key = ?",
                (subject, text, findings, key),
            )
            (row_id,) = self._db.execute(
                "SELECT id FROM notices WHERE resolution_key = ?", (key,)
            ).fetchone()
            self._audit_row(row_id, now, "edited", note, words_hash=words_hash(subject, text, None))

    def held_content(self, key: str) -> tuple[bool, Resolution | None]:
        """Whether a held notice has rendered words stored, and its resolution."""
        row = self._db.execute(
            "SELECT state, message_id, resolution_json FROM notices WHERE resolution_key = ?",
            (key,),
        ).fetchone()
        if row is None or row[0] != State.HELD.value:
            raise StateError(f"{key}: no held notice with this resolution key (see notifier held)")
        return bool(row[1]), resolution_from_json(row[2]) if row[2] else None

    def release(self, key: str, now: datetime, *, note: str, notice: Notice | None = None) -> None:
        """Queue a held notice after review (with freshly rendered words when given)."""
        with self.transaction():
            self._require_held(key)
            if notice is not None:
                self._db.execute(
                    """UPDATE notices SET subject = ?, body_text = ?, body_html = ?, template = ?,
                       message_id = ?, in_reply_to = ?, references_json = ?, reply_to = ?,
                       language = ? WHERE resolution_key = ?""",
                    (
                        notice.subject, notice.text, notice.html, notice.template,
                        notice.message_id, notice.in_reply_to,
                        json.dumps(list(notice.references)), notice.reply_to, notice.language,
                        key,
                    ),
                )  # fmt: skip
            self._db.execute(
                "UPDATE notices SET state = 'queued', next_attempt_at = ?, updated_at = ?, "
                "reason = ? WHERE resolution_key = ?",
                (to_stamp(now), to_stamp(now), note, key),
            )
            self._audit_key(key, now, "released", note)

    def cancel(self, key: str, now: datetime, *, note: str) -> None:
        """Drop a held notice after review; it is never sent."""
        with self.transaction():
            self._require_held(key)
            self._db.execute(
                "UPDATE notices SET state = 'cancelled', next_attempt_at = NULL, updated_at = ?, "
                "reason = ? WHERE resolution_key = ?",
                (to_stamp(now), note, key),
            )
            self._audit_key(key, now, "cancelled", note)

    def _require_held(self, key: str) -> None:
        row = self._db.execute(
            "SELECT state FROM notices WHERE resolution_key = ?", (key,)
        ).fetchone()
        if row is None:
            raise StateError(f"{key}: no notice with this resolution key (see notifier held)")
        if row[0] != State.HELD.value:
            raise StateError(f"{key}: the notice is {row[0]}, not held")

    def _audit_key(self, key: str, now: datetime, outcome: str, reason: str) -> None:
        (row_id,) = self._db.execute(
            "SELECT id FROM notices WHERE resolution_key = ?", (key,)
        ).fetchone()
        self._audit_row(row_id, now, outcome, reason)

    def ignore(self, item: Ignored, now: datetime) -> None:
        """Record input that is deliberately not a resolution (auto-reply, bounce, update...)."""
        self._input_record(now, "ignored", item.source, item.origin, item.reason)

    def checkpoint(self, source: str, key: str) -> str | None:
        """A source's last committed progress mark for ``key`` (see ``model.Checkpoint``)."""
        row = self._db.execute(
            "SELECT value FROM source_state WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def save_checkpoint(self, mark: Checkpoint, now: datetime) -> None:
        with self.transaction():
            self._db.execute(
                """INSERT INTO source_state (source, key, value, updated_at) VALUES (?,?,?,?)
                   ON CONFLICT (source, key) DO UPDATE SET value = excluded.value,
                   updated_at = excluded.updated_at""",
                (mark.source, mark.key, mark.value, to_stamp(now)),
            )

    # -- delivery ----------------------------------------------------------------------------

    def recover_interrupted(self, now: datetime) -> int:
        """Put back notices left ``sending`` by a crash; they go out again with the same Message-ID."""
        with self.transaction():
            rows = self._db.execute(
                "SELECT id FROM notices WHERE state = 'sending' ORDER BY id"
            ).fetchall()
            for (row_id,) in rows:
                self._db.execute(
                    "UPDATE notices SET state = 'queued', next_attempt_at = ?, updated_at = ? "
                    "WHERE id = ?",
                    (to_stamp(now), to_stamp(now), row_id),
                )
                self._audit_row(
                    row_id,
                    now,
                    "recovered",
                    "was being sent when notifier stopped; it will be sent again with the "
                    "same Message-ID",
                )
            return len(rows)

    def claim_due(
        self, now: datetime, limit: int, *, retry_horizon: datetime | None = None
    ) -> list[QueuedNotice]:
        """Mark up to ``limit`` due notices ``sending`` (committed before any is sent).

        ``retry_horizon``: the latest retry time the retry policy can give from ``now``. A
        deferred notice due after it got its retry time before the clock was set back; it is
        due now rather than waiting for the clock to catch up.
        """
        if limit <= 0:
            return []
        horizon = to_stamp(retry_horizon) if retry_horizon is not None else None
        with self.transaction():
            rows = self._db.execute(
                f"""SELECT {_NOTICE_COLUMNS} FROM notices
                    WHERE state IN ('queued', 'deferred') AND (next_attempt_at <= ?
                        OR (state = 'deferred' AND next_attempt_at > ?))
                    ORDER BY next_attempt_at, id LIMIT ?""",  # noqa: S608 - fixed column list
                (to_stamp(now), horizon, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE notices SET state = 'sending', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?",
                [(to_stamp(now), row[0]) for row in rows],
            )
        return [_queued_notice(row) for row in rows]

    def unclaim(self, resolution_keys: list[str]) -> None:
        """Hand back claimed notices that were not attempted (the daemon is stopping)."""
        with self.transaction():
            self._db.executemany(
                "UPDATE notices SET state = 'queued', attempts = attempts - 1 "
                "WHERE resolution_key = ? AND state = 'sending'",
                [(key,) for key in resolution_keys],
            )

    def record_attempt(
        self,
        claimed: QueuedNotice,
        result: DeliveryResult,
        decision: Decision,
        now: datetime,
        *,
        digest: Notice | None = None,
    ) -> None:
        """Store how one send attempt ended, with its audit row, in one transaction.

        ``digest``: the notice went out inside this digest message. Once sent, the notice's
        stored words and Message-ID become the digest's: what the requester actually received,
        which `notifier audit show` prints and the 'sent' row's words hash covers.
        """
        notice = claimed.notice
        sent_as = digest if digest is not None else notice
        with self.transaction():
            if digest is not None and decision.state is State.SENT:
                self._db.execute(
                    "UPDATE notices SET subject = ?, body_text = ?, body_html = ?, message_id = ? "
                    "WHERE resolution_key = ?",
                    (digest.subject, digest.text, digest.html, digest.message_id,
                     notice.resolution_key),
                )  # fmt: skip
            self._db.execute(
                """UPDATE notices SET state = ?, reason = ?, next_attempt_at = ?, updated_at = ?,
                   sent_at = COALESCE(?, sent_at), last_code = ?, last_reply = ?
                   WHERE resolution_key = ?""",
                (
                    decision.state.value,
                    decision.reason,
                    to_stamp(decision.next_attempt_at) if decision.next_attempt_at else None,
                    to_stamp(now),
                    to_stamp(now) if decision.state is State.SENT else None,
                    result.code,
                    result.reply or result.detail,
                    notice.resolution_key,
                ),
            )
            self._audit(
                AuditRecord(
                    at=now,
                    outcome=decision.state.value,
                    resolution_key=notice.resolution_key,
                    ticket_id=notice.ticket_id,
                    source=notice.source,
                    team=notice.team,
                    requester=notice.to_email,
                    template=notice.template,
                    reason=_digest_reason(digest, decision.reason)
                    or ("" if result.code else describe(result)),
                    smtp_code=result.code,
                    smtp_reply=result.reply,
                    message_id=sent_as.message_id,
                    attempt=notice.attempt,
                    # The words just stored for this notice: no need to read them back.
                    words_hash=words_hash(sent_as.subject, sent_as.text, sent_as.html)
                    if decision.state is State.SENT
                    else "",
                )
            )

    # -- questions ---------------------------------------------------------------------------

    def attempts_since(self, moment: datetime, *, until: datetime) -> int:
        """Send attempts from ``moment`` to ``until`` (the per-minute rate limit; survives
        restarts). Attempts stamped after ``until`` were recorded before the clock was set
        back: they are not recent."""
        row = self._db.execute(
            "SELECT count(*) FROM audit WHERE at >= ? AND at <= ? "
            "AND outcome IN ('sent','deferred','failed') AND attempt > 0",
            (to_stamp(moment), to_stamp(until)),
        ).fetchone()
        return int(row[0])

    def oldest_attempt_since(self, moment: datetime, *, until: datetime) -> datetime | None:
        row = self._db.execute(
            "SELECT min(at) FROM audit WHERE at >= ? AND at <= ? "
            "AND outcome IN ('sent','deferred','failed') AND attempt > 0",
            (to_stamp(moment), to_stamp(until)),
        ).fetchone()
        return from_stamp(row[0]) if row and row[0] else None

    def next_due_at(self) -> datetime | None:
        row = self._db.execute(
            "SELECT min(next_attempt_at) FROM notices WHERE state IN ('queued', 'deferred')"
        ).fetchone()
        return from_stamp(row[0]) if row and row[0] else None

    def counts_by_state(self) -> dict[str, int]:
        return {
            str(state): int(count)
            for state, count in self._db.execute(
                "SELECT state, count(*) FROM notices GROUP BY state ORDER BY state"
            )
        }

    def audit_records(self, wanted: AuditQuery) -> list[AuditRecord]:
        return audit.query(self._db, wanted)

    def _audit_row(
        self, row_id: int, now: datetime, outcome: str, reason: str, *, words_hash: str = ""
    ) -> None:
        row = self._db.execute(
            "SELECT resolution_key, ticket_id, source, team, requester_email, template, "
            "message_id, attempts FROM notices WHERE id = ?",
            (row_id,),
        ).fetchone()
        self._audit(
            AuditRecord(
                at=now,
                outcome=outcome,
                resolution_key=row[0],
                ticket_id=row[1],
                source=row[2],
                team=row[3],
                requester=row[4],
                template=row[5],
                message_id=row[6],
                attempt=row[7],
                reason=reason,
                words_hash=words_hash,
            )
        )

    def apply_retention(self, cutoff: datetime, now: datetime) -> Retention:
        """Drop requester addresses and message words recorded before ``cutoff``.

        The audit chain keeps verifying (see docs/audit.md); the run is itself an audit row.
        """
        with self.transaction():
            result = audit.prune(self._db, cutoff)
            if result.audit_rows or result.notices:
                self._audit(pruned_record(result, now))
        return result

    # -- reading input again (notifier reread) -----------------------------------------------

    def source_checkpoints(self, source: str) -> dict[str, str]:
        """Every committed checkpoint of ``source``: key -> value."""
        rows = self._db.execute("SELECT key, value FROM source_state WHERE source = ?", (source,))
        return {str(key): str(value) for key, value in rows}

    def forget_checkpoints(self, source: str, keys: Sequence[str]) -> None:
        """Drop these checkpoints of ``source``: its next pass reads that input again."""
        with self.transaction():
            self._db.executemany(
                "DELETE FROM source_state WHERE source = ? AND key = ?",
                [(source, key) for key in keys],
            )


_HELD_COLUMNS = (
    "SELECT resolution_key, ticket_id, source, team, requester_email, reason, subject, "
    "findings_json, updated_at, body_text, resolution_json FROM notices"
)


def _held_notice(row: tuple[object, ...]) -> HeldNotice:
    language = ""
    if row[10]:
        language = str(json.loads(str(row[10])).get("language") or "")
    return HeldNotice(
        resolution_key=str(row[0]),
        ticket_id=str(row[1]),
        source=str(row[2]),
        team=str(row[3]),
        requester=str(row[4]),
        reason=str(row[5]),
        subject=str(row[6]),
        findings=json.loads(str(row[7])) if row[7] else [],
        held_since=from_stamp(str(row[8])),
        text=str(row[9]),
        language=language,
    )


_NOTICE_COLUMNS = (
    "id, resolution_key, ticket_id, source, team, requester_email, requester_name, subject, "
    "body_text, body_html, message_id, in_reply_to, references_json, reply_to, template, "
    "attempts, queued_at, language"
)


class _GroupEntry:
    """One thread's work in a shared commit (Outbox.together), and how the commit went."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.work = work
        self.settled = False
        self._failure: BaseException | None = None

    def settle(self, failure: BaseException | None) -> None:
        self.settled = True
        self._failure = failure

    def raise_failure(self) -> None:
        """In a thread that did not run the commit: the committing thread's error, as its own."""
        if self._failure is not None:
            raise StateError(f"not recorded: {self._failure}") from self._failure


def _digest_reason(digest: Notice | None, reason: str) -> str:
    if digest is None:
        return reason
    where = f"in digest {digest.message_id} ({digest.subject!r})"
    return f"{reason}; {where}" if reason else f"sent {where}"


def _queued_notice(row: tuple[object, ...]) -> QueuedNotice:
    (_, key, ticket, source, team, email, name, subject, text, html, message_id, in_reply_to,
     references, reply_to, template, attempts, queued_at, language) = row  # fmt: skip
    notice = Notice(
        resolution_key=str(key),
        ticket_id=str(ticket),
        source=str(source),
        team=str(team),
        to_email=str(email),
        to_name=str(name),
        subject=str(subject),
        text=str(text),
        html=None if html is None else str(html),
        message_id=str(message_id),
        in_reply_to=str(in_reply_to),
        references=tuple(json.loads(str(references))),
        reply_to=str(reply_to),
        template=str(template),
        attempt=int(str(attempts)) + 1,
        language=str(language),
    )
    return QueuedNotice(notice, from_stamp(str(queued_at)))
