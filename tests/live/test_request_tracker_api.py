"""A real Request Tracker 5 read through its REST2 API: the resolved ticket is told to its
requester once, with the technician's last answer as the note (RT's own Resolved mail has
none), reopened and resolved again is told again, and re-reading the overlap sends nothing."""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest

from tests.e2e.cli import notifier
from tests.live.conftest import Live
from tests.live.request_tracker import QUEUE_ADDRESS, RTNAME, TECHNICIAN, RequestTracker
from tests.live.running import once, write_api_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

REQUESTER = ("Rita Requester", "rita.requester@example.org")


def requester_mail(subject: str, body: str) -> bytes:
    return (
        f"From: {REQUESTER[0]} <{REQUESTER[1]}>\r\nTo: IT Support <{QUEUE_ADDRESS}>\r\n"
        f"Subject: {subject}\r\nDate: {email.utils.formatdate()}\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='mua.example.org')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
    ).encode()


def test_the_rest2_api_tells_a_resolution_once_with_the_technicians_answer(
    tmp_path: Path, request_tracker: Live[RequestTracker], smtp_server: SmtpServerFactory
) -> None:
    rt = request_tracker.system
    sink = smtp_server()
    user, password, _, _ = TECHNICIAN
    (tmp_path / "rt-password").write_text(password)
    config = write_api_config(
        tmp_path, sink, never_notify=(QUEUE_ADDRESS, TECHNICIAN[2]),
        api=f"""
[[api]]
name = "rt-api"
product = "rt"
url = "{rt.url}"
username = "{user}"
password_file = "rt-password"
overlap = "10m"
""",
    )  # fmt: skip
    checked = notifier("check-config", "--config", str(config), "--connect")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "api rt-api (rt, " in checked.stdout and "login and one page ok" in checked.stdout
    (tmp_path / "rt-password").write_text("not-the-password")
    refused = notifier("check-config", "--config", str(config), "--connect")
    assert refused.returncode == 1 and "credentials were refused" in refused.stdout, refused
    assert "not-the-password" not in refused.stdout + refused.stderr
    (tmp_path / "rt-password").write_text(password)
    events = once(config)  # the first start: from now on
    assert not any(e["event"] == "source_error" for e in events), events

    rt.mail_in(requester_mail("Printer on floor 2 prints blank pages", "Could someone look?"))
    ticket = rt.ticket_of(REQUESTER[1])
    rt.reply(ticket, "Hello Rita,\nI replaced the toner, the printer works again.\nTom")
    events = once(config)
    assert sink.messages == [], events  # open, answered: not resolved

    rt.set_status(ticket, "resolved")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    body = sink.messages[0].message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "I replaced the toner, the printer works again." in text  # the note RT's mail lacks
    assert f"Your reference: {ticket}" in text
    events = once(config)  # the overlap reads the ticket again
    assert len(sink.messages) == 1, events

    rt.mail_in(
        requester_mail(
            f"Re: [{RTNAME} #{ticket}] Printer on floor 2 prints blank pages",
            "Sorry, it prints blank pages again.",
        )
    )
    once(config)  # RT reopened it
    rt.reply(ticket, "I replaced a worn part inside the printer. It prints properly now.")
    rt.set_status(ticket, "resolved")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],), (REQUESTER[1],)], events
    second = sink.messages[1].message.get_body(preferencelist=("plain",))
    assert second is not None and "worn part" in second.get_content()
