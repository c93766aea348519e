"""Znuny's (and OTRS's) notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import Reading, first_group, one_line, unquoted
from notifier.sources.mail.rules import clean_title, strip_quoted
from notifier.sources.mail.types import ParsedMail

# --- Znuny (OTRS) --------------------------------------------------------------------------
# Kernel/System/Email.pm: X-Mailer "<Product> Mail Service (<version>)", X-Powered-By "OTRS
# (https://otrs.com/)"; the subject carries the hook "[Ticket#<number>]". Znuny's default
# notifications (scripts/database/initial_insert.xml) go to agents only, and closing a ticket
# mails the customer nothing: the agent's answer (standard salutation "Dear <name>,", "Thank you
# for your request.", signature "Your Ticket-Team") is read as resolved when it says the state
# it leaves the ticket in ("Ticket state: closed successful", docs/imap-presets.md).

_ZNUNY_BRAND = re.compile(r"\b(?:znuny|otrs)\b", re.IGNORECASE)
_ZNUNY_HOOK = re.compile(r"\[[^\[\]]*?#[:\s]*(?P<id>\d+)\]")
_ZNUNY_STATE = re.compile(
    r"^[ \t]*(?:Ticket[ \t]+)?(?:state|status|zustand)[ \t]*:[ \t]*(?P<state>[^\n]+?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Agent notifications link the ticket in the agent interface (<OTRS_CONFIG_HttpType>://...
# index.pl?Action=AgentTicketZoom;TicketID=...); mail to the customer never does.
_ZNUNY_AGENT_LINK = re.compile(r"\bAction=AgentTicketZoom\b")
_ZNUNY_SOLVED = frozenset({"closed successful", "erfolgreich geschlossen"})
_ZNUNY_GREETING = re.compile(
    r"\A\s*(?:Dear|Hello|Hi|Hallo|Sehr geehrte[rs]?|Liebe[rs]?)\b[^\n]*,[ \t]*\n"
)
_ZNUNY_THANKS = re.compile(
    r"^[ \t]*(?:Thank you for your request|Vielen Dank für Ihre Anfrage)\.?[ \t]*$", re.M | re.I
)
# Where the answer ends: the state line, the signature, the attribution of the quoted mail.
_ZNUNY_END = re.compile(
    r"[ \t]*(?:(?:Ticket[ \t]+)?(?:state|status|zustand)[ \t]*:|Your Ticket-Team\b|"
    r"Ihr Ticket-Team\b|--[ \t]*$|[^\n]*\b(?:wrote|schrieb):[ \t]*$)",
    re.IGNORECASE,
)


def _znuny_answer(text: str) -> str:
    body = _ZNUNY_THANKS.sub("", _ZNUNY_GREETING.sub("", text, count=1), count=1)
    lines: list[str] = []
    for line in body.split("\n"):
        if _ZNUNY_END.match(line):
            break
        lines.append(line)
    return strip_quoted("\n".join(lines)).strip()


def read_znuny(mail: ParsedMail) -> Reading | None:
    brand = f"{mail.header('x-mailer')} {mail.header('x-powered-by')}"
    hook = _ZNUNY_HOOK.search(one_line(mail.subject))
    if not _ZNUNY_BRAND.search(brand) or hook is None:
        return None
    ticket_id = hook.group("id")
    title = clean_title(_ZNUNY_HOOK.sub("", one_line(mail.subject), count=1))
    visible = unquoted(mail.text)
    if _ZNUNY_AGENT_LINK.search(visible):  # a notification for agents, whatever it says
        return Reading(ticket_id, "update", "agent notification", title=title)
    state = first_group(_ZNUNY_STATE, visible, "state")
    if not state:
        return Reading(
            ticket_id,
            "update",
            "notification, auto response or answer without a state",
            title=title,
        )
    if state.lower() not in _ZNUNY_SOLVED:
        return Reading(ticket_id, "update", f"state {state}", title=title)
    return Reading(
        ticket_id, "resolved", f"state {state}", title=title, note=_znuny_answer(visible),
        to_customer=True,
    )  # fmt: skip
