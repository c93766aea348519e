"""Zammad's notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import (
    SCAN_CHARS,
    Reading,
    note_block,
    one_line,
    unquoted,
)
from notifier.sources.mail.rules import clean_title, strip_quoted
from notifier.sources.mail.types import ParsedMail

# --- Zammad --------------------------------------------------------------------------------
# Outgoing mail carries X-Mailer: "Zammad Mail Service" and X-Powered-By: "Zammad - ..."; the
# subject carries the ticket hook "[Ticket#<number>]". The agent notification ticket_update
# ("Updated Ticket (<title>)") lists "Changes:" as "state: open -> closed" and quotes the article
# under "Information:". It names no customer address, but is threaded (References) under the
# ticket's articles, the first of which is the customer's own mail.

_ZAMMAD_HOOK = re.compile(r"\[(?P<hook>[^\[\]#]*)#(?P<id>\d+)\]")
_ZAMMAD_STATE = re.compile(
    r"^\s*(?:state|status|zustand)\s*:\s*(?P<old>[^\n]*?)\s*->\s*(?P<new>[^\n]*?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_ZAMMAD_TITLE = re.compile(r"\((?P<title>.*)\)\s*$")
# The quoted article: ">" lines, with blank lines between its paragraphs.
_ZAMMAD_INFO = re.compile(
    r"^\s*Information:[ \t]*\n(?P<quote>(?:[ \t]*>.*(?:\n|$)|[ \t]*\n(?=[ \t]*\n*[ \t]*>))+)", re.M
)
_CLOSED_STATES = frozenset({"closed", "geschlossen"})


# Mail to the customer: Zammad seeds no trigger for a closed ticket (db/seeds/triggers.rb has
# the new-ticket auto reply, the follow-up reply and the owner-change notice only); a trigger an
# admin adds (state changed to closed, recipient customer) is sent as a System article with the
# hook in the subject and words of the admin's choosing, read here when they say so.
_ZAMMAD_CUSTOMER_CLOSED = re.compile(
    r"\b(?:has been|have been|was|is now|is)\s+(?:closed|resolved|solved)\b|"
    r"\b(?:wurde|ist)\s+(?:geschlossen|gelöst|erledigt)\b|"
    r"^[ \t]*(?:State|Status|Zustand)[ \t]*:[ \t]*(?:closed|geschlossen)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ZAMMAD_CUSTOMER_REOPENED = re.compile(
    r"\b(?:has been|was|wurde)\s+(?:re-?opened|wieder eröffnet)\b", re.I
)


# A trigger quoting the article (#{article.body_as_html}) under "<agent> wrote:"; the trigger's
# own closing lines ("If ... reply to this email", "Your ... Team") end it.
_ZAMMAD_WROTE = re.compile(r"^[^\n]{1,80}\b(?:wrote|schrieb):[ \t]*$", re.MULTILINE)
_ZAMMAD_CUSTOMER_END = re.compile(
    r"[^\n]*\b(?:reply to this (?:e-?mail|message)|antworten Sie auf diese)|"
    r"[ \t]*(?:Your|Ihr)\b[^\n]*\bTeam\b|[ \t]*--[ \t]*$",
    re.IGNORECASE,
)


def _read_zammad_customer(mail: ParsedMail, ticket_id: str, title: str) -> Reading:
    """A mail Zammad sent the customer: a trigger's notice or an agent's article."""
    visible = unquoted(f"{one_line(mail.subject)}\n{mail.text[:SCAN_CHARS]}")
    if _ZAMMAD_CUSTOMER_REOPENED.search(visible):
        return Reading(ticket_id, "reopened", "customer notice: reopened", title=title)
    if _ZAMMAD_CUSTOMER_CLOSED.search(visible):
        note = note_block(mail.text, _ZAMMAD_WROTE, _ZAMMAD_CUSTOMER_END)
        return Reading(
            ticket_id, "resolved", "customer notice: closed", title=title, note=note,
            to_customer=True,
        )  # fmt: skip
    return Reading(ticket_id, "update", "mail to the customer without a state", title=title)


def read_zammad(mail: ParsedMail) -> Reading | None:
    brand = f"{mail.header('x-mailer')} {mail.header('x-powered-by')}".lower()
    subject = one_line(mail.subject)
    hook = _ZAMMAD_HOOK.search(subject)
    if "zammad" not in brand or hook is None:
        return None
    ticket_id = hook.group("id")
    rest = _ZAMMAD_HOOK.sub("", subject, count=1).strip()
    titled = _ZAMMAD_TITLE.search(rest)
    title = titled.group("title").strip() if titled else clean_title(rest)
    if not mail.message_id.startswith("<notification."):
        # Agent notifications have <notification.…> Message-IDs (NotificationFactory::Mailer);
        # everything else Zammad mails is an article to the customer.
        return _read_zammad_customer(mail, ticket_id, title)
    state = _ZAMMAD_STATE.search(mail.text)
    if state is None:
        return Reading(ticket_id, "update", "no state change", title=title)
    old, new = state.group("old").strip().lower(), state.group("new").strip().lower()
    change = f"state {old} -> {new}"
    if new in _CLOSED_STATES and old not in _CLOSED_STATES:
        info = _ZAMMAD_INFO.search(mail.text)
        note = ""
        if info:
            quoted = [re.sub(r"^[ \t]*>[ \t]?", "", ln) for ln in info.group("quote").splitlines()]
            note = strip_quoted("\n".join(quoted))
        return Reading(ticket_id, "resolved", change, title=title, note=note)
    if old in _CLOSED_STATES and new not in _CLOSED_STATES:
        return Reading(ticket_id, "reopened", change, title=title)
    return Reading(ticket_id, "update", change, title=title)
