"""Freshdesk's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import Reading, one_line
from notifier.sources.mail.rules import clean_title
from notifier.sources.mail.types import ParsedMail

# --- Freshdesk -----------------------------------------------------------------------------
# Requester notifications (Admin > Email Notifications): "Agent solves the ticket" with subject
# "Ticket Resolved - {{ticket.subject}}", "Agent closes the ticket" ("Ticket Closed - ..."); the
# ticket id appears as "[#<id>]" in the subject and in the ticket link /helpdesk/tickets/<id>.

_FD_TAG = re.compile(r"\[#(?P<id>\d+)\]")
_FD_LINK = re.compile(r"/(?:helpdesk|support)/tickets/(?P<id>\d+)")
_FD_STATE = re.compile(r"\bTicket\s+(?P<state>Resolved|Closed|Re-?opened)\b", re.IGNORECASE)
_FD_PREFIX = re.compile(
    r"^\s*Ticket\s+(?:Resolved|Closed|Re-?opened|Received|Updated)\s*[-:–]\s*", re.IGNORECASE
)
_FD_BODY_RESOLVED = re.compile(r"\bhas been resolved\b", re.IGNORECASE)


def read_freshdesk(mail: ParsedMail) -> Reading | None:
    subject = one_line(mail.subject)
    found = _FD_TAG.search(subject) or _FD_LINK.search(mail.text)
    if found is None:
        return None
    ticket_id = found.group("id")
    title = clean_title(_FD_PREFIX.sub("", _FD_TAG.sub(" ", subject).strip()))
    state = _FD_STATE.search(subject)
    word = state.group("state").lower().replace("-", "") if state else ""
    if word == "reopened":
        return Reading(ticket_id, "reopened", "ticket reopened", title=title)
    if word == "resolved" or (not word and _FD_BODY_RESOLVED.search(mail.text)):
        return Reading(ticket_id, "resolved", "ticket resolved", title=title)
    if word == "closed":
        # Freshdesk mails "Resolved" first and "Closed" when the ticket is later closed;
        # the requester was already told.
        return Reading(ticket_id, "update", "ticket closed after being resolved", title=title)
    return Reading(ticket_id, "update", "reply or update", title=title)
