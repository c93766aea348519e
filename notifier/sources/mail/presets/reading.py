"""What every preset shares: the :class:`Reading` of one notification, the
:class:`PresetInterpreter` that turns it into ticket facts and finds the requester, and the
text helpers the product readers use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from notifier.core.errors import InputError
from notifier.sources.addresses import AddressListError, single_address
from notifier.sources.mail.rules import (
    FindOriginal,
    find_thread_original,
    request_sender,
    requester_text,
)
from notifier.sources.mail.types import MailAddress, NotAResolution, ParsedMail, TicketFacts

Kind = Literal["resolved", "reopened", "update"]


@dataclass(frozen=True)
class Reading:
    """What a preset read from one notification of its product."""

    ticket_id: str
    kind: Kind
    reason: str  # why this kind: recorded for updates and reopenings
    title: str = ""
    requester_email: str = ""  # when the notification spells the address out
    requester_name: str = ""  # the name the notification gives the requester
    note: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    to_customer: bool = False  # a mail the product sends the customer: To is the requester
    actors: tuple[str, ...] = ()  # addresses named as the one who acted: never the requester
    # When it happened, when the product writes it more exactly than the Date header (which
    # is when the mail was built: a background job may build two in the other order).
    at: datetime | None = None


@dataclass(frozen=True)
class PresetInterpreter:
    """Interprets one product's notifications with ``read``; finds the requester.

    ``requester_from_to``: the product mails the resolved notice to the requester, so the copy in
    the mailbox has them in To. ``requester_from_thread``: the notification is threaded under the
    requester's own mail, which ``find_original`` can return. ``root_is_request``: the oldest
    References entry is the requester's original mail (used for threading when it is not found).
    """

    key: str
    product: str
    read: Callable[[ParsedMail], Reading | None]
    requester_from_to: bool = True
    requester_from_thread: bool = False
    root_is_request: bool = False
    # Never the requester: the watched mailbox, notifier's own From, trusted helpdesk senders.
    not_requesters: frozenset[str] = frozenset()

    def interpret(
        self, mail: ParsedMail, find_original: FindOriginal
    ) -> TicketFacts | NotAResolution:
        mail = line_ends(mail)
        reading = self.read(mail)
        if reading is None:
            return NotAResolution("no_match", f"not a {self.product} notification")
        return self.decide(mail, reading, find_original)

    def decide(
        self, mail: ParsedMail, reading: Reading, find_original: FindOriginal
    ) -> TicketFacts | NotAResolution:
        """What ``reading`` (of ``mail``, by this preset) means: facts, or why not."""
        where = f"{self.product} ticket {reading.ticket_id}"
        if reading.kind == "update":
            return NotAResolution("update", f"{where}: {reading.reason}", reading.ticket_id)
        if reading.kind == "reopened":
            return NotAResolution(
                "reopened", f"{where}: {reading.reason}", reading.ticket_id, at=reading.at
            )
        try:
            found = self._requester(mail, reading, find_original)
        except InputError as exc:  # the rejection names the ticket read (notifier audit --ticket)
            exc.naming(reading.ticket_id, {"preset": self.key, **reading.fields})
            raise
        if isinstance(found, NotAResolution):
            return found
        email, name = found
        return TicketFacts(
            ticket_id=reading.ticket_id,
            requester_email=email,
            requester_name=_person(name),  # a name field holding an address is no name
            title=reading.title,
            resolved_at=reading.at or mail.date,
            resolution_note=reading.note,
            original_message_id=self._request_message_id(mail, email, find_original),
            fields={"preset": self.key, **reading.fields},
        )

    def _requester(
        self, mail: ParsedMail, reading: Reading, find_original: FindOriginal
    ) -> tuple[str, str] | NotAResolution:
        """The requester from every place the product puts them, most explicit first: the
        preset's own reading, a "Reporter:"/"Requester:" line holding an address (text, then
        HTML part), the To of the requester's copy (first, for mail the product sends to the
        customer), the requester's mail in the thread. An address of the watched mailbox,
        notifier's From or a helpdesk sender never counts."""
        requester_text(mail, reading.requester_email, f"the {self.product} notification")
        where = f"{self.product} resolved notification for ticket {reading.ticket_id}"
        if is_address(reading.requester_email) and self._may_be_requester(
            reading.requester_email, mail, reading
        ):
            return reading.requester_email, reading.requester_name
        looked = ["the notification text"]
        for text in (mail.text, mail.html_text):
            for found in requester_lines(text):
                if self._may_be_requester(found.address, mail, reading):
                    return found.address, found.name or _person(reading.requester_name)
        looked.append("its Reporter/Requester lines")
        refused: list[str] = []
        steps = ["to", "thread"] if reading.to_customer else ["thread", "to"]
        for step in steps:
            got: tuple[str, str] | NotAResolution | None = None
            if step == "thread" and self.requester_from_thread:
                looked.append("the requester's mail in the thread (In-Reply-To/References)")
                got = self._from_thread(mail, reading, find_original)
            elif step == "to" and (self.requester_from_to or reading.to_customer):
                looked.append("To")
                got = self._from_to(mail, reading, where, refused)
            if got is not None:
                return got
        named = f" (named {reading.requester_name!r})" if reading.requester_name else ""
        copy = ""
        if refused:
            copy = (
                f"; the copy is addressed to {', '.join(refused)}: the watched mailbox, "
                "notifier's From or a helpdesk address, never the requester"
            )
        raise InputError(
            mail.origin,
            f"{where}: no requester address{named}; looked in {', '.join(looked)}{copy}",
        )

    def _from_thread(
        self, mail: ParsedMail, reading: Reading, find_original: FindOriginal
    ) -> tuple[str, str] | None:
        original = find_thread_original(mail, find_original)
        if original is not None and is_address(original.sender.address):
            asked = request_sender(mail, original)
            if self._may_be_requester(asked.address, mail, reading):
                return asked.address, asked.name or reading.requester_name
        return None

    def _from_to(
        self, mail: ParsedMail, reading: Reading, where: str, refused: list[str]
    ) -> tuple[str, str] | NotAResolution | None:
        """The requester's own copy: the one To that may be the requester (``refused`` gets
        the others); a copy for someone else named is no_match."""
        candidates = []
        for addr in mail.to:
            if not is_address(addr.address):
                continue
            # "jane@example.org" <helpdesk@…> is a copy for the helpdesk, not for Jane.
            other = (
                is_address(addr.name) and addr.name.strip("\"' ").lower() != addr.address.lower()
            )
            if self._may_be_requester(addr.address, mail, reading) and not other:
                candidates.append(addr)
            else:
                refused.append(addr.address)
        if candidates and reading.requester_name:
            # The product mails every recipient their own copy; take the requester's only.
            for addr in candidates:
                if same_name(addr.name, reading.requester_name):
                    return addr.address, addr.name
            if all(addr.name for addr in candidates):
                names = ", ".join(repr(a.name) for a in candidates)
                return NotAResolution(
                    "no_match",
                    f"{self.product} ticket {reading.ticket_id}: a copy addressed to {names}, "
                    f"not to the requester {reading.requester_name!r}",
                    reading.ticket_id,
                )
        if len(candidates) == 1:
            return candidates[0].address, candidates[0].name or reading.requester_name
        if len(candidates) > 1:
            raise InputError(
                mail.origin,
                f"{where}: To names {len(candidates)} people and nothing says which one "
                "is the requester",
            )
        return None

    def _may_be_requester(self, address: str, mail: ParsedMail, reading: Reading) -> bool:
        """Not the watched mailbox, notifier's From, a trusted helpdesk sender, the product's
        own sender, the Reply-To it asks answers to go to, or the person who acted."""
        address = address.lower()
        own = {mail.sender.address.lower(), *(a.address.lower() for a in mail.reply_to)}
        own |= {actor.lower() for actor in reading.actors}
        return address not in self.not_requesters and address not in own

    def _request_message_id(self, mail: ParsedMail, email: str, find_original: FindOriginal) -> str:
        """The requester's own mail in this thread, so the notice threads under it."""
        for msgid in (mail.in_reply_to, *reversed(mail.references)):
            if not msgid:
                continue
            original = find_original(msgid)
            if original is not None and original.sender.address.lower() == email.lower():
                return original.message_id or msgid
        if self.root_is_request and mail.references:
            return mail.references[0]
        return ""


