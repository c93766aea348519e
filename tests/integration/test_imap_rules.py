"""Notification rules end to end through the IMAP source (real Dovecot, real SMTP sink)."""

from __future__ import annotations

import email
import email.policy
import json
import time
from pathlib import Path

from notifier.core.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.e2e.cli import notifier
from tests.integration.imap_service import Harness, imap_settings
from tests.mailfactory import reply
from tests.smtp_server import SmtpServerFactory

PRESETS = Path(__file__).resolve().parents[1] / "data" / "mail" / "presets"


def sender_of(raw: bytes) -> str:
    return str(
        email.message_from_bytes(raw, policy=email.policy.default)["From"].addresses[0].addr_spec
    )


def test_a_reopen_mail_inside_the_window_cancels_the_notice(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """Request Tracker says resolved, then reopened, within the hold window: no notice."""
    resolved = (PRESETS / "rt-resolved.eml").read_bytes()
    reopened = (PRESETS / "rt-reopened.eml").read_bytes()
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(
        imap_settings(
            tmp_path, dovecot, sink, mode="preset", preset="rt",
            trusted_senders=[sender_of(resolved), sender_of(reopened)],
            top={"teams": {"default": {"delay": "1d"}}},  # the mails are 22 h apart
        )
    )  # fmt: skip
    try:
        harness.service.run_pass()
        dovecot.append("Resolved", resolved)
        assert harness.service.run_pass().queued == 1
        dovecot.append("Resolved", reopened)
        report = harness.service.run_pass()
        assert report.cancelled == 1 and sink.messages == []
        (cancelled,) = harness.outbox.audit_records(AuditQuery(outcome="cancelled"))
        assert "reopened before the notice was due" in cancelled.reason
        assert "Resolved uid 2" in cancelled.reason
    finally:
        harness.close()


def test_two_replies_inside_the_window_give_one_notice_and_five_give_a_digest(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """Folder mode: two answers to one request inside the window send only the newer words;
    five requests of one person done at once go out as one digest."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(
        imap_settings(tmp_path, dovecot, sink, top={"teams": {"default": {"delay": "2s"}}})
    )
    try:
        harness.service.run_pass()
        dovecot.append(
            "Resolved", reply(1, requester="bob@example.org", note="We changed the toner.")
        )
        harness.service.run_pass()
        second = reply(1, requester="bob@example.org", note="We replaced the printer.")
        second = second.replace(b"<reply-1@example.org>", b"<reply-1b@example.org>")
        second = second.replace(b"10:00:01", b"10:05:01")
        dovecot.append("Resolved", second)
        for n in range(10, 15):
            dovecot.append("Resolved", reply(n, requester="ann@example.org"))
        harness.service.run_pass()
        time.sleep(2.2)
        report = harness.service.run_pass()
        assert report.sent == 6  # 1 for bob, 5 for ann in one digest
        to_bob = [m for m in sink.messages if m.rcpt_tos == ("bob@example.org",)]
        (bob,) = to_bob
        body = bob.message.get_body(("plain",)).get_content()
        assert "We replaced the printer." in body and "toner" not in body
        to_ann = [m for m in sink.messages if m.rcpt_tos == ("ann@example.org",)]
        assert len(to_ann) == 1 and to_ann[0].message["Subject"] == "5 of your requests are done"
    finally:
        harness.close()


def test_a_no_reply_requester_is_suppressed_with_its_rule(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """An answer to a no-reply address is recorded as suppressed by the requester rule."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(imap_settings(tmp_path, dovecot, sink))
    try:
        harness.service.run_pass()
        dovecot.append("Resolved", reply(1, requester="noreply@vendor.example"))
        assert harness.service.run_pass().suppressed == 1
        (record,) = harness.outbox.audit_records(AuditQuery(outcome="suppressed"))
        assert "rule requester_address" in record.reason and sink.messages == []
    finally:
        harness.close()
    # What an operator sees: `notifier audit` names the rule too.
    config = tmp_path / "audit.toml"
    config.write_text(
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "plain"\n'
        'from_address = "it-helpdesk@example.org"\n',
        encoding="utf-8",
    )
    shown = notifier("audit", "--config", str(config), "--status", "suppressed", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert row["requester"] == "noreply@vendor.example"
    assert "rule requester_address" in row["reason"]
