"""ServiceNow's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import Reading, first_group, note_block, one_line
from notifier.sources.mail.types import ParsedMail

# --- ServiceNow ----------------------------------------------------------------------------
# Base-system caller notifications: "Incident INC0010001 has been resolved", "... has been
# reopened", "Incident INC0010001 -- comments added"; the body lists "Short description: ..."
# and ends with the watermark "Ref:MSG0000123" (prefix configurable, random suffix since Jakarta).

_SN_NUMBER = r"(?P<id>(?:INC|RITM|REQ|SCTASK|TASK|CS|PRB|CHG)\d{7,})"
_SN_ANY = re.compile(rf"\b{_SN_NUMBER}\b")
_SN_RESOLVED = re.compile(rf"\b{_SN_NUMBER}\b[^\n]*?\bhas been resolved\b", re.I)
# Sent when a resolved incident closes (by the caller, or auto-close days later): told already.
_SN_CLOSED = re.compile(rf"\b{_SN_NUMBER}\b[^\n]*?\bhas been closed\b", re.I)
_SN_REOPENED = re.compile(rf"\b{_SN_NUMBER}\b[^\n]*?\bhas been reopened\b", re.I)
_SN_WATERMARK = re.compile(r"\bRef:(?P<mark>[A-Za-z]+\d{4,}(?:_[A-Za-z0-9]+)?)")
_SN_SHORT = re.compile(r"^[ \t]*Short description:[ \t]*(?P<title>.+?)\s*$", re.M | re.I)
_SN_NOTE = re.compile(
    r"^[ \t]*(?:Resolution notes|Close notes|Resolution)[ \t]*:[ \t]*", re.M | re.I
)
# Where the note ends: the next "Field name:" line, a sentence of the template, the watermark.
_SN_NOTE_END = re.compile(
    r"[ \t]*(?:[A-Z][a-z]*(?:[ \t][a-z][A-Za-z]*){0,3}[ \t]*:(?:[ \t]|$)|If you feel\b|"
    r"Click here\b|To view\b|Thank you\b|Ref:[A-Za-z]+\d)"
)


def read_servicenow(mail: ParsedMail) -> Reading | None:
    subject = one_line(mail.subject)
    number = _SN_ANY.search(subject)
    watermark = _SN_WATERMARK.search(mail.text)
    resolved = _SN_RESOLVED.search(subject)
    reopened = _SN_REOPENED.search(subject)
    closed = _SN_CLOSED.search(subject)
    from_sn = mail.sender.address.lower().endswith(".service-now.com")
    if number is None or not (watermark or from_sn or resolved or reopened or closed):
        return None
    ticket_id = number.group("id")
    title = first_group(_SN_SHORT, mail.text, "title")
    fields = {"watermark": watermark.group("mark")} if watermark else {}
    if reopened:
        return Reading(ticket_id, "reopened", "has been reopened", title=title)
    if closed and not resolved:
        return Reading(ticket_id, "update", "closed after being resolved", title=title)
    if resolved:
        note = note_block(mail.text, _SN_NOTE, _SN_NOTE_END)
        return Reading(ticket_id, "resolved", "has been resolved", title, note=note, fields=fields)
    return Reading(ticket_id, "update", "opened, commented or assigned", title=title)
