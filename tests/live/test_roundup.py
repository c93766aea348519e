"""A real Roundup tracker resolves issues; notifier reads its mail and tells the requester.

The requester opens the issue by mail through Roundup's own gateway; her mail is also kept in
the mailbox's ``Requests`` folder (the tracker's incoming mail, which notifier searches as an
original folder). Every mail the tracker sends is journaled into the watched INBOX, as an MTA's
``always_bcc`` does. The technician resolves through the REST API, note and status in one
change. Roundup's mail never names the requester: notifier finds her through the thread.
"""

from __future__ import annotations

import email.utils
import json
from pathlib import Path

import pytest

from tests.e2e.cli import notifier
from tests.live.conftest import Live
from tests.live.roundup import TECHNICIAN, TRACKER_ADDRESS, RoundupTracker
from tests.live.running import once, write_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]

REQUESTER = ("Anna Schmidt", "anna.schmidt@example.org")


def requester_mail(subject: str, body: str, *, in_reply_to: str = "") -> tuple[bytes, str]:
    """A mail from the requester to the tracker, as her mail program writes it; and its ID."""
    message_id = email.utils.make_msgid(domain="mua.example.org")
    lines = [
        f"From: {REQUESTER[0]} <{REQUESTER[1]}>",
        f"To: IT Help <{TRACKER_ADDRESS}>",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode(), message_id


def test_a_resolved_issue_tells_its_requester_and_a_reopened_one_is_told_again(
    tmp_path: Path, roundup_tracker: Live[RoundupTracker], smtp_server: SmtpServerFactory
) -> None:
    tracker, mail, dovecot = roundup_tracker.system, roundup_tracker.mail, roundup_tracker.dovecot
    sink = smtp_server()
    config = write_config(
        tmp_path, dovecot, sink, preset="roundup",
        never_notify=(TRACKER_ADDRESS, TECHNICIAN[2]), original_folders=("Requests",),
        trusted_senders=(TRACKER_ADDRESS,),  # its mail says Precedence: bulk (docs/imap.md)
    )  # fmt: skip
    tracker.add_user("anna", *REQUESTER, "Anna-Pa55word")
    once(config)  # notifier watches before the issue exists

    opened, opened_id = requester_mail(
        "Printer on floor 2 is jammed", "Hello, the printer on floor 2 shows a paper jam."
    )
    dovecot.append("Requests", opened)
    tracker.mail_in(opened)
    mail.wait_for(1)  # the new-issue mail to the requester (nosy)
    once(config)
    assert sink.messages == [], "a new issue is not a resolution"

    tracker.resolve(1, "I cleared the paper jam. The printer works again.")
    assert tracker.status(1) == "resolved"
    mail.wait_for(2)
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    notice = sink.messages[0].message
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    assert "I cleared the paper jam. The printer works again." in body.get_content()
    assert "issue1" in body.get_content()  # the tracker's own designator, for a reply
    assert str(notice["Subject"]) == "Done: Printer on floor 2 is jammed"

    again, _ = requester_mail(
        "Re: [issue1] Printer on floor 2 is jammed",
        "Sorry, it jams again.",
        in_reply_to=opened_id,
    )
    dovecot.append("Requests", again)
    tracker.mail_in(again)
    assert tracker.status(1) == "chatting"  # the classic statusauditor reopens it
    tracker.resolve(1, "I replaced the worn roller. The printer works again.")
    mail.wait_for(4)
    once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],), (REQUESTER[1],)]
    second = sink.messages[1].message.get_body(preferencelist=("plain",))
    assert second is not None and "worn roller" in second.get_content()


# Match rules for Roundup's mail as docs/imap-presets.md ("Match mode") shows them: the status
# header says resolved, To names the recipient (the helpdesk's own addresses passed over), and
# a change note "status: resolved -> ..." is a reopen.
ROUNDUP_RULES = r"""
[[imap.rules]]
name = "roundup reopened"
means = "reopened"
subject = '^\[issue(?P<ticket_id>\d+)\]'
body = '^status: (?:resolved|done-cbb) -> '

[[imap.rules]]
name = "roundup resolved"
subject = '^\[issue(?P<ticket_id>\d+)\] (?P<title>.+)$'
headers = { "X-Roundup-issue-status" = '^resolved$', "To" = '(?P<requester>.+)' }
body = 'added the comment:\s*\n(?P<resolution_note>[\s\S]+?)\n-{10}'
"""


def test_match_rules_from_the_docs_read_roundup_too(
    tmp_path: Path, roundup_tracker: Live[RoundupTracker], smtp_server: SmtpServerFactory
) -> None:
    """No preset: the rules take the requester from a header and tell a reopen apart."""
    assert ROUNDUP_RULES.strip() in (ROOT / "docs" / "imap-presets.md").read_text(), "docs differ"
    tracker, mail, dovecot = roundup_tracker.system, roundup_tracker.mail, roundup_tracker.dovecot
    sink = smtp_server()
    config = write_config(
        tmp_path, dovecot, sink, rules=ROUNDUP_RULES,
        never_notify=(TRACKER_ADDRESS, TECHNICIAN[2]), trusted_senders=(TRACKER_ADDRESS,),
    )  # fmt: skip
    tracker.add_user("anna", *REQUESTER, "Anna-Pa55word")
    once(config)  # notifier watches before the issue exists
    opened, opened_id = requester_mail("Laptop does not charge", "My laptop does not charge.")
    tracker.mail_in(opened)
    mail.wait_for(1)
    tracker.resolve(1, "I replaced the charger. The laptop charges again.")
    mail.wait_for(2)
    events = once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER[1],)], events
    notice = sink.messages[0].message
    assert str(notice["Subject"]) == "Done: Laptop does not charge"
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    assert "I replaced the charger. The laptop charges again." in body.get_content()

    again, _ = requester_mail(
        "Re: [issue1] Laptop does not charge", "It stopped again.", in_reply_to=opened_id
    )
    tracker.mail_in(again)
    assert tracker.status(1) == "chatting"
    mail.wait_for(3)  # the technician's copy: "status: resolved -> chatting"
    once(config)
    trail = notifier("audit", "--config", str(config), "--format", "json")
    reasons = [str(row["reason"]) for row in json.loads(trail.stdout)]
    assert any("rule 'roundup reopened' matched" in reason for reason in reasons), reasons
    assert len(sink.messages) == 1
