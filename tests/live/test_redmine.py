"""A real Redmine 5 resolves an issue; notifier reads Redmine's own mail and tells the author.

The requester opens the issue by mail through Redmine's mail handler; the technician changes
its status through the REST API. Redmine mails every recipient separately; all of it is
journaled into the watched INBOX (an MTA's ``always_bcc``), the author's copy included.
"""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest

from tests.live.conftest import LiveRedmine
from tests.live.redmine import MAIL_FROM
from tests.live.running import once, write_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

REQUESTER = ("Anna Schmidt", "anna.schmidt@example.org")
TITLE = "Printer on floor 2 is jammed"


def test_a_resolved_issue_tells_its_author_once_and_a_reopened_one_again(
    tmp_path: Path, redmine: LiveRedmine, smtp_server: SmtpServerFactory
) -> None:
    desk, mail = redmine.redmine, redmine.mail
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
    sent = len(mail.wait_for(1))  # "(New)" to the author and the technician
    events = once(config)
    assert sink.messages == [], events

    desk.update(issue, status="Resolved", notes="I cleared the paper jam. The printer works again.")
    mail.wait_for(sent + 1)
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    notice = sink.messages[0].message
    assert str(notice["Subject"]) == f"Done: {TITLE}"
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    assert "I cleared the paper jam. The printer works again." in body.get_content()
    once(config)
    assert len(sink.messages) == 1  # read again: no second notice

    before = len(mail.sent)
    desk.update(issue, status="In Progress", notes="It jams again; I am on my way.")
    desk.update(issue, status="Resolved", notes="I replaced the worn roller. It works again.")
    assert desk.status(issue) == "Resolved"
    mail.wait_for(before + 2)  # at least the author's copy of each change
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],), (REQUESTER[1],)], events
