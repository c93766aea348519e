"""django-helpdesk's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import Reading, note_block, one_line
from notifier.sources.mail.types import ParsedMail

# --- django-helpdesk -----------------------------------------------------------------------
# src/helpdesk/fixtures/emailtemplate.json: subject "[<queue>-<id>] <title> (<state>)" with
# the state word per template and locale (resolved_*: Resolved, Gelöst, Résolu, Resuelto,
# Risolto, ...; closed_*: Closed, Geschlossen, Fermé, cerrado, ...); resolved_submitter says
# "The following resolution was added to ticket [<id>]:", resolved_cc/owner "The resolution
# provided was:" and "Submitter: <address>". Only Django's own headers: the subject and the
# ticket reference in the text are the marks. The submitter is mailed first; the queue's own
# address never.

DH_SUBJECT = re.compile(
    r"^\[(?P<id>[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*-\d+)\]\s*"
    r"(?P<title>.*?)\s*\((?P<state>[^()]+)\)\s*$"
)
_DH_RESOLVED = frozenset(
    {
        "resolved",
        "gelöst",
        "résolu",
        "resuelto",
        "risolto",
        "rozwiązane",
        "rozřešeno",
        "ratkaistu",
        "解决",
    }
)
_DH_CLOSED = frozenset(
    {
        "closed",
        "geschlossen",
        "fermé",
        "cerrado",
        "zamknięte",
        "uzavřeno",
        "valmistunut",
        "已关闭",
    }
)
_DH_NOTE = re.compile(
    r"^[^\n]*\b(?:resolution was added to ticket|resolution provided was)\b[^\n]*:[ \t]*$",
    re.M | re.I,
)
_DH_NOTE_END = re.compile(
    r"[ \t]*(?:Can you please confirm\b|This resolution has been e-mailed\b|"
    r"If you (?:wish|believe|need)\b|"
    r"Regards,|The original ticket description\b)"
)


def read_django_helpdesk(mail: ParsedMail) -> Reading | None:
    match = DH_SUBJECT.match(one_line(mail.subject))
    if match is None:
        return None
    ticket_id, title = match.group("id"), match.group("title").strip()
    state = match.group("state").split(" - ", 1)[0].strip()
    word = state.casefold()
    if word in _DH_CLOSED:
        # closed_submitter follows resolved_submitter when the submitter confirms: told already.
        return Reading(ticket_id, "update", f"({state}): closed after being resolved", title=title)
    if word not in _DH_RESOLVED:
        return Reading(ticket_id, "update", f"({state})", title=title)
    note = note_block(mail.text, _DH_NOTE, _DH_NOTE_END)
    return Reading(ticket_id, "resolved", f"({state})", title=title, note=note)
