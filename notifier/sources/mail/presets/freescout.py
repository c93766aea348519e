"""FreeScout's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import (
    SCAN_CHARS,
    Reading,
    first_group,
    is_address,
    one_line,
    same_name,
)
from notifier.sources.mail.rules import clean_title, strip_quoted
from notifier.sources.mail.types import ParsedMail

# --- FreeScout -----------------------------------------------------------------------------
# Every FreeScout mail has X-FreeScout-Mail-Type ("customer.message", "user.notification",
# ...). User notifications have subject "[#<number>] <subject>" and start with "<person> marked
# as <Status> conversation #<number>" for status changes (Closed, Active, Pending, Spam). The
# HTML part says "Replying to this notification will email <name> (<address>)"; the text part
# only names the customer ("## <name> started the conversation"), by address when no name, so
# the address is looked for in both.

_FS_SUBJECT = re.compile(r"^\[#(?P<id>\d+)\]\s*(?P<title>.*)$")
_FS_STATUS = re.compile(
    r"\bmarked as (?P<status>[A-Za-z ]+?) conversation #(?P<id>\d+)", re.IGNORECASE
)
_FS_NUMBER = re.compile(r"\bconversation #(?P<id>\d+)", re.IGNORECASE)
_FS_REPLYING = re.compile(
    r"Replying to this notification will email (?P<name>[^(\n]*?)\s*\(\s*(?P<email>[^()\s]+@[^()\s]+)\s*\)"
)
_FS_STARTED = re.compile(r"^#+\s*(?P<who>.+?)\s+started the conversation\b", re.MULTILINE)
# notification_text.blade.php: each thread as "## <person> replied, on <date>:" and its text,
# between dashed lines, newest first ("added a note" threads are internal: never the note).
_FS_REPLIED = re.compile(r"^#+[ \t]*(?P<who>.+?)[ \t]+replied, on [^\n]*:[ \t]*$", re.M)
_FS_RULE = re.compile(r"-{10,}[ \t]*$")


def _freescout_note(text: str, customer: str) -> str:
    """The newest reply that is not the customer's."""
    text = text[:SCAN_CHARS]
    for found in _FS_REPLIED.finditer(text):
        if customer and same_name(found.group("who"), customer):
            continue
        lines: list[str] = []
        for line in text[found.end() :].split("\n")[1:]:
            if _FS_RULE.match(line):
                break
            lines.append(line)
        return strip_quoted("\n".join(lines)).strip()
    return ""


def read_freescout(mail: ParsedMail) -> Reading | None:
    mail_type = mail.header("x-freescout-mail-type").strip().lower()
    if not mail_type:
        return None
    subject = one_line(mail.subject)
    titled = _FS_SUBJECT.match(subject)
    title = titled.group("title").strip() if titled else clean_title(subject)
    ticket_id = titled.group("id") if titled else first_group(_FS_NUMBER, mail.text, "id")
    if mail_type != "user.notification":
        return Reading(ticket_id, "update", f"{mail_type} (status shows in user notifications)")
    status = _FS_STATUS.search(mail.text)
    if status is None:
        return Reading(ticket_id, "update", "reply, note or assignment", title=title)
    ticket_id = ticket_id or status.group("id")
    word = status.group("status").strip().lower()
    if word == "active":
        return Reading(ticket_id, "reopened", "marked as Active", title=title)
    if word != "closed":
        return Reading(ticket_id, "update", f"marked as {word.title()}", title=title)
    email, name = "", ""
    # FreeScout writes this line in the HTML part; in the text part it could only be quoted
    # customer text, so the HTML part is asked first (HTML-only mail has it in ``text``).
    if replying := _FS_REPLYING.search(mail.html_text) or _FS_REPLYING.search(mail.text):
        email, name = replying.group("email"), replying.group("name").strip()
    who = first_group(_FS_STARTED, mail.text, "who")
    if not email and is_address(who):
        email = who
    elif not name:
        name = who
    note = _freescout_note(mail.text, who)
    return Reading(
        ticket_id, "resolved", "marked as Closed", title, requester_email=email,
        requester_name=name, note=note,
    )  # fmt: skip
