"""Request Tracker's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import Reading, one_line
from notifier.sources.mail.rules import clean_title
from notifier.sources.mail.types import ParsedMail

# --- Request Tracker -----------------------------------------------------------------------
# RT's SendEmail sets X-RT-Ticket: "<rtname> #<id>" (RT 3: RT-Ticket), X-RT-Loop-Prevention and
# X-Managed-by: "RT <version> ...", and tags the subject "[<rtname> #<id>]". The default scrip
# "On Resolve Notify Requestors" uses the "Resolved" template: "Subject: Resolved: {subject}".

_RT_HEADER = re.compile(r"^\s*(?P<rtname>.+?)\s+#(?P<id>\d+)\s*$")
_RT_TAG = re.compile(r"\[(?P<rtname>[^\[\]]+?)\s+#(?P<id>\d+)\]\s*")
_RT_RESOLVED = re.compile(r"^Resolved:\s*(?P<title>.*)$", re.IGNORECASE)
_RT_STATUS = re.compile(r"^Status Changed to:\s*(?P<status>\S+)", re.IGNORECASE)


def read_rt(mail: ParsedMail) -> Reading | None:
    subject = one_line(mail.subject)
    header = _RT_HEADER.match(mail.header("x-rt-ticket") or mail.header("rt-ticket"))
    tag = _RT_TAG.search(subject)
    managed = (mail.header("x-managed-by") or mail.header("managed-by")).startswith("RT ")
    if header is None and not (tag and (managed or mail.header("x-rt-loop-prevention"))):
        return None
    source = header or tag
    assert source is not None  # one of them matched above
    ticket_id, rtname = source.group("id"), source.group("rtname").strip()
    rest = _RT_TAG.sub("", subject, count=1).strip() if tag else subject
    fields = {"rtname": rtname}
    if resolved := _RT_RESOLVED.match(rest):
        title = clean_title(resolved.group("title"))
        return Reading(ticket_id, "resolved", "Resolved template", title=title, fields=fields)
    if status := _RT_STATUS.match(rest):
        new = status.group("status").lower()
        if new in {"open", "new"}:
            return Reading(ticket_id, "reopened", f"status changed to {new}", fields=fields)
        # "Status Changed to: resolved" comes with the Resolved mail when both scrips are on;
        # counting it too would tell the requester twice.
        return Reading(ticket_id, "update", f"status changed to {new}", fields=fields)
    return Reading(ticket_id, "update", "correspondence, comment or autoreply", fields=fields)
