"""A rejected notification mail keeps the ticket its preset read (issue 16 item 2)."""

from __future__ import annotations

from pathlib import Path

from notifier.core.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.integration.test_imap_presets import PRESETS, sender_of
from tests.smtp_server import SmtpServerFactory


def test_a_preset_mail_without_a_requester_is_rejected_with_its_ticket_id(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """Jira's copy addressed to the helpdesk itself: no requester, but the ticket is known
    (ITHELP-57), so `audit --ticket ITHELP-57` finds the rejection."""
    jira = (PRESETS / "jsm-resolved.eml").read_bytes()
    copy = jira.replace(
        b"To: Jane Doe <jane.doe@example.org>",
        b'To: "jane.doe@example.org" <it-helpdesk@example.org>',
    ).replace(b"Message-ID: <JIRA.", b"Message-ID: <copy.JIRA.")
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    settings = imap_settings(
        tmp_path, dovecot, sink, mode="preset", preset="jsm", trusted_senders=[sender_of(jira)]
    )
    harness = Harness(settings)
    try:
        harness.service.run_pass()
        dovecot.append("Resolved", copy)
        report = harness.service.run_pass()
        assert (report.sent, report.rejected) == (0, 1)
        (record,) = harness.outbox.audit_records(AuditQuery(ticket="ITHELP-57"))
        assert (record.outcome, record.source, record.team) == ("rejected", "mail", "default")
        assert "no requester address" in record.reason
    finally:
        harness.close()
