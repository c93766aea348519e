"""`notifier migrate-state --to postgresql://...`: a SQLite state moves whole into an empty
PostgreSQL database, and notifier carries on there as if nothing happened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServerFactory
from tests.store_backends import new_database

RELEASED = Path(__file__).resolve().parents[1] / "data" / "state" / "0.1.0" / "notifier.sqlite3"


def _target(server: PostgresServer, tmp_path: Path) -> tuple[str, Path]:
    url = new_database(server, with_password=False)
    secret = tmp_path / "db-password"
    secret.write_text(server.password, encoding="utf-8")
    return url, secret


def test_a_state_moves_whole_and_the_next_run_knows_everything_it_did(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """Twenty notices sent and one bad row on SQLite; after the move the chain verifies on
    PostgreSQL with the same head, the trail reads the same, and a pass on the moved state
    sends nothing again but the one new resolution."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(20))
    (exports / "a.csv").write_text(CSV_HEADER + rows + csv_row("HD-X", "not-an-address"), "utf-8")
    config = write_config(tmp_path, server, exports)
    notifier("once", "--config", str(config))
    assert len(server.messages) == 20
    trail_before = notifier("audit", "--config", str(config), "--format", "json").stdout

    url, secret = _target(postgres_cluster, tmp_path)
    moved = notifier("migrate-state", "--config", str(config), "--to", url,
                     "--password-file", str(secret))  # fmt: skip
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "audit verify on the target: ok" in moved.stdout
    assert postgres_cluster.password not in moved.stdout + moved.stderr

    shared = write_config(tmp_path, server, exports,
                          state=f'url = "{url}"\npassword_file = "{secret}"')  # fmt: skip
    assert notifier("audit", "--config", str(shared), "--format", "json").stdout == trail_before
    (exports / "b.csv").write_text(CSV_HEADER + csv_row("HD-NEW", "new@example.org"), "utf-8")
    again = notifier("once", "--config", str(shared))
    assert [m.rcpt_tos[0] for m in server.messages[20:]] == ["new@example.org"], again.stderr
    assert notifier("audit", "verify", "--config", str(shared)).returncode == 0

    twice = notifier("migrate-state", "--config", str(config), "--to", url,
                     "--password-file", str(secret))  # fmt: skip
    assert twice.returncode == 1 and "already holds a state" in twice.stderr


def test_the_state_a_release_wrote_moves_whole(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """The state 0.1.0 wrote (schema version 6) is migrated and moved; the target verifies
    and holds its notices."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports)
    (tmp_path / "state").mkdir()
    shutil.copy(RELEASED, tmp_path / "state" / "notifier.sqlite3")
    url, secret = _target(postgres_cluster, tmp_path)
    moved = notifier("migrate-state", "--config", str(config), "--to", url,
                     "--password-file", str(secret))  # fmt: skip
    assert moved.returncode == 0, moved.stdout + moved.stderr
    shared = write_config(tmp_path, server, exports,
                          state=f'url = "{url}"\npassword_file = "{secret}"')  # fmt: skip
    verify = notifier("audit", "verify", "--config", str(shared))
    assert verify.returncode == 0, verify.stdout
    status = json.loads(notifier("status", "--config", str(shared), "--format", "json").stdout)
    assert sum(status["queue"]["counts"].values()) >= 1


def test_a_wrong_target_is_refused_before_anything_is_copied(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\ndirectory = "{tmp_path / "state"}"\n', encoding="utf-8")
    done = notifier("migrate-state", "--config", str(config), "--to", "mysql://db/x")
    assert done.returncode == 78 and "--to: url: a PostgreSQL URL" in done.stderr
