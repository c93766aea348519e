"""The helpdesk's outgoing mail server: an SMTP hop on loopback that keeps every message and
APPENDs those addressed to the watched mailbox into the real Dovecot, as a customer's mail
server would deliver them, so notifier reads what the helpdesk really sent. With no mailbox
address it journals every message into the mailbox, as an MTA's ``always_bcc`` does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.dovecot import DovecotServer
from tests.live.servers import free_port


class _LongLines(SMTP):
    # RT's HTML parts hold lines longer than SMTP's 1,000; MTAs such as Postfix take and
    # rewrap them, so the hop does not refuse them either.
    line_length_limit = 64 * 1024


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _LongLines(self.handler, **self.SMTP_kwargs)


@dataclass(frozen=True)
class Sent:
    """One message the helpdesk sent, exactly as it arrived."""

    raw: bytes
    recipients: tuple[str, ...]


@dataclass
class MailHop:
    """``start()`` it, point the helpdesk at ``port``; ``sent`` holds what went through."""

    dovecot: DovecotServer
    mailbox_address: str | None  # mail for it lands in the Dovecot user's INBOX; None: all mail
    sent: list[Sent] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _controller: Controller | None = None

    port: int = 0

    def start(self) -> MailHop:
        self.port = free_port()
        self._controller = _Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content)
        recipients = tuple(str(rcpt).lower() for rcpt in envelope.rcpt_tos)
        if self.mailbox_address is None or self.mailbox_address in recipients:
            self.dovecot.append("INBOX", raw)
        with self._changed:
            self.sent.append(Sent(raw, recipients))
            self._changed.notify_all()
        return "250 2.0.0 OK"

    def wait_for(self, count: int, timeout: float = 30) -> list[Sent]:
        """Block until ``count`` messages went through; the helpdesk never says when it fails."""
        return self.wait_until(lambda sent: len(sent) >= count, f"{count} message(s)", timeout)

    def wait_for_copies(self, text: bytes, count: int, timeout: float = 30) -> list[Sent]:
        """Block until ``count`` messages holding ``text`` (a subject's status) went through."""
        return self.wait_until(
            lambda sent: sum(text in s.raw for s in sent) >= count,
            f"{count} message(s) with {text!r}",
            timeout,
        )

    def wait_until(
        self, done: Callable[[list[Sent]], bool], what: str, timeout: float = 30
    ) -> list[Sent]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self.sent):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the helpdesk sent {len(self.sent)} message(s), not {what}"
                    )
                self._changed.wait(left)
            return list(self.sent)
