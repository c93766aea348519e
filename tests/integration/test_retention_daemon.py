"""`[audit] retention`: the daemon drops old private data itself, once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from notifier.core.audit import AuditQuery
from notifier.runtime import bootstrap
from notifier.runtime.config import Settings
from notifier.runtime.daemon import Daemon, Signals
from notifier.runtime.sdnotify import Notifier
from notifier.store.sqlite.outbox import Outbox
from tests.e2e.cli import CSV_HEADER, csv_row
from tests.smtp_server import SmtpServerFactory


def test_daemon_applies_retention_once_a_day(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """After a pass, rows older than the retention lose their requester (the run is itself an
    audit row); a second pass the same day does not prune again."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    settings = Settings.model_validate(
        {
            "state": {"directory": tmp_path / "state"},
            "smtp": {"host": server.host, "port": server.port, "security": "plain",
                     "from_address": "it@example.org", "timeout": 5},
            "rules": {"max_age": 0},
            "audit": {"retention": "30d"},
            "exports": [{"name": "desk", "path": str(exports), "settle_seconds": 0,
                         "columns": {"ticket_id": "Key", "requester_email": "Email",
                                     "status": "Status", "resolved_at": "Resolved"}}],
        }
    )  # fmt: skip
    outbox = Outbox.open(settings.state.directory)
    clock = {"now": datetime.now(UTC)}
    elapsed = {"seconds": 0.0}  # the daemon's monotonic clock: retention runs once a day by it
    try:
        daemon = Daemon(
            settings=settings, outbox=outbox, build=bootstrap.build_service, load=lambda: settings,
            signals=Signals(), notifier=Notifier(None), watchdog=None,
            monotonic=lambda: elapsed["seconds"],
        )  # fmt: skip
        daemon._clock = lambda: clock["now"]  # type: ignore[method-assign]
        daemon.service.start()
        daemon.run_pass()  # sends HD-1; nothing is older than 30 days yet
        sent = outbox.audit_records(AuditQuery(outcome="sent"))
        assert sent and sent[0].requester == "ann@example.org"
        clock["now"] += timedelta(days=31)
        elapsed["seconds"] += timedelta(days=31).total_seconds()
        daemon.run_pass()
        assert outbox.audit_records(AuditQuery(outcome="sent"))[0].requester == ""
        assert len(outbox.audit_records(AuditQuery(outcome="pruned"))) == 1
        daemon.run_pass()  # the same day: no second run
        assert len(outbox.audit_records(AuditQuery(outcome="pruned"))) == 1
    finally:
        outbox.close()
