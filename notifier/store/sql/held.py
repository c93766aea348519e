"""Review of held notices: what ``notifier held``, ``edit``, ``release`` and ``cancel`` change."""

from __future__ import annotations

import json
from datetime import datetime

from notifier.core.audit import words_hash
from notifier.core.clock import from_stamp, to_stamp
from notifier.core.errors import StateError
from notifier.core.model import Notice, Resolution, State
from notifier.core.queue import HeldNotice
from notifier.store.codec import resolution_from_json
from notifier.store.sql.ledger import Ledger


class HeldReview(Ledger):
    """Notices the plain-language gate held, and a reviewer's decisions on them."""

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
            self.wake_others_at_commit()  # due now: whichever instance is free sends it
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