def line_ends(mail: ParsedMail) -> ParsedMail:
    """``mail`` with LF line ends: templates are matched line by line, and CRLF from the wire
    must not defeat "$"."""
    if "\r" not in mail.text:
        return mail
    return replace(mail, text=mail.text.replace("\r\n", "\n").replace("\r", "\n"))


def unquoted(text: str) -> str:
    """``text`` without its quoted (">") lines: a reply quoting a notification is not one."""
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))


def is_address(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in value)


# Where products name the requester: RT "Requestors:", Jira "Reporter:", GLPI "Requester :",
# ServiceNow "Caller:", django-helpdesk "Submitter:", ... (docs/helpdesk-mail-formats.md).
_REQUESTER_LINE = re.compile(
    r"^[ \t>*\u2022-]*(?:Reporter|Requesters?|Requestors?|Customer|Caller|Submitter|"
    r"Requested (?:by|for))[ \t]*:[ \t]*(?P<value>[^\n]*?)[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_NAME_PAREN_ADDRESS = re.compile(
    r"^(?P<name>[^()<>@]*?)\s*\(\s*(?P<address>[^()\s]+@[^()\s]+)\s*\)$"
)


def requester_lines(text: str) -> list[MailAddress]:
    """Each requester line of ``text`` that names one person by address ("Jane <a@b>",
    "Jane (a@b)", "a@b"); lines with a name only, or with an address list, are passed over."""
    found: list[MailAddress] = []
    for match in _REQUESTER_LINE.finditer(text[:SCAN_CHARS]):
        value = match.group("value")
        if "@" not in value:
            continue
        paren = _NAME_PAREN_ADDRESS.match(value)
        if paren:
            name, address = paren.group("name"), paren.group("address")
        else:
            try:
                name, address = single_address(value)
            except AddressListError:
                continue
        if is_address(address):
            found.append(MailAddress(name=_person(name), address=address))
    return found


SCAN_CHARS = 50_000  # requester lines are looked for in the first part of a body only


def _person(name: str) -> str:
    """A display name, or "" when it is an address: a greeting never reads an address."""
    name = name.strip().strip('"').strip()
    return "" if "@" in name else name


def same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def one_line(subject: str) -> str:
    return " ".join(subject.split())


def first_group(pattern: re.Pattern[str], text: str, group: str) -> str:
    match = pattern.search(text)
    return match.group(group).strip() if match else ""


def note_block(text: str, label: re.Pattern[str], stop: re.Pattern[str]) -> str:
    """A note that starts after ``label`` and runs, over lines and paragraphs, to the first line
    matching ``stop`` (the template's next field or sentence), so a wrapped note is never cut.

    ``label`` must match up to where the note's first line starts."""
    found = label.search(text)
    if found is None:
        return ""
    first, _, rest = text[found.end() :].partition("\n")
    lines = [first.strip()]
    for line in rest.split("\n"):
        if stop.match(line):
            break
        lines.append(line.strip())
    out: list[str] = []
    for line in lines:  # blank-line runs collapse to one; the ends are trimmed
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
