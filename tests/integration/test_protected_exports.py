"""The protected-recipient guard on the export path: real files, real SQLite, real SMTP sink."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from notifier.core.audit import AuditQuery
from notifier.runtime import bootstrap
from notifier.runtime.config import Settings
from notifier.store.sqlite.outbox import Outbox
from tests.e2e.cli import CSV_HEADER, csv_row
from tests.smtp_server import SmtpServerFactory


def test_an_export_row_naming_one_of_our_addresses_is_suppressed_and_logged(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Rows whose requester is our From address (with a +tag), a team's reply_to or under a
    never_notify domain get no notice: each is recorded as suppressed with the ticket and the
    setting that protects it, and logged; the row for a person is sent as usual."""
    sink = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "1.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "IT-Helpdesk+HD-1@example.org", name="it-helpdesk@example.org")
        + csv_row("HD-2", "desk@eu.partner.example")
        + csv_row("HD-3", "Network-Help@Example.org")
        + csv_row("HD-4", "ann@example.org", name="Ann Lee"),
        encoding="utf-8",
    )
    settings = Settings.model_validate(
        {
            "state": {"directory": tmp_path / "state"},
            "smtp": {
                "host": sink.host, "port": sink.port, "security": "plain",
                "from_address": "it-helpdesk@example.org", "timeout": 5,
            },
            "delivery": {"rate_limit_per_minute": 100000},
            "rules": {"max_age": 0, "never_notify": ["partner.example"]},
            "teams": {"network": {"reply_to": "network-help@example.org"}},
            "exports": [
                {
                    "name": "desk", "path": str(exports), "settle_seconds": 0,
                    "resolved_statuses": ["Resolved"],
                    "columns": {
                        "ticket_id": "Key", "requester_email": "Email", "requester_name": "Name",
                        "title": "Summary", "status": "Status", "resolved_at": "Resolved",
                    },
                }
            ],
        }
    )  # fmt: skip
    outbox = Outbox.open(settings.state.directory)
    try:
        service = bootstrap.build_service(settings, outbox)
        service.start()
        with capture_logs() as logs:
            report = service.run_pass()
        assert report.sent == 1 and [m.rcpt_tos for m in sink.messages] == [("ann@example.org",)]
        suppressed = {
            r.ticket_id: r.reason for r in outbox.audit_records(AuditQuery(outcome="suppressed"))
        }
        assert sorted(suppressed) == ["HD-1", "HD-2", "HD-3"]
        for ticket, why in [
            ("HD-1", "smtp.from_address"),
            ("HD-2", "never_notify 'partner.example'"),
            ("HD-3", "reply_to of team 'network'"),
        ]:
            reason = suppressed[ticket]
            assert reason.startswith(f"rule protected_recipient: ticket {ticket}: "), reason
            assert why in reason, reason
        assert "desk@eu.partner.example" not in suppressed["HD-2"]  # names the rule, not her
        logged = {e["ticket_id"] for e in logs if e["event"] == "notice_suppressed"}
        assert logged == {"HD-1", "HD-2", "HD-3"}
    finally:
        outbox.close()
