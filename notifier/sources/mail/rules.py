"""Mail interpreters: decide whether one parsed message is a resolution, and of which ticket.

``interpreter.build_interpreter`` picks the one an ``[[imap]]`` block configures.

Three detection modes share one small interface (:class:`Interpreter`):

- **folder** (:class:`FolderInterpreter`): every new message in the watched folder is a
  technician's answer that resolves the request it replies to.
- **match** (:class:`MatchInterpreter`): messages matching admin-written rules (sender, subject,
  header and body regexes with named groups) are resolutions; the rest is ignored.
- **preset** (``presets.PRESETS``): the real notification formats of common helpdesk products.

Interpreters are pure: the only I/O is ``find_original(message_id)``, supplied by the IMAP source,
which looks a message up in the mailbox. They return :class:`TicketFacts` or
:class:`NotAResolution`, and raise :class:`InputError` only for a message that claims to be a
resolution but cannot be used (the reason names what is missing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Protocol

from notifier.core.errors import ConfigError, InputError
from notifier.sources.addresses import AddressListError, check_single
from notifier.sources.mail.reply import extract_reply, strip_quoted
from notifier.sources.mail.types import MailAddress, NotAResolution, ParsedMail, TicketFacts

FindOriginal = Callable[[str], ParsedMail | None]

__all__ = [
    "FindOriginal",
    "FolderInterpreter",
    "Interpreter",
    "MatchInterpreter",
    "MatchRule",
    "clean_title",
    "compile_rule",
    "extract_reply",
    "find_thread_original",
    "strip_quoted",
]


class Interpreter(Protocol):
    """Turns one parsed message into ticket facts, or says why it is not a resolution."""

    def interpret(
        self, mail: ParsedMail, find_original: FindOriginal
    ) -> TicketFacts | NotAResolution: ...


# --- shared helpers ------------------------------------------------------------------------

# Reply/forward prefixes as Outlook and Gmail write them: en, de (AW/WG), nordic (SV/VS/VB),
# nl (Antw/Doorst), fr (TR/RÉF), it (R/RIF), es (RV), pt (RES/ENC), pl (Odp/PD), ru, zh, ja.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|fw|aw|wg|sv|vs|vb|antw|doorst|tr|réf|rif|r|rv|res|enc|odp|pd|ответ|отв"
    r"|пересл|回复|回覆|答复|转发|轉寄|返信|転送)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
# "[tag]", "[#123]", "[rt.example.org #42]", "(Ticket#123)", "(Case #7)" at the start.
_LEADING_TAG = re.compile(
    r"^\s*(?:\[[^\]]*\]|\((?:ticket|case|request|incident)\s*#?[^)]*\))\s*", re.IGNORECASE
)
# A ticket tag at the end ("Printer broken [#123]", "... [Ticket#31001]"): only with a '#',
# so an ordinary trailing "[draft]" stays part of the title.
_TRAILING_TAG = re.compile(r"\s*\[[^\]]*#[^\]]*\]\s*$")


def clean_title(subject: str) -> str:
    """The subject without reply/forward prefixes and ticket tags, whitespace tidied."""
    title = " ".join(subject.split())
    while True:
        stripped = _REPLY_PREFIX.sub("", title, count=1)
        stripped = _LEADING_TAG.sub("", stripped, count=1)
        stripped = _TRAILING_TAG.sub("", stripped, count=1)
        if stripped == title:
            return title.strip()
        title = stripped


def find_thread_original(
    mail: ParsedMail, find_original: FindOriginal, *, exclude_sender: bool = True
) -> ParsedMail | None:
    """The message this one answers: In-Reply-To first, then References newest first.

    With ``exclude_sender`` a candidate written by this message's own sender is skipped, so a
    technician's earlier reply in the same thread is never taken for the requester's request.
    """
    seen: set[str] = set()
    sender = mail.sender.address.lower()
    for msgid in (mail.in_reply_to, *reversed(mail.references)):
        if not msgid or msgid in seen or msgid == mail.message_id:
            continue
        seen.add(msgid)
        original = find_original(msgid)
        if original is None:
            continue
        if exclude_sender and sender and original.sender.address.lower() == sender:
            continue
        return original
    return None


def first_recipient(mail: ParsedMail, *, skip: Set[str] = frozenset()) -> MailAddress | None:
    """The first To address that is not the sender itself, nor one in ``skip`` (lower case)."""
    sender = mail.sender.address.lower()
    for addr in mail.to:
        address = addr.address.lower()
        if address and "@" in address and address != sender and address not in skip:
            return addr
    return None


def address_from_header(
    mail: ParsedMail, header: str, *, skip: Set[str] = frozenset()
) -> MailAddress | None:
    """The address in a configured header such as ``X-Requester``; None when it has none.

    Addresses in ``skip`` (the helpdesk's own, lower case) are passed over. Raises
    :class:`InputError` when more than one other address is left (an address list).
    """
    value = mail.header(header)
    if not value:
        return None
    found = [
        MailAddress(name=name.strip(), address=address.strip())
        for name, address in getaddresses([value])
        if "@" in address and address.strip().lower() not in skip
    ]
    if len(found) > 1:
        raise InputError(
            mail.origin,
            f"the {header} header holds {len(found)} addresses (an address list): "
            "one requester only",
        )
    return found[0] if found else None


def request_sender(mail: ParsedMail, original: ParsedMail) -> MailAddress:
    """The requester of ``original`` (the request ``mail`` answers): its From, one address.

    Raises :class:`InputError` naming ``mail`` when that From lists several addresses: which
    of them asked cannot be told, and the first is no better a guess than the others.
    """
    if len(original.senders) > 1:
        raise InputError(
            mail.origin,
            f"the original request {original.message_id or original.origin} has "
            f"{len(original.senders)} addresses in From (an address list): one requester only",
        )
    return original.sender


def requester_text(mail: ParsedMail, value: str, where: str) -> str:
    """``value`` (a requester address found in ``where``) unless it is an address list."""
    try:
        return check_single(value)
    except AddressListError as exc:
        raise InputError(mail.origin, f"requester in {where}: {exc}") from None


def _valid_address(address: str) -> bool:
    local, _, domain = address.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in address)


# --- folder mode ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderInterpreter:
    """Every message in the folder resolves the request it replies to.

    Requester and title come from the original request (found through In-Reply-To, then
    References newest first), else from the reply's To, else from ``requester_header``.
    ``not_requesters``: the helpdesk's own addresses (the watched mailbox, the From address,
    trusted senders), never taken from To.
    """

    requester_header: str | None = None
    not_requesters: tuple[str, ...] = ()

    def interpret(
        self, mail: ParsedMail, find_original: FindOriginal
    ) -> TicketFacts | NotAResolution:
        original = find_thread_original(mail, find_original)
        requester: MailAddress | None = None
        if original is not None and _valid_address(original.sender.address):
            requester = request_sender(mail, original)
        ours = {address.lower() for address in self.not_requesters}
        passed_over = ""
        if requester is None:
            requester = first_recipient(mail, skip=ours)
            if requester is None and first_recipient(mail) is not None:
                passed_over = " (its To is only the helpdesk's own address)"
        if requester is None and self.requester_header:
            requester = address_from_header(mail, self.requester_header, skip=ours)
        if requester is None or not _valid_address(requester.address):
            looked = "the original request (In-Reply-To/References), the reply's To"
            if self.requester_header:
                looked += f", the {self.requester_header} header"
            raise InputError(mail.origin, f"no requester address: looked in {looked}{passed_over}")

        ticket_id = (original.message_id if original else "") or mail.in_reply_to
        ticket_id = ticket_id or mail.message_id
        if not ticket_id:
            raise InputError(mail.origin, "no ticket id: the reply has no Message-ID")
        title = clean_title(original.subject if original else mail.subject)
        return TicketFacts(
            ticket_id=ticket_id,
            requester_email=requester.address,
            requester_name=requester.name,
            title=title,
            resolved_at=mail.date,
            resolution_note=extract_reply(mail.text),
            # The requester's own mail when we have it; else the message the reply answers,
            # which is still in the requester's thread.
            original_message_id=(original.message_id if original else mail.in_reply_to),
            fields={"mode": "folder"},
        )


# --- match mode ----------------------------------------------------------------------------

RULE_GROUPS = frozenset(
    {"ticket_id", "requester", "requester_name", "title", "team", "resolution_note"}
)
# What a matching mail says: a resolution (a notice), an update (ignored, reason recorded) or
# a reopen (a notice still waiting for that ticket is cancelled), as the presets tell them.
RULE_MEANINGS = ("resolved", "update", "reopened")


@dataclass(frozen=True)
class MatchRule:
    """One admin-written rule; every condition given must match. Compile with :func:`compile_rule`."""

    name: str
    senders: tuple[str, ...] = ()  # addresses or "@domain", lower-cased; empty = any sender
    subject: re.Pattern[str] | None = None
    headers: Mapping[str, re.Pattern[str]] = field(default_factory=dict)  # lower-case names
    body: re.Pattern[str] | None = None
    means: str = "resolved"  # one of RULE_MEANINGS

    def sender_matches(self, address: str) -> bool:
        if not self.senders:
            return True
        address = address.lower()
        return any(
            address.endswith(entry) if entry.startswith("@") else address == entry
            for entry in self.senders
        )

    def match(self, mail: ParsedMail) -> dict[str, str] | None:
        """The named groups captured (subject first, then the headers in the rule's order,
        then the body), or None when the rule fails."""
        if not self.sender_matches(mail.sender.address):
            return None
        body = mail.text.replace("\r\n", "\n")  # so "$" in a rule matches at line ends
        searches: list[tuple[re.Pattern[str] | None, tuple[str, ...]]] = [
            (self.subject, (mail.subject,))
        ]
        searches += [
            (pattern, mail.headers.get(name, ())) for name, pattern in self.headers.items()
        ]
        searches.append((self.body, (body,)))
        groups: dict[str, str] = {}
        for pattern, texts in searches:
            if pattern is None:
                continue
            hit = next(filter(None, map(pattern.search, texts)), None)
            if hit is None:
                return None
            for key, value in hit.groupdict().items():
                if value and key not in groups:
                    groups[key] = value.strip()
        return groups


def _compile(rule: str, where: str, pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ConfigError(
            f"imap.rules {rule!r}: {where} regex {pattern!r} is invalid: {exc}"
        ) from exc
    unknown = sorted(set(compiled.groupindex) - RULE_GROUPS)
    if unknown:
        raise ConfigError(
            f"imap.rules {rule!r}: {where} regex has unknown named group(s) {', '.join(unknown)}; "
            f"use {', '.join(sorted(RULE_GROUPS))}"
        )
    return compiled


def compile_rule(
    name: str,
    *,
    senders: Sequence[str] = (),
    subject: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    means: str = "resolved",
) -> MatchRule:
    """Validate and compile one ``[[imap.rules]]`` entry; ConfigError names the rule and regex."""
    if not name.strip():
        raise ConfigError("imap.rules: every rule needs a name")
    if means not in RULE_MEANINGS:
        raise ConfigError(
            f"imap.rules {name!r}: means {means!r} is not one of {', '.join(RULE_MEANINGS)}"
        )
    cleaned: list[str] = []
    for sender in senders:
        entry = sender.strip().lower()
        if not entry or ("@" not in entry):
            raise ConfigError(
                f"imap.rules {name!r}: sender {sender!r} is neither an address nor '@domain'"
            )
        cleaned.append(entry)
    compiled_headers = {
        key.strip().lower(): _compile(name, f"header {key!r}", value)
        for key, value in (headers or {}).items()
    }
    return MatchRule(
        name=name,
        senders=tuple(cleaned),
        subject=_compile(name, "subject", subject) if subject is not None else None,
        headers=compiled_headers,
        body=_compile(name, "body", body) if body is not None else None,
        means=means,
    )


@dataclass(frozen=True)
class MatchInterpreter:
    """The first rule whose every condition matches decides; no match means not a resolution.

    ``not_requesters``: the helpdesk's own addresses (the watched mailbox, the From address,
    trusted senders), passed over in a ``requester`` group or the ``requester_header``.
    """

    rules: Sequence[MatchRule]
    requester_header: str | None = None
    not_requesters: tuple[str, ...] = ()

    def interpret(
        self, mail: ParsedMail, find_original: FindOriginal
    ) -> TicketFacts | NotAResolution:
        for rule in self.rules:
            groups = rule.match(mail)
            if groups is None:
                continue
            original = find_thread_original(mail, find_original)
            if rule.means == "resolved":
                return self._facts(rule, groups, mail, original)
            ticket_id = groups.get("ticket_id") or (original.message_id if original else "")
            if not ticket_id and rule.means == "reopened":
                raise InputError(
                    mail.origin,
                    f"rule {rule.name!r} matched but found no ticket id: no 'ticket_id' group "
                    "and no original request in the thread, so no waiting notice can be found",
                )
            return NotAResolution(rule.means, f"rule {rule.name!r} matched", ticket_id)
        return NotAResolution("no_match", "matches no rule")

    def _facts(
        self,
        rule: MatchRule,
        groups: Mapping[str, str],
        mail: ParsedMail,
        original: ParsedMail | None,
    ) -> TicketFacts:
        ours = {address.lower() for address in self.not_requesters}
        found = self._group_requester(rule, groups.get("requester", ""), mail, ours)
        if found is None and original is not None:
            found = request_sender(mail, original)
        if found is None and self.requester_header:
            found = address_from_header(mail, self.requester_header, skip=ours)
        if found is None:
            raise InputError(
                mail.origin,
                f"rule {rule.name!r} matched but found no requester: no 'requester' group "
                "and no original request in the thread",
            )
        email, name = found.address, groups.get("requester_name") or found.name
        if not _valid_address(email):
            raise InputError(
                mail.origin, f"rule {rule.name!r}: requester {email!r} is not an email address"
            )
        ticket_id = groups.get("ticket_id") or (original.message_id if original else "")
        ticket_id = ticket_id or mail.message_id
        if not ticket_id:
            raise InputError(
                mail.origin, f"rule {rule.name!r}: no ticket id (no group and no Message-ID)"
            )
        title = groups.get("title") or clean_title(original.subject if original else mail.subject)
        return TicketFacts(
            ticket_id=ticket_id,
            requester_email=email,
            requester_name=name,
            title=title,
            resolved_at=mail.date,
            team=groups.get("team", ""),
            resolution_note=groups.get("resolution_note") or extract_reply(mail.text),
            original_message_id=original.message_id if original else mail.in_reply_to,
            fields={"mode": "match", "rule": rule.name},
        )

    @staticmethod
    def _group_requester(
        rule: MatchRule, captured: str, mail: ParsedMail, ours: Set[str]
    ) -> MailAddress | None:
        """The one address a ``requester`` group captured, the helpdesk's own passed over
        (a header such as Roundup's To lists requester and technician together); None when it
        captured nothing but the helpdesk's own, so the thread and ``requester_header`` decide."""
        if not captured:
            return None
        where = f"rule {rule.name!r}"
        if not any(mark in captured for mark in ",;<"):  # one bare address, or a bare word
            address = requester_text(mail, captured, where)
            return None if address.lower() in ours else MailAddress(name="", address=address)
        pairs = [
            (name.strip(), address.strip())
            for name, address in getaddresses([captured])
            if address.strip().lower() not in ours and (name.strip() or address.strip())
        ]
        if len(pairs) > 1:
            listed = AddressListError(captured, len(pairs))
            raise InputError(mail.origin, f"requester in {where}: {listed}")
        return MailAddress(name=pairs[0][0], address=pairs[0][1]) if pairs else None
