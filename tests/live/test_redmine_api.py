"""A real Redmine 5 read through its REST API: the issue's author is told when it is resolved,
once, with the technician's note; reopened and resolved again is a second resolution; Resolved
then Closed is one."""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest

from tests.live.conftest import Live
from tests.live.redmine import MAIL_FROM, Redmine
from tests.live.running import once, write_api_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

REQUESTER = ("Anna Schmidt", "anna.schmidt@example.org")
TITLE = "Laptop battery drains in an hour"


def test_the_rest_api_tells_the_author_once_per_resolution(
    tmp_path: Path, redmine: Live[Redmine], smtp_server: SmtpServerFactory
) -> None:
    desk = redmine.system
    sink = smtp_server()
    (tmp_path / "redmine-key").write_text(desk.notifier_key)
    config = write_api_config(
        tmp_path, sink, never_notify=(MAIL_FROM, "tech@example.org"),
        api=f"""
[[api]]
name = "redmine-api"
product = "redmine"
url = "{desk.url}"
token_file = "redmine-key"
query = "it"
""",
    )  # fmt: skip
    events = once(config)
    assert not any(e["event"] == "source_error" for e in events), events
    desk.mail_in(
        (
            f"From: {REQUESTER[0]} <{REQUESTER[1]}>\r\nTo: IT <{MAIL_FROM}>\r\n"
            f"Subject: {TITLE}\r\nDate: {email.utils.formatdate()}\r\n"
            f"Message-ID: {email.utils.make_msgid(domain='mua.example.org')}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nIt drains in an hour.\r\n"
        ).encode()
    )
    issue = desk.issue_of(TITLE)
    assert once(config) and sink.messages == []

    desk.update(issue, status="Resolved", notes="I replaced the battery. It lasts all day again.")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    body = sink.messages[0].message.get_body(preferencelist=("plain",))
    assert body is not None and "I replaced the battery." in body.get_content()

    events = once(config)  # the overlap reads it again
    assert len(sink.messages) == 1, events

    desk.update(issue, status="In Progress", notes="It drains again.")
    once(config)
    desk.update(issue, status="Resolved", notes="I updated the power settings. It lasts now.")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],), (REQUESTER[1],)], events

    desk.update(issue, status="Closed", notes="")  # closing a resolved issue: the same one
    assert desk.status(issue) == "Closed"
    events = once(config)
    assert len(sink.messages) == 2, events
