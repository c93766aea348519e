"""A real Redmine 5 resolves an issue; notifier reads Redmine's own mail and tells the author.

The requester opens the issue by mail through Redmine's mail handler; the technician changes
its status through the REST API. Redmine mails every recipient separately; all of it is
journaled into the watched INBOX (an MTA's ``always_bcc``), the author's copy included.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live.conftest import Live
from tests.live.mailhop import Sent
from tests.live.redmine import MAIL_FROM, Redmine
from tests.live.running import once, write_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

REQUESTER = ("Anna Schmidt", "anna.schmidt@example.org")
TITLE = "Printer on floor 2 is jammed"


def author_copies(count: int) -> Callable[[list[Sent]], bool]:
    """Redmine mails every recipient separately: the author's own copies, counted."""
    return lambda sent: sum(s.recipients == (REQUESTER[1],) for s in sent) >= count


def test_a_resolved_issue_tells_its_author_once_and_a_reopened_one_again(
    tmp_path: Path, redmine: Live[Redmine], smtp_server: SmtpServerFactory
) -> None:
    desk, mail = redmine.system, redmine.mail
    sink = smtp_server()
    config = write_config(
        tmp_path, redmine.dovecot, sink, preset="redmine",
        never_notify=(MAIL_FROM, "tech@example.org"),
        trusted_senders=(MAIL_FROM,),  # lifts Redmine's List-Id and Auto-Submitted (docs/imap.md)
    )  # fmt: skip
    once(config)  # notifier watches before the issue exists

    opened = (
        f"From: {REQUESTER[0]} <{REQUESTER[1]}>\r\nTo: IT <{MAIL_FROM}>\r\n"
        f"Subject: {TITLE}\r\nDate: {email.utils.formatdate()}\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='mua.example.org')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nThe printer on floor 2 is jammed.\r\n"
    ).encode()
    desk.mail_in(opened)
    issue = desk.issue_of(TITLE)
    mail.wait_for_copies(b"(New)", 1)
    events = once(config)
    assert sink.messages == [], events

    desk.update(issue, status="Resolved", notes="I cleared the paper jam. The printer works again.")
    mail.wait_until(author_copies(2), "the author's (New) and (Resolved)")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    notice = sink.messages[0].message
    assert str(notice["Subject"]) == f"Done: {TITLE}"
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    assert "I cleared the paper jam. The printer works again." in body.get_content()
    once(config)
    assert len(sink.messages) == 1  # read again: no second notice

    desk.update(issue, status="In Progress", notes="It jams again; I am on my way.")
    desk.update(issue, status="Resolved", notes="I replaced the worn roller. It works again.")
    assert desk.status(issue) == "Resolved"
    mail.wait_until(author_copies(4), "the author's copies of both changes")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],), (REQUESTER[1],)], events
