"""Who a notice speaks to: the requester's name as a person writes it, never an address.

Name fields are often filled with an address ("anna.schmidt@example.org", or a helpdesk's
``"requester@…" <helpdesk@…>``); "Hello requester@example.com" reads like a machine wrote it.
"""

from __future__ import annotations

import re

# A token between spaces, brackets, quotes and commas; one holding "@" is an address (or a
# Message-ID, which looks the same). Tokens, not a pattern around "@": linear in any length.
_TOKEN = re.compile(r"[^\s<>()\[\]\"',;]+")
# One part of first.last: two or more letters, inner hyphens or apostrophes (Anna-Lena, O'Neil).
_NAME_PART = re.compile(r"^[^\W\d_]{2,}(?:[-'][^\W\d_]+)*$")
# Parts that name a role, not a person: "it.support" is nobody's first name.
_ROLE_WORDS = frozenset({
    "it", "support", "help", "helpdesk", "desk", "service", "servicedesk", "admin",
    "administrator", "info", "team", "office", "sales", "contact", "hr", "billing", "accounts",
    "account", "system", "systems", "noreply", "no", "reply", "mail", "mailer", "postmaster",
    "webmaster", "root", "staff", "ticket", "tickets", "notification", "notifications",
    "security", "network", "user", "users", "test", "dev", "ops", "operations", "jira",
    "zammad", "glpi", "osticket",
})  # fmt: skip
_AROUND = " \t<>()[]\"',;:-"


def person_name(name: str, email: str) -> str:
    """The requester's name for the greeting and the To header, or "" when there is none.

    A name holding no address is kept as written. A name holding one keeps the words around it
    (``Anna Schmidt <anna@x>`` gives "Anna Schmidt"). Otherwise, and for an empty name, the
    name comes from the local part of that address (of ``email`` when the name is empty) only
    when it reads as one: two or more parts of letters joined by "." or "_", no initials, no
    role words (``anna.schmidt`` gives "Anna Schmidt"; ``jdoe``, ``it-support``, ``a1234``,
    ``j.doe``, ``it.support`` give "").
    """
    text = " ".join(name.split())
    addresses = [token for token in _TOKEN.findall(text) if "@" in token]
    if text and not addresses:
        return text
    rest = _TOKEN.sub(lambda token: " " if "@" in token[0] else token[0], text)
    rest = " ".join(rest.split()).strip(_AROUND)
    if any(char.isalpha() for char in rest):
        return rest
    address = addresses[0] if addresses else email.strip()
    local = address.rpartition("@")[0].strip(_AROUND)
    local = re.sub(r"^mailto:", "", local, flags=re.IGNORECASE).split("+", 1)[0]
    parts = re.split(r"[._]", local)
    if len(parts) < 2 or not all(
        _NAME_PART.match(part) and part.casefold() not in _ROLE_WORDS for part in parts
    ):
        return ""
    return " ".join(part.title() if part.islower() or part.isupper() else part for part in parts)
