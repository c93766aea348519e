"""Build ParsedMail values for interpreter tests without depending on ``sources.mail.parse``.

``parse_eml`` is a deliberately small stdlib converter (first text/plain part, the HTML part
as text beside it, decoded headers);
``mail`` builds a message field by field; ``Mailbox`` is a fake ``find_original``.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from notifier.core.htmltext import html_to_text
from notifier.sources.mail.types import MailAddress, ParsedMail

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "mail" / "presets"
_MSGID = re.compile(r"<[^<>\s]+>")


def _addresses(values: Iterable[str]) -> tuple[MailAddress, ...]:
    return tuple(
        MailAddress(name=name, address=addr) for name, addr in getaddresses(list(values)) if addr
    )


def _text(message: EmailMessage, kind: str = "plain") -> str:
    part = message.get_body(preferencelist=(kind,))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _html_alternative(message: EmailMessage) -> str:
    """The HTML part as text when there is a text/plain body too (ParsedMail.html_text)."""
    if not _text(message):
        return ""
    return html_to_text(_text(message, "html"))


def parse_eml(raw: bytes, *, origin: str) -> ParsedMail:
    """A minimal stand-in for ``parse.parse_mail``: enough for interpreter tests."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in message.items():
        headers.setdefault(name.lower(), ())
        headers[name.lower()] += (" ".join(str(value).split()),)

    def first(name: str) -> str:
        return headers.get(name, ("",))[0]

    date = parsedate_to_datetime(first("date")).astimezone(UTC) if first("date") else None
    senders = _addresses(headers.get("from", ()))
    return ParsedMail(
        origin=origin,
        message_id=first("message-id"),
        in_reply_to=next(iter(_MSGID.findall(first("in-reply-to"))), ""),
        references=tuple(_MSGID.findall(first("references"))),
        subject=first("subject"),
        sender=senders[0] if senders else MailAddress("", ""),
        to=_addresses(headers.get("to", ())),
        cc=_addresses(headers.get("cc", ())),
        reply_to=_addresses(headers.get("reply-to", ())),
        return_path=first("return-path") or None,
        date=date,
        content_type=message.get_content_type(),
        report_type=str(message.get_param("report-type") or ""),
        headers=headers,
        text=_text(message),
        html_text=_html_alternative(message),
        size=len(raw),
        senders=senders,
    )


def load_sample(name: str) -> ParsedMail:
    """One of the preset sample mails under tests/data/mail/presets."""
    path = SAMPLES / name
    return parse_eml(path.read_bytes(), origin=path.name)


def addr(value: str) -> MailAddress:
    """``"Jane Doe <jane@example.org>"`` or a bare address as a MailAddress."""
    found = _addresses([value])
    return found[0] if found else MailAddress("", "")


def mail(
    *,
    subject: str = "Re: Printer on floor 3",
    sender: str = "Tom Tech <tom@it.example.org>",
    to: Iterable[str] = ("Jane Doe <jane@example.org>",),
    text: str = "Fixed it.",
    message_id: str = "<reply-1@it.example.org>",
    in_reply_to: str = "",
    references: Iterable[str] = (),
    date: datetime | None = datetime(2024, 3, 4, 10, 0, tzinfo=UTC),
    headers: Mapping[str, str] | None = None,
    origin: str = "INBOX uid 1",
) -> ParsedMail:
    """A ParsedMail built field by field; ``headers`` adds extra headers (any case)."""
    all_headers: dict[str, tuple[str, ...]] = {"subject": (subject,), "from": (sender,)}
    for name, value in (headers or {}).items():
        all_headers[name.lower()] = (value,)
    return ParsedMail(
        origin=origin,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=tuple(references),
        subject=subject,
        sender=addr(sender),
        senders=_addresses([sender]),
        to=tuple(addr(t) for t in to),
        cc=(),
        reply_to=(),
        return_path=None,
        date=date,
        content_type="text/plain",
        report_type="",
        headers=all_headers,
        text=text,
    )


class Mailbox:
    """A fake mailbox for ``find_original``: messages by Message-ID, lookups recorded."""

    def __init__(self, *messages: ParsedMail) -> None:
        self.messages = {m.message_id: m for m in messages}
        self.lookups: list[str] = []

    def find(self, message_id: str) -> ParsedMail | None:
        self.lookups.append(message_id)
        return self.messages.get(message_id)


def nothing(message_id: str) -> ParsedMail | None:
    """A ``find_original`` for an empty mailbox."""
    return None
