"""`notifier audit` end to end: verify after edits in the sqlite3 shell, show, filters, follow, prune.

The trail is written by the real pipeline (`notifier once`: exports in, a real SMTP server out),
then read and attacked the way an operator or an intruder with file access would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notifier.core.model import InputProblem
from notifier.runtime import bootstrap
from notifier.runtime.config import load_settings
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.paths import DATABASE_NAME
from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, notifier, write_config
from tests.smtp_server import SmtpServerFactory, SmtpTestServer


def delivered(tmp_path: Path, server: SmtpTestServer, state: str = "") -> Path:
    """Three tickets delivered by `notifier once`; returns the config. ``state``: more
    ``[state]`` lines (the ``state_lines`` fixture: each backend in turn)."""
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "monday.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", name="Ann", summary="Printer jams", group="network")
        + csv_row("HD-2", "bob@example.org", summary="New laptop")
        + csv_row("HD-3", "cat@example.org", summary="Password reset", group="accounts"),
        encoding="utf-8",
    )
    teams = '[teams.network]\nmatch = { team = ["network"] }\n'
    teams += '[teams.accounts]\nmatch = { team = ["accounts"] }\n'
    config = write_config(tmp_path, server, exports, extra=teams, state=state)
    result = notifier("once", "--config", str(config))
    assert result.returncode == 0, result.stderr + result.stdout
    assert len(server.messages) == 3
    return config


def audit(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return notifier("audit", "--config", str(config), *args)


def sqlite3_shell(database: Path, sql: str) -> subprocess.CompletedProcess[str]:
    """The sqlite3 command-line shell (Debian package sqlite3), as an operator would use it."""
    shell = shutil.which("sqlite3")
    assert shell, "the sqlite3 shell is not installed: scripts/test.sh installs it"
    return subprocess.run(
        [shell, str(database), sql], capture_output=True, text=True, timeout=30, check=False
    )


def row_id(config: Path, ticket: str, outcome: str) -> int:
    (record,) = json.loads(
        audit(config, "--ticket", ticket, "--status", outcome, "--format", "json").stdout
    )
    return int(record["id"])


def test_an_edit_in_the_sqlite3_shell_is_refused_and_a_forced_one_fails_verify_naming_the_row(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """UPDATE is refused; after DROP TRIGGER it goes through, and verify exits 1 naming the row."""
    config = delivered(tmp_path, smtp_server())
    database = tmp_path / "state" / DATABASE_NAME
    intact = audit(config, "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith("audit trail intact: 6 rows checked")

    target = row_id(config, "HD-2", "sent")
    refused = sqlite3_shell(database, f"UPDATE audit SET smtp_code = 550 WHERE id = {target};")  # noqa: S608
    assert refused.returncode != 0 and "append-only" in refused.stderr
    assert audit(config, "verify").returncode == 0

    forced = sqlite3_shell(
        database,
        "DROP TRIGGER audit_append_only_update; UPDATE audit SET smtp_code = 550, "  # noqa: S608
        f"smtp_reply = 'mailbox unknown' WHERE id = {target};",
    )
    assert forced.returncode == 0, forced.stderr
    broken = audit(config, "verify")
    assert broken.returncode == 1
    assert broken.stdout.startswith(
        f"audit trail BROKEN at row #{target}: row #{target}: its contents"
    )
    assert "audit_append_only_update was removed" in broken.stdout


def test_a_row_deleted_in_the_sqlite3_shell_fails_verify_naming_the_missing_row(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """DELETE is refused; forced after DROP TRIGGER, verify names the row that is gone."""
    config = delivered(tmp_path, smtp_server())
    database = tmp_path / "state" / DATABASE_NAME
    target = row_id(config, "HD-1", "sent")
    refused = sqlite3_shell(database, f"DELETE FROM audit WHERE id = {target};")  # noqa: S608
    assert refused.returncode != 0 and "append-only" in refused.stderr
    forced = sqlite3_shell(
        database,
        f"DROP TRIGGER audit_append_only_delete; DELETE FROM audit WHERE id = {target};",  # noqa: S608
    )
    assert forced.returncode == 0, forced.stderr
    broken = audit(config, "verify")
    assert broken.returncode == 1
    assert f"BROKEN at row #{target}: row #{target} is missing (deleted)" in broken.stdout


def test_show_prints_exactly_what_the_requester_received(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """The subject and text shown are the ones the SMTP server received; template and version too."""
    server = smtp_server()
    config = delivered(tmp_path, server, state_lines)
    (received,) = [m.message for m in server.messages if list(m.rcpt_tos) == ["ann@example.org"]]
    text_part = received.get_body(("plain",))
    assert text_part is not None
    sent_text = text_part.get_content().replace("\r\n", "\n")  # SMTP line ends

    shown = audit(config, "show", "HD-1")
    assert shown.returncode == 0, shown.stderr
    assert f"Subject: {received['Subject']}\n" in shown.stdout
    framed = "\n".join(f"| {line}" if line else "|" for line in sent_text.strip().split("\n"))
    assert framed in shown.stdout  # every line of the words after "| "
    assert "words      match the audit trail (sha256 " in shown.stdout
    assert "to         Ann <ann@example.org>" in shown.stdout

    (data,) = json.loads(audit(config, "show", "HD-1", "--format", "json").stdout)
    assert data["subject"] == received["Subject"]
    assert data["text"].strip() == sent_text.strip()
    assert data["template"] == "network/resolved" and data["template_version"]
    assert data["message_id"] == received["Message-ID"]
    assert [r["outcome"] for r in data["history"]] == ["queued", "sent"]

    by_key = audit(config, "show", data["resolution_key"], "--format", "json")
    assert json.loads(by_key.stdout)[0]["resolution_key"] == data["resolution_key"]
    missing = audit(config, "show", "HD-404")
    assert missing.returncode == 1 and "HD-404: no notice" in missing.stderr


def test_filters_and_formats_answer_the_auditors_questions(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """Requester, team, source, outcome and a time window combine; csv and table work too."""
    config = delivered(tmp_path, smtp_server(), state_lines)
    rows = json.loads(audit(config, "--requester", "ANN@example.org", "--format", "json").stdout)
    assert [(r["ticket_id"], r["outcome"]) for r in rows] == [("HD-1", "queued"), ("HD-1", "sent")]
    sent = json.loads(
        audit(config, "--team", "accounts", "--status", "sent", "--format", "json").stdout
    )
    assert [r["ticket_id"] for r in sent] == ["HD-3"]
    assert json.loads(audit(config, "--source", "elsewhere", "--format", "json").stdout) == []
    assert len(json.loads(audit(config, "--since", "1h", "--format", "json").stdout)) == 6
    assert json.loads(audit(config, "--until", "2000-01-01", "--format", "json").stdout) == []
    csv_lines = audit(config, "--ticket", "HD-2", "--format", "csv").stdout.splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("id,at,outcome,")
    table = audit(config, "--ticket", "HD-2").stdout.splitlines()
    assert table[0].startswith("time (UTC)") and "bob@example.org" in table[2]


def _has_state_open(pid: int) -> bool:
    """Whether process ``pid`` has its state open (Linux /proc): the SQLite file, or a socket
    (the connection to PostgreSQL: nothing else opens one before it)."""
    try:
        links = [entry.readlink() for entry in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(link.name == "notifier.sqlite3" or str(link).startswith("socket:") for link in links)


def test_follow_streams_new_records_until_ctrl_c(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """--follow prints what exists, then each new record within seconds; SIGINT ends it with 0."""
    config = delivered(tmp_path, smtp_server(), state_lines)
    # stderr to a file: a pipe no one reads could fill and block the follower.
    errors = (tmp_path / "follow.err").open("w", encoding="utf-8")
    follower = subprocess.Popen(
        [sys.executable, "-m", "notifier", "audit", "--config", str(config), "--follow",
         "--format", "json", "--source", "late"],
        stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        # Ready once it has the database open (it reads the history right after); on a loaded
        # machine the interpreter alone can take longer than a fixed sleep.
        opened = time.monotonic() + 30
        while not _has_state_open(follower.pid) and time.monotonic() < opened:
            time.sleep(0.1)
        time.sleep(0.5)  # the history query and the first poll
        outbox = bootstrap.open_outbox(load_settings(config))  # the state the config names
        try:
            outbox.reject(InputProblem("other", "x.csv:1", "filtered out"), datetime.now(UTC))
            outbox.reject(InputProblem("late", "late.csv:7", "no requester"), datetime.now(UTC))
        finally:
            outbox.close()
        deadline = time.monotonic() + 10
        while not lines and time.monotonic() < deadline:
            time.sleep(0.1)
        follower.send_signal(signal.SIGINT)
        try:
            code = follower.wait(timeout=30)
        except subprocess.TimeoutExpired:
            follower.send_signal(signal.SIGABRT)  # faulthandler writes where it hangs
            follower.wait(timeout=10)
            code = None
        where = (tmp_path / "follow.err").read_text(encoding="utf-8")
        assert code == 0, f"exit {code} after SIGINT; stderr:\n{where}"
    finally:
        if follower.poll() is None:
            follower.kill()
        reader.join(timeout=5)
        errors.close()
    records = [json.loads(line) for line in lines if line.strip()]
    assert [(r["source"], r["origin"], r["outcome"]) for r in records] == [
        ("late", "late.csv:7", "rejected")
    ]


def test_prune_drops_addresses_and_words_and_verify_still_passes(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """Retention keeps the chain verifiable; show then says the words were removed."""
    config = delivered(tmp_path, smtp_server(), state_lines)
    kept = audit(config, "prune", "--older-than", "90d")
    assert kept.returncode == 0 and "from 0 audit rows" in kept.stdout  # all recent: nothing
    # Age the trail by the clock: everything written so far is older than a 0s cutoff later on.
    time.sleep(0.05)
    pruned = audit(config, "prune", "--older-than", "0s")
    assert pruned.returncode == 0, pruned.stderr
    assert (
        "requester removed from 6 audit rows" in pruned.stdout and "from 3 notices" in pruned.stdout
    )
    assert "ann@example.org" not in audit(config, "--format", "csv").stdout
    verified = audit(config, "verify")
    assert verified.returncode == 0, verified.stdout
    assert "6 rows had their requester removed by retention" in verified.stdout
    shown = audit(config, "show", "HD-1")
    assert "words      removed by retention (sha256 " in shown.stdout
    assert "Subject:" not in shown.stdout
    bad = audit(config, "prune", "--older-than", "soon")
    assert bad.returncode == 1 and "--older-than" in bad.stderr


def test_the_time_window_of_prune_is_relative_to_now(tmp_path: Path) -> None:
    """Rows newer than the age keep their requester (a 90-day policy keeps last week's rows)."""
    outbox = Outbox.open(tmp_path / "state")
    try:
        outbox.reject(
            InputProblem("desk", "old.csv:1", "x"), datetime.now(UTC) - timedelta(days=91)
        )
    finally:
        outbox.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\ndirectory = "{tmp_path / "state"}"\n', encoding="utf-8")
    result = audit(config, "prune", "--older-than", "90d")
    assert "from 1 audit rows" in result.stdout
    rows = json.loads(audit(config, "--format", "json").stdout)
    assert [r["outcome"] for r in rows] == ["rejected", "pruned"]
    assert "through #1" in rows[1]["origin"]


def test_explain_takes_a_ticket_id_and_the_table_shows_keys(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """The audit table showed no resolution key, and explain wanted nothing else; now explain
    takes a ticket id, as `audit show` does, and the table has a key column to copy from."""
    config = delivered(tmp_path, smtp_server(), state_lines)
    table = audit(config, "--format", "table")
    assert table.returncode == 0, table.stderr
    key = next(
        r["resolution_key"]
        for r in json.loads(audit(config, "--format", "json").stdout)
        if r["ticket_id"] == "HD-2"
    )
    assert key in table.stdout
    by_ticket = notifier("explain", "--config", str(config), "HD-2")
    by_key = notifier("explain", "--config", str(config), key)
    assert by_ticket.returncode == 0, by_ticket.stderr
    assert by_ticket.stdout == by_key.stdout and "HD-2" in by_ticket.stdout
    unknown = notifier("explain", "--config", str(config), "HD-404")
    assert unknown.returncode == 1 and "HD-404" in unknown.stderr
    assert "Traceback" not in unknown.stderr
