"""Value types shared by the mail parser, the mail interpreters and the IMAP source.

The flow for one message: raw bytes -> ``parse.parse_mail`` -> :class:`ParsedMail` ->
``noise.noise_reason`` (auto-replies, bounces, list mail, our own mail) -> an interpreter
(``rules``: folder mode, match rules; ``presets``: the products) -> :class:`TicketFacts` or
:class:`NotAResolution` -> the IMAP source builds the ``Resolution``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MailLimits:
    """Limits that keep one hostile message from costing unbounded time or memory."""

    max_bytes: int = 25 * 1024 * 1024  # larger messages are not fetched whole
    max_parts: int = 200  # MIME parts walked
    max_depth: int = 20  # multipart nesting
    max_text_chars: int = 100_000  # body text kept for interpretation


@dataclass(frozen=True, slots=True)
class MailAddress:
    name: str  # decoded display name, "" when none
    address: str  # addr-spec, lower-cased domain; "" when unparseable


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """One message, decoded: every header as text, the best plain-text body.

    Header names in ``headers`` are lower-case; values are decoded (RFC 2047) and unfolded,
    with control characters replaced by spaces. ``text`` is the text/plain body if there is
    one, else the HTML body converted to text; attachments are never decoded. ``html_text`` is
    the HTML alternative of a text/plain body converted to text (its first 20,000
    characters), for facts some senders put only there; "" when ``text`` came from HTML.
    """

    origin: str  # "INBOX uid 42" or a file name: where the message came from
    message_id: str  # "<...>" or ""
    in_reply_to: str  # first msg-id of In-Reply-To, or ""
    references: tuple[str, ...]  # msg-ids of References, oldest first
    subject: str
    sender: MailAddress  # From (first address)
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    reply_to: tuple[MailAddress, ...]
    return_path: str | None  # None when absent; "" for the null return path "<>"
    date: datetime | None  # aware UTC, from the Date header
    content_type: str  # top-level, e.g. "multipart/report"
    report_type: str  # the report-type parameter of multipart/report, else ""
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    text: str = ""
    html_text: str = ""
    size: int = 0
    defects: tuple[str, ...] = ()  # what was wrong but survivable (bad charset, truncated...)
    senders: tuple[MailAddress, ...] = ()  # every address of From (``sender`` is the first)

    def header(self, name: str) -> str:
        """The first value of a header (case-insensitive name), or ""."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What an interpreter learned: one ticket was resolved. The IMAP source adds the rest."""

    ticket_id: str
    requester_email: str
    requester_name: str = ""
    title: str = ""
    status: str = "resolved"
    resolved_at: datetime | None = None  # the notification's Date when the product gives none
    team: str = ""
    resolution_note: str = ""
    language: str = ""
    original_message_id: str = ""  # the requester's own request, to thread the notice under it
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotAResolution:
    """The message is deliberately not acted on; ``reason`` says why (recorded as ignored).

    ``kind``: "noise" (auto-reply, bounce, list, own mail), "update" (a ticket changed but is
    not resolved), "reopened" (a ticket was reopened: later used to cancel a pending notice),
    "no_match" (no rule or preset recognised it).
    """

    kind: str
    reason: str
    ticket_id: str = ""
    at: datetime | None = None  # when it happened, when the product says more exactly than Date
