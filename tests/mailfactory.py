"""Small, valid RFC 5322 messages for tests that append mail to a real IMAP server."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime


def request(n: int, *, requester: str = "ann@example.org", name: str = "Ann Example",
            subject: str = "Printer broken") -> bytes:  # fmt: skip
    """A requester's original mail to the helpdesk."""
    message = EmailMessage()
    message["From"] = f"{name} <{requester}>"
    message["To"] = "helpdesk@example.org"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 27, 8, 0, n % 60, tzinfo=UTC))
    message["Message-ID"] = f"<request-{n}@example.org>"
    message.set_content(f"Hello, request number {n}. Please help.\n")
    return message.as_bytes()


def reply(n: int, *, requester: str = "ann@example.org", name: str = "Ann Example",
          subject: str = "Re: Printer broken", in_reply_to: str | None = None,
          note: str = "We fixed the printer. It prints again.") -> bytes:  # fmt: skip
    """A technician's answer that resolves request ``n`` (folder mode)."""
    message = EmailMessage()
    message["From"] = "Tom Tech <tom.tech@example.org>"
    message["To"] = f"{name} <{requester}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 27, 10, n // 60 % 60, n % 60, tzinfo=UTC))
    message["Message-ID"] = f"<reply-{n}@example.org>"
    original = in_reply_to or f"<request-{n}@example.org>"
    message["In-Reply-To"] = original
    message["References"] = original
    message.set_content(f"{note}\n\nOn Thu, Ann wrote:\n> Hello, request number {n}.\n")
    return message.as_bytes()
