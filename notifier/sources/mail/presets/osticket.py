"""osTicket's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import Reading, one_line, unquoted
from notifier.sources.mail.rules import clean_title, strip_quoted
from notifier.sources.mail.types import ParsedMail

# --- osTicket ------------------------------------------------------------------------------
# Default template ticket.reply (include/i18n/en_US/templates/email/ticket.reply.yaml): subject
# "Re: %{ticket.subject} [#%{ticket.number}]", body "Dear %{recipient.name.first}," %{response}
# "Your %{company.name} Team," %{signature}; mailed to the ticket's user. Ticket::postReply sets
# the reply's status before rendering it, so a "Status: %{ticket.status}" line an admin adds to
# the template reads "Resolved" or "Closed" (include/i18n/en_US/ticket_status.yaml); the default
# template has none. "[#n] Closed" with "...resolved and closed your ticket" is
# ticket.autoclose.yaml from osTicket's unreleased auto-close work (docs/imap-presets.md).

_OST_SUBJECT = re.compile(
    r"^(?P<title>.*?)\s*\[#(?P<id>[A-Za-z0-9][A-Za-z0-9-]*)\](?P<closed>\s+Closed)?\s*$",
    re.IGNORECASE,
)
_OST_CLOSED_BODY = re.compile(r"\bresolved and closed your ticket\b", re.IGNORECASE)
_OST_STATUS = re.compile(
    r"^[ \t]*(?:Ticket[ \t]+)?Status[ \t]*:[ \t]*(?P<status>[^\n]+?)[ \t]*$", re.M | re.I
)
_OST_DONE = frozenset({"resolved", "closed"})
_OST_GREETING = re.compile(r"^[ \t#*]*Dear\b[^\n]*,[ \t*]*$", re.MULTILINE)
_OST_TEAM = re.compile(r"^[ \t]*Your\b[^\n]*\bTeam,[ \t]*$", re.MULTILINE)


def _osticket_response(text: str) -> str:
    """%{response}: between the greeting and the team's sign-off, without the status line."""
    start = _OST_GREETING.search(text)
    body = text[start.end() :] if start else text
    end = _OST_TEAM.search(body)
    body = body[: end.start()] if end else body
    return strip_quoted(_OST_STATUS.sub("", body))


# Staff alerts (ticket.alert, message.alert, note.alert, assigned.alert, transfer.alert,
# ticket.overdue.yaml) have subjects without the [#number] tag; their text names the ticket:
# "New ticket #%{ticket.number} created", "New message appended to ticket #...".
_OST_ALERT_SUBJECT = re.compile(
    r"^(?:New Ticket Alert|New Message Alert|New Internal Activity Alert|Ticket Assigned to you|"
    r"Stale Ticket Alert|Ticket #\S+ transfer\b)",
    re.IGNORECASE,
)
_OST_ALERT_TICKET = re.compile(r"\bticket\s+#(?P<id>[A-Za-z0-9][A-Za-z0-9-]*)", re.IGNORECASE)


def _read_osticket_alert(mail: ParsedMail) -> Reading | None:
    subject = one_line(mail.subject)
    if "osticket" not in mail.header("x-mailer").lower() or not _OST_ALERT_SUBJECT.match(subject):
        return None
    found = _OST_ALERT_TICKET.search(subject) or _OST_ALERT_TICKET.search(mail.text)
    ticket_id = found.group("id") if found else ""
    return Reading(ticket_id, "update", f"staff alert: {subject}")


def read_osticket(mail: ParsedMail) -> Reading | None:
    match = _OST_SUBJECT.match(one_line(mail.subject))
    if match is None:
        return _read_osticket_alert(mail)
    ticket_id, title = match.group("id"), clean_title(match.group("title"))
    if match.group("closed") or _OST_CLOSED_BODY.search(mail.text):
        return Reading(ticket_id, "resolved", "ticket closed notice", title=title)
    visible = unquoted(mail.text)
    status = _OST_STATUS.search(visible)
    if status and status.group("status").lower() in _OST_DONE:
        word = status.group("status")
        note = _osticket_response(visible)
        return Reading(ticket_id, "resolved", f"reply with status {word}", title=title, note=note)
    return Reading(ticket_id, "update", "reply or alert", title=title)
