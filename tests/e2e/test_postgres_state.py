"""`notifier` on a PostgreSQL state (`[state] url`): the commands as the README runs them,
against a real server on loopback, with the password read from a file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServerFactory
from tests.store_backends import config_lines


def test_once_sends_each_notice_once_and_the_trail_verifies_on_postgresql(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """Twenty resolutions: twenty messages; a second pass sends nothing; audit verify, status
    and audit read the same database; no password is printed anywhere."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(20))
    (exports / "a.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    state = config_lines(postgres_cluster, tmp_path)
    config = write_config(tmp_path, server, exports, state=state)

    first = notifier("once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert len(server.messages) == 20
    again = notifier("once", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert len(server.messages) == 20

    verify = notifier("audit", "verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    sent = json.loads(
        notifier("audit", "--config", str(config), "--status", "sent", "--format", "json").stdout
    )
    assert sorted(r["ticket_id"] for r in sent) == sorted(f"HD-{n}" for n in range(20))
    status = notifier("status", "--config", str(config))
    assert "state: postgresql://notifier@127.0.0.1:" in status.stdout, status.stdout
    assert "sent 20" in status.stdout, status.stdout
    for output in (first, again, verify, status):
        assert postgres_cluster.password not in output.stdout + output.stderr


def test_a_database_that_cannot_be_reached_is_one_clear_line(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """A wrong password names the database (never the password) and exits non-zero."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    state = config_lines(postgres_cluster, tmp_path, "not-the-password")
    config = write_config(tmp_path, server, exports, state=state)
    done = notifier("once", "--config", str(config))
    assert done.returncode != 0
    assert "postgresql://notifier@127.0.0.1:" in done.stderr
    assert "password authentication failed" in done.stderr
    assert "Traceback" not in done.stderr and "not-the-password" not in done.stderr
