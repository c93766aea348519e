"""`notifier reread SOURCE [--since TIME]`: reading a source's input again on request."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.dovecot import DovecotServer
from tests.e2e.cli import CSV_HEADER, csv_row, notifier, start_notifier, write_config
from tests.e2e.test_reread import pass_report
from tests.e2e.test_run import wait_until
from tests.mailfactory import reply
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServerFactory
from tests.store_backends import new_database


def test_reread_reads_a_source_again_and_keys_dedupe(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """`reread desk` clears the source's checkpoints and says which files; the next pass reads
    them again and sends nothing twice. `--since` limits it to files modified since then."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    old = exports / "october.csv"
    old.write_text(CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8")
    new = exports / "november.csv"
    new.write_text(CSV_HEADER + csv_row("HD-2", "bob@example.org"), encoding="utf-8")
    stamp = time.mktime((2026, 10, 15, 12, 0, 0, 0, 0, -1))
    os.utime(old, (stamp, stamp))
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 0
    assert len(server.messages) == 2

    some = notifier("reread", "desk", "--since", "2026-11-01", "--config", str(config))
    assert some.returncode == 0, some.stderr + some.stdout
    assert str(new) in some.stdout and str(old) not in some.stdout
    once = notifier("once", "--config", str(config))
    report = pass_report(once.stdout)
    assert (report["seen"], report["already_known"]) == (1, 1)

    everything = notifier("reread", "desk", "--config", str(config))
    assert everything.returncode == 0, everything.stderr
    assert str(new) in everything.stdout and str(old) in everything.stdout
    report = pass_report(notifier("once", "--config", str(config)).stdout)
    assert (report["seen"], report["already_known"]) == (2, 2)
    assert len(server.messages) == 2  # nothing sent twice

    unknown = notifier("reread", "nosuch", "--config", str(config))
    assert unknown.returncode != 0
    assert "nosuch" in unknown.stderr and "desk" in unknown.stderr


def test_reread_refuses_while_the_daemon_holds_the_state(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """With `run` holding the state directory, `reread` changes nothing and says why."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports)
    daemon = start_notifier("run", "--config", str(config), log=tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 30
        while "pass_finished" not in (tmp_path / "run.log").read_text(errors="replace"):
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.2)
        busy = notifier("reread", "desk", "--config", str(config))
        assert busy.returncode != 0
        assert "another notifier process" in busy.stderr, busy.stderr
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_reread_of_an_imap_folder_goes_back_to_the_first_message_since(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """`reread mail --since DAY` asks the server for the first message dated on or after DAY
    and the next pass reads from it on; nothing is sent twice."""
    from tests.e2e.test_imap_run import write_config as imap_config

    sink = smtp_server()
    dovecot.create_folder("Resolved")
    config = imap_config(tmp_path, dovecot, sink)
    assert notifier("once", "--config", str(config)).returncode == 0  # the first start: empty
    days = [datetime(2026, 10, 10, 9, tzinfo=UTC), datetime(2026, 11, 20, 9, tzinfo=UTC)]
    days.append(datetime(2026, 11, 25, 9, tzinfo=UTC))
    people = ["ann@example.org", "bob@example.org", "cat@example.org"]
    uids = [
        dovecot.append("Resolved", reply(n, requester=who), when=day)
        for n, (who, day) in enumerate(zip(people, days, strict=True), start=1)
    ]
    first = notifier("once", "--config", str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(sink.messages) == 3

    again = notifier("reread", "mail", "--since", "2026-11-15", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert f"from UID {uids[1]} on" in again.stdout, again.stdout
    report = pass_report(notifier("once", "--config", str(config)).stdout)
    assert (report["seen"], report["already_known"]) == (2, 2)
    assert len(sink.messages) == 3


def test_reread_on_a_shared_state_takes_the_source_from_the_running_instance(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """On PostgreSQL the instances keep running: `reread` takes the source's lease from the
    one reading it, says so, and gives it back; that instance reads the file again at once
    and sends nothing twice."""
    from tests.e2e.test_postgres_failover import _events, _instance_config, _stop

    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(3))
    (exports / "a.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    password = tmp_path / "db-password"
    password.write_text(postgres_cluster.password, encoding="utf-8")
    url = new_database(postgres_cluster, with_password=False)
    config = _instance_config(tmp_path, "a", server, exports, url, password)
    log = tmp_path / "a.log"
    daemon = start_notifier("run", "--config", str(config), log=log)
    try:
        wait_until(lambda: len(server.messages) == 3, 60, "the first three notices")
        again = notifier("reread", "desk", "--config", str(config))
        assert again.returncode == 0, again.stdout + again.stderr
        assert "a.csv" in again.stdout and "instance a (" in again.stdout, again.stdout

        def read_again() -> bool:
            return any(
                e["event"] == "pass_finished" and e.get("already_known") == 3 for e in _events(log)
            )

        wait_until(read_again, 30, "the instance to read the file again")
        assert len(server.messages) == 3
        status = notifier("status", "--config", str(config))
        assert "1 alive" in status.stdout and "stopped" not in status.stdout, status.stdout
    finally:
        _stop(daemon)
