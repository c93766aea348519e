"""Old mail is one decision: an IMAP source's ``backfill_since`` and ``[rules] max_age``
(issue 15, item 10). Real Dovecot, aiosmtpd and SQLite, wired as bootstrap wires them.

The sample replies are dated 2026-11-27; ``max_age`` is 3 days, so by the clock they are over
it: only ``backfill_since`` can let them through, and each decision names the knob that made it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from notifier.core.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.mailfactory import reply
from tests.smtp_server import SmtpServerFactory

OLD_RULES = {"rules": {"max_age": "3d"}}


def max_age_step(harness: Harness, key: str) -> dict[str, str]:
    explained = json.loads(str(harness.outbox.explain_record(key)["explain_json"]))
    (step,) = [s for s in explained["rules"] if s["rule"] == "max_age"]
    return dict(step)


def test_mail_backfilled_since_its_date_is_sent_whatever_max_age_says(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """backfill_since asks for the mail since that date: max_age does not suppress it, and
    the evaluation says backfill_since is why it passed."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    dovecot.append("Resolved", reply(1))
    settings = imap_settings(
        tmp_path, dovecot, sink, top=OLD_RULES, backfill_since=date(2026, 11, 1)
    )
    harness = Harness(settings)
    try:
        assert harness.service.run_pass().sent == 1
        (sent,) = harness.outbox.audit_records(AuditQuery(outcome="sent"))
        step = max_age_step(harness, sent.resolution_key)
        assert step["verdict"] == "pass" and "backfill_since 2026-11-01" in step["detail"]
    finally:
        harness.close()


def test_mail_resolved_before_backfill_since_and_over_max_age_names_both_knobs(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """Fetched (received since the date) but resolved before it and over max_age: suppressed,
    never silently: the audit reason names backfill_since and max_age."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    dovecot.append("Resolved", reply(1))
    settings = imap_settings(
        tmp_path, dovecot, sink, top=OLD_RULES, backfill_since=date(2026, 11, 28)
    )
    harness = Harness(settings)
    try:
        assert harness.service.run_pass().suppressed == 1
        (suppressed,) = harness.outbox.audit_records(AuditQuery(outcome="suppressed"))
        assert "backfill_since 2026-11-28" in suppressed.reason
        assert "max_age" in suppressed.reason and sink.messages == []
    finally:
        harness.close()


def test_without_backfill_since_the_max_age_suppression_names_both_knobs(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """No backfill_since: max_age decides, and its reason says how to let older mail through."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(imap_settings(tmp_path, dovecot, sink, top=OLD_RULES))
    try:
        harness.service.run_pass()  # first start: from now on
        dovecot.append("Resolved", reply(1))
        assert harness.service.run_pass().suppressed == 1
        (suppressed,) = harness.outbox.audit_records(AuditQuery(outcome="suppressed"))
        assert "[rules] max_age" in suppressed.reason
        assert "backfill_since" in suppressed.reason  # how to let such mail through
    finally:
        harness.close()
