"""GLPI's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from notifier.sources.mail.presets.reading import Kind, Reading, first_group, note_block, one_line
from notifier.sources.mail.types import ParsedMail

# --- GLPI ----------------------------------------------------------------------------------
# NotificationTargetTicket: subject prefix "[GLPI #%07d] " (tag configurable per entity), default
# subject "##ticket.action## ##ticket.title##" with actions "Ticket solved" (event solved),
# "Solution rejected" (rejectsolution), "Closing of the ticket", "Update of a ticket", ...; the
# default body has "Solution description : ..." when solved and "Requester : <name>".

_GLPI_SUBJECT = re.compile(r"^\[(?P<tag>[^\[\]#]+?)\s+#(?P<id>\d+)\]\s*(?P<rest>.*)$")
_GLPI_ACTIONS: Mapping[str, Kind] = MappingProxyType(
    {
        "ticket solved": "resolved",
        "solution rejected": "reopened",
        # Sent after "Ticket solved" when the ticket closes: already told.
        "closing of the ticket": "update",
        "new ticket": "update",
        "update of a ticket": "update",
        "new followup": "update",
        "update of a followup": "update",
        "new task": "update",
        "update of a task": "update",
        "validation request": "update",
        "validation request answer": "update",
        "satisfaction survey": "update",
    }
)
_GLPI_TITLE = re.compile(r"^[ \t]*Title[ \t]*:[ \t]*(?P<title>.+?)\s*$", re.MULTILINE)
_GLPI_REQUESTER = re.compile(r"^[ \t]*Requesters?[ \t]*:[ \t]*(?P<name>.+?)\s*$", re.MULTILINE)
_GLPI_SOLUTION = re.compile(r"^[ \t]*Solution description[ \t]*:[ \t]*", re.M)
# The default template goes on with the "Description" heading, then " Label : value" lines.
_GLPI_SOLUTION_END = re.compile(r"[ \t]*(?:Description[ \t]*$|[A-Z][\w ]{0,40}[ \t]:(?:[ \t]|$))")


def read_glpi(mail: ParsedMail) -> Reading | None:
    match = _GLPI_SUBJECT.match(one_line(mail.subject))
    if match is None or not match.group("id").isdigit():
        return None
    ticket_id = str(int(match.group("id")))  # "[GLPI #0000123]" is ticket 123
    rest = match.group("rest")
    kind: Kind = "update"
    action = ""
    for name, action_kind in _GLPI_ACTIONS.items():
        if rest.lower().startswith(name):
            action, kind = rest[: len(name)], action_kind
            break
    title = first_group(_GLPI_TITLE, mail.text, "title") or rest[len(action) :].strip()
    reason = action or "other notification"
    if kind != "resolved":
        return Reading(ticket_id, kind, reason, title=title)
    requester = first_group(_GLPI_REQUESTER, mail.text, "name").split(",")[0].strip()
    note = note_block(mail.text, _GLPI_SOLUTION, _GLPI_SOLUTION_END)
    return Reading(ticket_id, "resolved", reason, title=title, requester_name=requester, note=note)
