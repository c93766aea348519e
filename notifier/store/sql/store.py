"""The store: the single source of truth for what was decided, in SQL every backend runs.

One row per resolution key (UNIQUE), so re-reading the same input is always safe. Every state
change writes its audit row in the same transaction (see ``ledger``). It implements the core's
store ports (``notifier.core.ports.StateStore``); ``store/sqlite`` and ``store/postgres`` open
it on their database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from notifier.core.audit import AuditRecord, words_hash
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
from notifier.core.queue import KnownCopy, QueuedNotice, WaitingNotice
from notifier.core.roles import source_lease
from notifier.store.codec import resolution_from_json, resolution_to_json
from notifier.store.sql import audit, transfer
from notifier.store.sql.held import HeldReview
from notifier.store.sql.inbox import WebhookEvents
from notifier.store.sql.trail import TrailQueries

# Requesters asked about in one query by ``sent_to_since_many`` (SQLite's bound-parameter
# limit is 32,766 since 3.32, 999 before; PostgreSQL's is 65,535).
_REQUESTERS_PER_QUERY = 400


class SqlStore(HeldReview, TrailQueries, WebhookEvents):
    """The store: the queue of notices and the checkpoints here, the review of held notices
    (:class:`HeldReview`), the trail's questions (:class:`TrailQueries`) and the webhook inbox
    (:class:`WebhookEvents`) beside, all on one :class:`~notifier.store.sql.ledger.Ledger`.
    Each backend's ``open`` builds it."""

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
                """INSERT INTO notices (resolution_key, ticket_id, source, team,
                    requester_email, requester_name, resolved_at, origin, state, reason,
                    subject, body_text, body_html, template, message_id, in_reply_to,
                    references_json, reply_to, queued_at, next_attempt_at, updated_at,
                    findings_json, resolution_json, explain_json, language)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (resolution_key) DO NOTHING""",
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
            if state is State.QUEUED:  # any instance may send it: the others need not wait
                self.wake_others_at_commit()
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

    def known(self, key: str) -> KnownCopy | None:
        row = self._db.execute(
            "SELECT requester_email, origin FROM notices WHERE resolution_key = ?", (key,)
        ).fetchone()
        return None if row is None else KnownCopy(str(row[0]), str(row[1]))

    def known_for_ticket(self, sources: Sequence[str], ticket_id: str) -> list[KnownCopy]:
        marks = ",".join("?" * len(sources))
        columns = "requester_email, origin, resolution_key, source, resolved_at, state"
        sql = f"SELECT {columns} FROM notices WHERE source IN ({marks}) AND ticket_id = ?"  # noqa: S608 - placeholders only
        rows = self._db.execute(sql + " ORDER BY id", (*sources, ticket_id)).fetchall()
        return [
            KnownCopy(
                str(email),
                str(origin),
                str(key),
                str(source),
                from_stamp(at) if at else None,
                str(state),
            )
            for email, origin, key, source, at, state in rows
        ]

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
                "AND (CAST(? AS TEXT) IS NULL OR resolved_at IS NULL OR resolved_at < ?) ORDER BY id",
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
        Addresses compare case-insensitively, as in the single form; each requester is looked
        up in the ``audit_sent_requester`` index.
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
                "FROM wanted JOIN audit ON "
                + self._db.same_address("audit.requester", "wanted.requester")
                + " WHERE audit.outcome = 'sent' AND audit.at >= ? AND audit.at <= ? "
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

    # -- review of held notices ---------------------------------------------------------------

    def ignore(self, item: Ignored, now: datetime) -> None:
        """Record input that is deliberately not a resolution (auto-reply, bounce, update...)."""
        self._input_record(
            now, "ignored", item.source, item.origin, item.reason, ticket_id=item.ticket_id
        )

    def checkpoint(self, source: str, key: str) -> str | None:
        """A source's last committed progress mark for ``key`` (see ``model.Checkpoint``)."""
        row = self._db.execute(
            "SELECT value FROM source_state WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def holds_lease(self, source: str) -> bool:
        if not self._db.lease_held:
            return True
        row = self._db.execute(
            self._db.lease_held, (source_lease(source), self.instance)
        ).fetchone()
        return row is not None

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
        """Put back notices left ``sending`` by a crash; they go out again with the same Message-ID.

        Only claims no running instance holds: this instance's own (call it between passes,
        when nothing of its own is in flight) and those of instances that stopped renewing
        (``Database.orphaned_claim``); another instance's notices in flight are left alone.
        """
        orphaned = (
            "SELECT id, claimed_by FROM notices WHERE state = 'sending' "  # noqa: S608 - fixed SQL
            f"AND (claimed_by = ? OR claimed_by = '' OR {self._db.orphaned_claim}) ORDER BY id"
        )
        if not self._db.execute(orphaned, (self.instance,)).fetchone():
            return 0  # the usual case, and no write transaction for it
        with self.transaction():
            rows = self._db.execute(orphaned + self._db.claim_lock, (self.instance,)).fetchall()
            for row_id, holder in rows:
                self._db.execute(
                    "UPDATE notices SET state = 'queued', next_attempt_at = ?, updated_at = ?, "
                    "claimed_by = '' WHERE id = ?",
                    (to_stamp(now), to_stamp(now), row_id),
                )
                by = f" by instance {holder}" if holder and holder != self.instance else ""
                self._audit_row(
                    row_id,
                    now,
                    "recovered",
                    f"was being sent{by} when notifier stopped; it will be sent again with the "
                    "same Message-ID",
                )
            return len(rows)

    def claim_due(
        self, now: datetime, limit: int, *, retry_horizon: datetime | None = None
    ) -> list[QueuedNotice]:
        """Mark up to ``limit`` due notices ``sending`` (committed before any is sent).

        ``retry_horizon``: the latest retry time the retry policy can give from ``now``. A
        deferred notice due after it got its retry time before the clock was set back; it is
        due now rather than waiting for the clock to catch up. A notice another instance is
        claiming at the same moment is skipped, never claimed twice (``Database.claim_lock``).
        """
        if limit <= 0:
            return []
        horizon = to_stamp(retry_horizon) if retry_horizon is not None else None
        with self.transaction(audited=False):
            rows = self._db.execute(
                f"""SELECT {_NOTICE_COLUMNS} FROM notices
                    WHERE state IN ('queued', 'deferred') AND (next_attempt_at <= ?
                        OR (state = 'deferred' AND next_attempt_at > ?))
                    ORDER BY next_attempt_at, id LIMIT ?{self._db.claim_lock}""",  # noqa: S608 - fixed column list
                (to_stamp(now), horizon, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE notices SET state = 'sending', attempts = attempts + 1, updated_at = ?, "
                "claimed_by = ? WHERE id = ?",
                [(to_stamp(now), self.instance, row[0]) for row in rows],
            )
        return [_queued_notice(row) for row in rows]

    def unclaim(self, resolution_keys: list[str]) -> None:
        """Hand back claimed notices that were not attempted (the daemon is stopping)."""
        with self.transaction(audited=False):
            self._db.executemany(
                "UPDATE notices SET state = 'queued', attempts = attempts - 1, claimed_by = '' "
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

    # -- moving the state (notifier migrate-state) --------------------------------------------

    def copy_into(self, target: SqlStore) -> Mapping[str, int]:
        """Copy this whole state into ``target``, an empty state on another database, in one
        transaction there; the rows copied per table. Rows written before the audit chain
        existed are sealed first (as this store's next write would): the target accepts
        only rows that carry their hashes."""
        if any(transfer.row_counts(target._db).values()):
            raise StateError(
                f"{target.where}: the target already holds a state; migrate-state copies "
                "into an empty database only"
            )
        with self.transaction():
            audit.seal_legacy(self._db)
        with target.transaction():
            return transfer.copy_state(self._db, target._db)

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


_NOTICE_COLUMNS = (
    "id, resolution_key, ticket_id, source, team, requester_email, requester_name, subject, "
    "body_text, body_html, message_id, in_reply_to, references_json, reply_to, template, "
    "attempts, queued_at, language"
)


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
