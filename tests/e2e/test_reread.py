"""Reading export input again: after a configuration fix (by itself) and on request (`reread`)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, start_notifier, write_config
from tests.smtp_server import SmtpServerFactory


def pass_report(result_stdout: str) -> dict[str, int]:
    """The `pass_finished` counts `once` logs as JSON."""
    for line in reversed(result_stdout.splitlines()):
        if '"pass_finished"' in line:
            return json.loads(line)  # type: ignore[no-any-return]
    raise AssertionError(f"no pass_finished event in: {result_stdout}")


def rejected(config: Path) -> list[dict[str, str]]:
    audit = notifier("audit", "--config", str(config), "--status", "rejected", "--format", "json")
    assert audit.returncode == 0, audit.stderr
    return json.loads(audit.stdout)  # type: ignore[no-any-return]


def test_a_file_rejected_for_a_wrong_column_is_read_again_once_the_mapping_is_fixed(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """The mapping names a column the file lacks: the file is rejected whole. After the operator
    fixes the mapping, the next `once` reads it again and the requesters are told."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "monday.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org") + csv_row("HD-2", "bob@example.org"),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports)
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace('requester_email = "Email"', 'requester_email = "E-mail"'))

    wrong = notifier("once", "--config", str(config))
    assert wrong.returncode == 1, wrong.stderr + wrong.stdout
    reasons = [r["reason"] for r in rejected(config)]
    assert [r.split(":")[0] for r in reasons] == ["missing requester email"] * 2
    assert "no column mapped to it is in this file" in reasons[0]
    assert server.messages == []

    config.write_text(good, encoding="utf-8")  # the fix
    fixed = notifier("once", "--config", str(config))
    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    assert pass_report(fixed.stdout)["seen"] == 2
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["ann@example.org", "bob@example.org"]

    again = notifier("once", "--config", str(config))  # read under this mapping: not again
    assert pass_report(again.stdout)["seen"] == 0
    assert len(server.messages) == 2


def test_a_rewritten_export_reports_each_bad_row_once(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """An export tool that writes the same file again (one row changed) has it read again from
    the start; the bad row it still holds is not recorded a second time."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    bad = csv_row("HD-2", "not-an-address")
    export = exports / "tickets.csv"
    export.write_text(CSV_HEADER + csv_row("HD-1", "ann@example.org") + bad, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 1

    export.write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", summary="Printer jams again") + bad,
        encoding="utf-8",
    )
    second = notifier("once", "--config", str(config))
    assert pass_report(second.stdout)["seen"] == 1  # it was read again
    reasons = [r["reason"] for r in rejected(config) if "not-an-address" in r["reason"]]
    assert len(reasons) == 1, reasons
    assert second.returncode == 0, second.stderr + second.stdout


def test_the_running_daemon_reads_the_file_again_after_a_reload_with_the_fix(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Under `run`: the wrong mapping rejects the file; SIGHUP with the fixed configuration
    and the requesters are told, without touching the file or restarting."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "monday.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    config = write_config(tmp_path, server, exports)
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace('ticket_id = "Key"', 'ticket_id = "Issue key"'))
    log = tmp_path / "run.log"
    daemon = start_notifier("run", "--config", str(config), log=log)
    try:
        deadline = time.monotonic() + 30
        while '"input_rejected"' not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        config.write_text(good, encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        while not server.messages:
            assert time.monotonic() < deadline + 30, log.read_text()
            time.sleep(0.2)
        assert list(server.messages[0].rcpt_tos) == ["ann@example.org"]
        assert '"export_read_again"' in log.read_text()
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
