"""A real Roundup tracker read through its REST API: the issue's creator is told once per
resolution, with the technician's message; edits without a message and the overlap re-read
send nothing; a reply that reopens it, then a second resolution, tell her again. Read beside
the tracker's mail (one helpdesk), a resolution is still told once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli import notifier
from tests.live.conftest import Live
from tests.live.roundup import ADMIN_PASSWORD, TECHNICIAN, TRACKER_ADDRESS, RoundupTracker
from tests.live.running import once, write_api_config, write_config
from tests.live.test_roundup import REQUESTER, requester_mail
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

NEVER = (TRACKER_ADDRESS, TECHNICIAN[2])


def api_table(tracker: RoundupTracker, tmp_path: Path, *, user: str, password: str) -> str:
    (tmp_path / f"{user}-password").write_text(password)
    return f"""
[[api]]
name = "roundup-api"
helpdesk = "roundup"
product = "roundup"
url = "{tracker.url}"
username = "{user}"
password_file = "{user}-password"
overlap = "10m"
"""


def test_the_rest_api_tells_the_creator_once_per_resolution(
    tmp_path: Path, roundup_tracker: Live[RoundupTracker], smtp_server: SmtpServerFactory
) -> None:
    tracker = roundup_tracker.system
    sink = smtp_server()
    api = api_table(tracker, tmp_path, user="admin", password=ADMIN_PASSWORD)
    config = write_api_config(tmp_path, sink, never_notify=NEVER, api=api)
    checked = notifier("check-config", "--config", str(config), "--connect")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "roundup-api" in checked.stdout and "issue(s) visible" in checked.stdout
    assert "hidden" not in checked.stdout
    tracker.add_user("anna", *REQUESTER, "Anna-Pa55word")
    events = once(config)  # the cursor starts now
    assert not any(e["event"] == "source_error" for e in events), events

    opened, opened_id = requester_mail("Scanner saves blank pages", "Every scan is blank.")
    tracker.mail_in(opened)
    once(config)
    assert sink.messages == [], "a new issue is not a resolution"

    tracker.resolve(1, "I cleaned the scanner glass. Scans come out right again.")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    notice = sink.messages[0].message
    assert str(notice["Subject"]) == "Done: Scanner saves blank pages"
    assert notice["In-Reply-To"] == opened_id  # in the thread of her own mail
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None and "I cleaned the scanner glass." in body.get_content()

    tracker.change(1, priority="3")  # an edit without a message: the same resolution
    events = once(config)  # and the overlap reads the issue again
    assert len(sink.messages) == 1, events

    again, _ = requester_mail(
        "Re: [issue1] Scanner saves blank pages", "It is blank again.", in_reply_to=opened_id
    )
    tracker.mail_in(again)
    assert tracker.status(1) == "chatting"
    once(config)
    assert len(sink.messages) == 1
    tracker.resolve(1, "I replaced the scanner lamp. Scans are fine now.")
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)] * 2, events
    second = sink.messages[1].message.get_body(preferencelist=("plain",))
    assert second is not None and "scanner lamp" in second.get_content()


def test_an_account_that_cannot_see_addresses_is_named_and_nothing_is_sent(
    tmp_path: Path, roundup_tracker: Live[RoundupTracker], smtp_server: SmtpServerFactory
) -> None:
    tracker = roundup_tracker.system
    sink = smtp_server()
    user, _, _, password = TECHNICIAN
    config = write_api_config(
        tmp_path, sink, never_notify=NEVER,
        api=api_table(tracker, tmp_path, user=user, password=password),
    )  # fmt: skip
    tracker.add_user("anna", *REQUESTER, "Anna-Pa55word")
    once(config)
    tracker.mail_in(requester_mail("Mouse is broken", "The left button sticks.")[0])
    checked = notifier("check-config", "--config", str(config), "--connect")
    assert "give it the Admin role" in checked.stdout, checked.stdout + checked.stderr
    tracker.resolve(1, "I gave you a new mouse.")
    once(config)
    assert sink.messages == []
    trail = notifier("audit", "--config", str(config), "--format", "json")
    rows = json.loads(trail.stdout)
    assert [(r["ticket_id"], r["outcome"]) for r in rows] == [("issue1", "rejected")], rows


def test_the_api_and_the_mail_of_one_tracker_tell_a_resolution_once(
    tmp_path: Path, roundup_tracker: Live[RoundupTracker], smtp_server: SmtpServerFactory
) -> None:
    tracker, mail, dovecot = roundup_tracker.system, roundup_tracker.mail, roundup_tracker.dovecot
    sink = smtp_server()
    config = write_config(
        tmp_path, dovecot, sink, preset="roundup", never_notify=NEVER,
        original_folders=("Requests",), trusted_senders=(TRACKER_ADDRESS,),
        extra='helpdesk = "roundup"\n'
        + api_table(tracker, tmp_path, user="admin", password=ADMIN_PASSWORD),
    )  # fmt: skip
    tracker.add_user("anna", *REQUESTER, "Anna-Pa55word")
    once(config)
    opened, _ = requester_mail("Monitor flickers", "My monitor flickers all day.")
    dovecot.append("Requests", opened)
    tracker.mail_in(opened)
    mail.wait_for(1)
    tracker.resolve(1, "I swapped the monitor cable. The picture is steady now.")
    mail.wait_for(2)
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    once(config)
    trail = notifier("audit", "--config", str(config), "--format", "json")
    reasons = [str(r["reason"]) for r in json.loads(trail.stdout) if r["ticket_id"] == "issue1"]
    assert any("the same resolution as" in reason for reason in reasons), reasons
    assert len(sink.messages) == 1
