"""Roundup's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import (
    SCAN_CHARS,
    Reading,
    first_group,
    note_block,
    one_line,
)
from notifier.sources.mail.rules import clean_title, strip_quoted
from notifier.sources.mail.types import ParsedMail

# --- Roundup -------------------------------------------------------------------------------
# roundup/roundupdb.py (nosymessage, send_message): one mail per nosy recipient, subject
# "[issue<id>] <title>", headers X-Roundup-Name, X-Roundup-issue-Id, X-Roundup-issue-status;
# body "<name> <address> added the comment:" (or "New submission from ...:"), the message, then
# the change note after "----------" ("status: chatting -> resolved") and the tracker's
# signature between "____" lines. The classic schema's done statuses are resolved and done-cbb
# (its statusauditor reopens them to chatting on a new message).

_RU_SUBJECT = re.compile(r"\[(?P<id>[A-Za-z_]+\d+)\]\s*(?P<title>.*)$")
_RU_STATUS = re.compile(
    r"^status:[ \t]*(?P<old>[^\n]*?)[ \t]*->[ \t]*(?P<new>[^\n]*?)[ \t]*$", re.M
)
_RU_DONE = frozenset({"resolved", "done-cbb"})
_RU_AUTHOR_LINE = re.compile(r"\A\s*[^\n]*:[ \t]*$", re.MULTILINE)
_RU_AUTHOR = re.compile(r"\A\s*[^\n<]*<(?P<address>[^<>\s]+@[^<>\s]+)>[^\n]*:[ \t]*$", re.MULTILINE)
_RU_NOTE_END = re.compile(r"-{10}[ \t]*$|_{20,}[ \t]*$")


def read_roundup(mail: ParsedMail) -> Reading | None:
    if not any(name.startswith("x-roundup-") for name in mail.headers):
        return None
    match = _RU_SUBJECT.search(one_line(mail.subject))
    if match is None:
        return None
    ticket_id, title = match.group("id"), clean_title(match.group("title"))
    # The change note: after the last "----------" line, above the "____" signature.
    before_signature = re.split(r"^_{20,}[ \t]*$", mail.text[:SCAN_CHARS], maxsplit=1, flags=re.M)[
        0
    ]
    notes = re.split(r"^-{10}[ \t]*$", before_signature, flags=re.M)
    change = _RU_STATUS.search(notes[-1]) if len(notes) > 1 else None
    if change is None:
        return Reading(ticket_id, "update", "message without a status change", title=title)
    old, new = change.group("old").lower(), change.group("new").lower()
    reason = f"status {old} -> {new}"
    if new in _RU_DONE and old not in _RU_DONE:
        note = strip_quoted(note_block(mail.text, _RU_AUTHOR_LINE, _RU_NOTE_END))
        author = first_group(_RU_AUTHOR, mail.text, "address")
        return Reading(
            ticket_id, "resolved", reason, title=title, note=note,
            actors=(author,) if author else (),
        )  # fmt: skip
    if old in _RU_DONE and new not in _RU_DONE:
        return Reading(ticket_id, "reopened", reason, title=title)
    return Reading(ticket_id, "update", reason, title=title)
