"""Zendesk's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re
from collections.abc import Collection

from notifier.sources.mail.presets.reading import SCAN_CHARS, Reading, one_line, unquoted
from notifier.sources.mail.rules import clean_title
from notifier.sources.mail.types import ParsedMail

# --- Zendesk -------------------------------------------------------------------------------
# Zendesk mail carries X-Zendesk-* headers and the reply marker "##- Please type your reply
# above this line -##". The requester notification for a solved ticket (trigger "Notify
# requester of solved request") reads "Your request (#<id>) has been solved" (some accounts'
# trigger texts have "({{ticket.id}})", without the "#"); subjects look like
# "[<account>] Re: <title>" or "Request #<id>: <title> has been solved".

_ZD_MARKER = "##- Please type your reply above this line -##"
_ZD_ID = re.compile(r"\b(?:request|ticket)\s*\(?\s*#(?P<id>\d+)", re.IGNORECASE)
# Without the "#" a number in brackets is an id only in the trigger's own sentence: a title may
# say "Laptop request (2 units)".
_ZD_ID_NO_HASH = re.compile(r"\brequest\s*\(\s*(?P<id>\d+)\s*\)\s*has been\b", re.IGNORECASE)
_ZD_SOLVED = re.compile(r"\bhas been (?:deemed )?(?:solved|resolved)\b", re.IGNORECASE)
_ZD_REOPENED = re.compile(r"\bhas been re-?opened\b", re.IGNORECASE)
_ZD_REQUEST_SUBJECT = re.compile(
    r"^Request\s*#\d+\s*:?\s*\"?(?P<title>.*?)\"?\s+has been\b", re.IGNORECASE
)


# {{ticket.comments_formatted}} / the latest comment: "<author> (<organisation>)", a date line
# "Mar 4, 2024, 15:03 UTC", the comment; newest first, the requester's request last, then the
# "[XXXXXX-XXXX]" mail tag.
_ZD_DATE = re.compile(
    r"^[ \t]*[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4},? (?:at )?\d{1,2}:\d{2}(?:[ \t]?[AP]M)?"
    r"(?:[ \t]+[A-Z]{2,5}(?:[+-]\d{1,2})?)?[ \t]*$"
)
_ZD_TAG = re.compile(r"^[ \t]*\[[A-Z0-9]{4,8}-[A-Z0-9]{4,8}\][ \t]*$")


def _zendesk_note(text: str, requester: Collection[str]) -> str:
    """The newest comment not written by the requester (``requester``: their names and
    addresses, casefolded): from its date line to the next comment's author line."""
    lines = unquoted(text[:SCAN_CHARS]).split("\n")
    dates = [i for i, line in enumerate(lines) if _ZD_DATE.match(line)]
    for n, start in enumerate(dates):
        above = start - 1  # the author line: the last non-blank line above the date
        while above >= 0 and not lines[above].strip():
            above -= 1
        author = lines[above] if above >= 0 else ""
        if re.sub(r"\s*\([^()]*\)\s*$", "", author).strip().casefold() in requester:
            continue
        end = dates[n + 1] if n + 1 < len(dates) else len(lines)
        body = lines[start + 1 : end]
        tag = next((i for i, ln in enumerate(body) if _ZD_TAG.match(ln)), None)
        if tag is not None:
            body = body[:tag]
        elif n + 1 < len(dates):  # the next comment's author line is not the note
            while body and not body[-1].strip():
                body.pop()
            body = body[:-1]
        return "\n".join(body).strip()
    return ""


def read_zendesk(mail: ParsedMail) -> Reading | None:
    zendesk = (
        any(name.startswith("x-zendesk") for name in mail.headers)
        or _ZD_MARKER in mail.text
        or "zendesk.com>" in mail.message_id.lower()
    )
    subject = one_line(mail.subject)
    found = _ZD_ID.search(subject) or _ZD_ID.search(mail.text) or _ZD_ID_NO_HASH.search(mail.text)
    if not zendesk or found is None:
        return None
    ticket_id = found.group("id")
    titled = _ZD_REQUEST_SUBJECT.match(subject)
    title = titled.group("title").strip() if titled else clean_title(subject)
    both = f"{subject}\n{mail.text}"
    if _ZD_REOPENED.search(both):
        return Reading(ticket_id, "reopened", "ticket reopened", title=title)
    if _ZD_SOLVED.search(both):
        requester = {v.casefold() for a in mail.to for v in (a.name, a.address) if v}
        note = _zendesk_note(mail.text, requester)
        return Reading(ticket_id, "resolved", "ticket solved", title=title, note=note)
    return Reading(ticket_id, "update", "received or comment update", title=title)
