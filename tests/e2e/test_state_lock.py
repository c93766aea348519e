"""One daemon per state directory, even when someone deletes ``notifier.lock`` under it."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

from notifier.store.sqlite.paths import LOCK_NAME
from tests.e2e.cli import CSV_HEADER, csv_row, notifier, start_notifier, write_config
from tests.e2e.daemon_support import wait_until
from tests.smtp_server import ServerBehaviour, SmtpServerFactory

TOTAL = 60


def test_a_second_daemon_is_refused_after_the_lock_file_was_deleted(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Deleting the lock file does not free the state directory: a second `notifier run` and a
    `notifier once` refuse with one line and exit 1, and no notice is sent twice."""
    server = smtp_server(behaviour=ServerBehaviour(data_delay=0.05))
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(TOTAL))
    (exports / "batch.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    state = tmp_path / "state"

    first = start_notifier("run", "--config", str(config), log=tmp_path / "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: len(server.messages) >= 5, 60, "the first deliveries")
        (state / LOCK_NAME).unlink()

        second = start_notifier("run", "--config", str(config), log=tmp_path / "second.log")
        try:
            code = second.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "a second `notifier run` on the same state directory did not refuse to start"
            ) from None
        output = (tmp_path / "second.log").read_text()
        assert code == 1, output
        assert output.count("\n") == 1 and "Traceback" not in output, output
        assert str(state) in output and "another notifier process" in output, output

        once = notifier("once", "--config", str(config), timeout=30)
        assert once.returncode == 1, once.stderr
        assert once.stderr.count("\n") == 1 and "another notifier process" in once.stderr

        wait_until(lambda: len(server.messages) >= TOTAL, 120, "every notice")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    copies = Counter(message.rcpt_tos[0] for message in server.messages)
    assert len(copies) == TOTAL
    assert [r for r, n in copies.items() if n > 1] == [], "notices sent twice"
