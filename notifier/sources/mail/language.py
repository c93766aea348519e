"""The language of a mail-sourced ticket, from the mails themselves (see notifier.core.language).

Trusted in this order: ``Content-Language``, then ``Accept-Language`` (Outlook sends both,
Thunderbird once sent ``X-Accept-Language``) of the requester's original mail; then the text
the requester will read (title and note) together with what they wrote in their own mail, when
the identifier is sure of it; then the same headers of the notification (in folder mode, the
technician's reply), which state the sender's mail program's setting rather than the
requester's language: a technician with an English Outlook answering in French still sends
``Content-Language: en-US``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection

from notifier.core.language import COMMON_LANGUAGES, Detected, detect
from notifier.sources.mail.types import ParsedMail, TicketFacts

__all__ = ["COMMON_LANGUAGES", "remembering", "with_language"]

LANGUAGE_HEADERS = ("Content-Language", "Accept-Language", "X-Accept-Language")
# What of the requester's own mail is added to the sample: its opening says enough.
REQUEST_TEXT_CHARS = 500

Find = Callable[[str], ParsedMail | None]


def remembering(find: Find) -> Find:
    """``find`` that asks the server once per Message-ID: the interpreter looks the original
    up, and the language step reads it again (one mail's lookups; dropped with the mail)."""
    known: dict[str, ParsedMail | None] = {}

    def lookup(message_id: str) -> ParsedMail | None:
        if message_id not in known:
            known[message_id] = find(message_id)
        return known[message_id]

    return lookup


def with_language(
    facts: TicketFacts,
    mail: ParsedMail,
    find: Find,
    languages: Collection[str] = COMMON_LANGUAGES,
) -> TicketFacts:
    """``facts`` with ``language`` set (unless the interpreter already knew it) and
    ``fields["language_from"]`` saying how it was chosen; "" means the default language."""
    if facts.language:
        return facts
    original = find(facts.original_message_id) if facts.original_message_id else None
    if original is not None and original.sender.address.lower() == mail.sender.address.lower():
        original = None  # the sender's own earlier mail: not the requester's
    texts = [facts.title, facts.resolution_note]
    if original is not None:
        texts.append(original.text[:REQUEST_TEXT_CHARS])
    try:
        found = detect(
            _headers(original, "the original request"),
            texts,
            languages,
            when_unsure=_headers(mail, "the notification"),
        )
    except Exception as exc:  # the identifier's model would not load: not this mail's fault
        found = Detected("", f"not identified ({type(exc).__name__}: {exc}): default language")
    return dataclasses.replace(
        facts, language=found.code, fields={**facts.fields, "language_from": found.how}
    )


def _headers(message: ParsedMail | None, where: str) -> list[tuple[str, str]]:
    if message is None:
        return []
    return [
        (f"{name} of {where}", value)
        for name in LANGUAGE_HEADERS
        if (value := message.header(name))
    ]
