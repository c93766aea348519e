"""A real Request Tracker 5 resolves a ticket; notifier reads RT's own mail and tells the requester.

The requester writes to the queue through RT's mail gateway; the technician answers and resolves
through REST. Every mail RT sends is journaled into the watched INBOX (an MTA's ``always_bcc``),
so the mailbox holds the requester's own copy of the *Resolved* mail, which names her in To
(an AdminCc copy has no To and names nobody: docs/compatibility.md).
"""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest

from tests.live.conftest import Live
from tests.live.request_tracker import QUEUE_ADDRESS, RTNAME, TECHNICIAN, RequestTracker
from tests.live.running import once, write_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

REQUESTER = ("Rita Requester", "rita.requester@example.org")


def requester_mail(subject: str, body: str) -> bytes:
    lines = [
        f"From: {REQUESTER[0]} <{REQUESTER[1]}>",
        f"To: IT Support <{QUEUE_ADDRESS}>",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: {email.utils.make_msgid(domain='mua.example.org')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def test_a_resolved_ticket_tells_its_requester_once_and_a_reopened_one_again(
    tmp_path: Path, request_tracker: Live[RequestTracker], smtp_server: SmtpServerFactory
) -> None:
    rt, mail = request_tracker.system, request_tracker.mail
    sink = smtp_server()
    config = write_config(
        tmp_path, request_tracker.dovecot, sink, preset="rt",
        never_notify=(QUEUE_ADDRESS, TECHNICIAN[2]),
        trusted_senders=(QUEUE_ADDRESS,),  # RT's mail says Precedence: bulk (docs/imap.md)
    )  # fmt: skip
    once(config)  # notifier watches before the ticket exists

    rt.mail_in(requester_mail("Printer on floor 2 prints blank pages", "Could someone look?"))
    ticket = rt.ticket_of(REQUESTER[1])
    mail.wait_for(1)  # RT's autoreply
    rt.reply(ticket, "Hello Rita,\nI replaced the toner, the printer works again.\nTom")
    mail.wait_for(2)
    events = once(config)
    assert sink.messages == [], events  # an autoreply and an answer are no resolution

    rt.set_status(ticket, "resolved")
    mail.wait_for(3)
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    notice = sink.messages[0].message
    assert str(notice["Subject"]) == "Done: Printer on floor 2 prints blank pages"
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None and f"Your reference: {ticket}" in body.get_content()
    # RT's Resolved mail carries no note: the technician's words were in the answer before it.
    assert "What we did" not in body.get_content()
    once(config)
    assert len(sink.messages) == 1  # read again: no second notice

    rt.mail_in(
        requester_mail(
            f"Re: [{RTNAME} #{ticket}] Printer on floor 2 prints blank pages",
            "Sorry, it prints blank pages again.",
        )
    )
    rt.set_status(ticket, "resolved")
    mail.wait_for(4)
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],), (REQUESTER[1],)], events
