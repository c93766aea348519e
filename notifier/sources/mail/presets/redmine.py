"""Redmine's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from notifier.sources.mail.presets.reading import SCAN_CHARS, Kind, Reading, first_group, one_line
from notifier.sources.mail.rules import clean_title
from notifier.sources.mail.types import ParsedMail

# --- Redmine -------------------------------------------------------------------------------
# app/models/mailer.rb: X-Mailer "Redmine", X-Redmine-Issue-Id, List-Id, one mail per recipient;
# subject "[<project> - <tracker> #<id>] (<status>) <subject>". issue_edit.text.erb: "Issue #<id>
# has been updated by <user>.", the journal details ("Status changed from In Progress to
# Resolved", config/locales: text_journal_changed), the notes, a dashed line, then the issue
# with "* Author: <name>". Default statuses: New, In Progress, Resolved, Feedback, Closed,
# Rejected (lib/redmine/default_data/loader.rb); Resolved is followed by Closed.

_RM_SUBJECT = re.compile(
    r"\[(?P<project>[^\[\]]+?) - (?P<tracker>[^\[\]]+?) #(?P<id>\d+)\]\s*(?P<rest>.*)$"
)
_RM_STATUS_PAREN = re.compile(r"^\([^()]*\)\s*")
_RM_STATUS_CHANGE = re.compile(
    r"^[ \t*]*(?:Status changed from (?P<en_old>.+?) to (?P<en_new>.+?)|"
    r"Status wurde von (?P<de_old>.+?) zu (?P<de_new>.+?) geändert|"
    r"Statut changé de (?P<fr_old>.+?) à (?P<fr_new>.+?)|"
    r"Estado cambiado de (?P<es_old>.+?) a (?P<es_new>.+?))[ \t]*$",
    re.MULTILINE,
)
_RM_RESOLVED = frozenset({"resolved", "gelöst", "résolu", "resuelta"})
_RM_CLOSED = frozenset({"closed", "erledigt", "fermé", "cerrada"})
_RM_REJECTED = frozenset({"rejected", "abgewiesen", "rejeté", "rechazada"})
_RM_AUTHOR = re.compile(
    r"^[ \t]*\*[ \t]*(?:Author|Autor|Auteur)[ \t]*:[ \t]*(?P<name>.+?)\s*$", re.M
)
_RM_UPDATED = re.compile(r"^[^\n]*#\d+[^\n]*$", re.MULTILINE)
# Mailer#token_for: "redmine.journal-<id>.<created_on in UTC, %Y%m%d%H%M%S>[.<user id>]@host".
_RM_JOURNAL_ID = re.compile(r"<redmine\.journal-\d+\.(?P<at>\d{14})[.@]")


def _journal_time(mail: ParsedMail) -> datetime | None:
    """When the journal was saved, from Redmine's Message-ID: the mail is built later, by a
    background job (deliver_later), so its Date may put two changes the other way round."""
    found = _RM_JOURNAL_ID.search(mail.header("message-id"))
    if found is None:
        return None
    try:
        return datetime.strptime(found.group("at"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _redmine_journal(text: str) -> str:
    """What issue_edit.text.erb writes above the dashed line of the issue block: the header
    line, a blank line, the details one per line, a blank line, the notes."""
    return text[:SCAN_CHARS].split("\n----------------------------------------", 1)[0]


def _redmine_note(head: str) -> str:
    """The journal notes of ``head`` (:func:`_redmine_journal`)."""
    first = _RM_UPDATED.search(head)
    lines = (head[first.end() :] if first else head).split("\n")[2:]  # its end, the blank
    while lines and lines[0].strip():  # the details block (none: a second blank line)
        lines.pop(0)
    return "\n".join(lines).strip()


def _redmine_kind(old: str, new: str) -> tuple[Kind, str]:
    done = _RM_RESOLVED | _RM_CLOSED | _RM_REJECTED
    change = f"status {old} -> {new}"
    old, new = old.lower(), new.lower()
    if new in _RM_REJECTED:
        return "update", f"{change} (rejected, not resolved)"
    if new in _RM_RESOLVED or new in _RM_CLOSED:
        if old in _RM_RESOLVED:  # Resolved, then Closed: the requester was told already
            return "update", f"{change} (closed after being resolved)"
        if old in done:
            return "update", change
        return "resolved", change
    if old in done:
        return "reopened", change
    return "update", change


def read_redmine(mail: ParsedMail) -> Reading | None:
    subject = one_line(mail.subject)
    match = _RM_SUBJECT.search(subject)
    issue_id = mail.header("x-redmine-issue-id").strip()
    if match is None and not issue_id.isdigit():
        return None
    if match is None and mail.header("x-mailer").strip().lower() != "redmine":
        return None
    ticket_id = issue_id if issue_id.isdigit() else match.group("id") if match else ""
    title = clean_title(_RM_STATUS_PAREN.sub("", match.group("rest"))) if match else ""
    journal = _redmine_journal(mail.text)
    status = _RM_STATUS_CHANGE.search(journal)
    if status is None:
        return Reading(ticket_id, "update", "note or other change, status unchanged", title=title)
    lang = next(k[:2] for k, v in status.groupdict().items() if v is not None)
    kind, reason = _redmine_kind(status.group(f"{lang}_old"), status.group(f"{lang}_new"))
    at = _journal_time(mail)
    if kind != "resolved":
        return Reading(ticket_id, kind, reason, title=title, at=at)
    author = first_group(_RM_AUTHOR, mail.text, "name")
    note = _redmine_note(journal)
    return Reading(ticket_id, "resolved", reason, title, requester_name=author, note=note, at=at)
