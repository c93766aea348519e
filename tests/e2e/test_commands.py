"""The other commands as a user runs them: demo, preview, check-config, --help, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.cli import ROOT, notifier


def test_demo_delivers_at_least_three_notices_and_prints_the_audit_trail() -> None:
    """`notifier demo` needs no configuration and shows delivered messages and audit rows."""
    result = notifier("demo")
    assert result.returncode == 0, result.stderr
    delivered = re.findall(r"^=== delivered message \d+", result.stdout, flags=re.MULTILINE)
    assert len(delivered) >= 3
    assert "=== audit trail" in result.stdout
    audit_part = result.stdout.split("=== audit trail", 1)[1]
    assert len(re.findall(r"^\S+ \S+\s+sent\s", audit_part, flags=re.MULTILINE)) == len(delivered)
    assert "Auto-Submitted: auto-generated" in result.stdout


def test_preview_renders_without_sending(tmp_path: Path) -> None:
    """`notifier preview TICKET.json` prints the complete message, sends nothing."""
    ticket = tmp_path / "ticket.json"
    ticket.write_text(
        json.dumps(
            {
                "ticket_id": "HD-7",
                "requester_email": "jane@example.org",
                "requester_name": "Jane Doe",
                "title": "Cannot print",
                "resolution_note": "We put paper in the printer.",
                "resolved_at": "2026-11-27T10:00:00+01:00",
            }
        )
    )
    result = notifier("preview", str(ticket))
    assert result.returncode == 0, result.stderr
    assert "Subject: Done: Cannot print" in result.stdout
    assert "Hello Jane," in result.stdout and "We put paper in the printer." in result.stdout


def test_preview_of_a_bad_ticket_file_is_one_clear_line(tmp_path: Path) -> None:
    """A broken ticket file is named with its line; no traceback."""
    ticket = tmp_path / "ticket.json"
    ticket.write_text('{"ticket_id": "HD-7",\n "requester_email": }')
    result = notifier("preview", str(ticket))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"notifier: error: {ticket}:2: not valid JSON")
    assert "Traceback" not in result.stderr


def test_check_config_accepts_the_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped example passes check-config once its credential and export folder exist
    (here under tmp_path: the example's own folder is /var/spool/notifier/jira)."""
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "smtp-password").write_text("x")
    (credentials / "imap-password").write_text("y")
    spool = tmp_path / "spool"
    (spool / "jira").mkdir(parents=True)
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert '"/var/spool/notifier/jira"' in example
    config = tmp_path / "config.toml"
    config.write_text(example.replace("/var/spool/notifier", str(spool)), encoding="utf-8")
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "notifier", "check-config", "--config", str(config)],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration OK")


@pytest.mark.parametrize("command", ["run", "once", "demo", "preview", "audit", "check-config"])
def test_every_command_has_help(command: str) -> None:
    """Every command answers --help."""
    result = notifier(command, "--help")
    assert result.returncode == 0 and "usage: notifier" in result.stdout


def test_output_piped_to_head_ends_quietly(tmp_path: Path) -> None:
    """`notifier demo | head -3`: the reader goes away; no BrokenPipeError traceback, no
    'Exception ignored' noise at exit."""
    import os
    import subprocess
    import sys

    command = f"{sys.executable} -m notifier demo | head -3"
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=120,
    )  # fmt: skip
    assert len(result.stdout.splitlines()) == 3
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr


def test_preview_shows_the_words_not_their_transfer_encoding(tmp_path: Path) -> None:
    """Non-ASCII words went out quoted-printable ("J=C3=BCrgen") and preview printed them so;
    it shows the headers decoded and each text part as the requester will read it."""
    ticket = tmp_path / "ticket.json"
    ticket.write_text(
        json.dumps(
            {
                "ticket_id": "HD-8",
                "requester_email": "juergen@example.org",
                "requester_name": "Jürgen Weiß",
                "title": "Drucker läuft nicht",
                "resolution_note": "Wir haben den Drucker repariert – alles läuft wieder.",
                "resolved_at": "2026-11-27T10:00:00+01:00",
            }
        )
    )
    result = notifier("preview", str(ticket))
    assert result.returncode == 0, result.stderr
    assert "Hello Jürgen," in result.stdout
    assert "Wir haben den Drucker repariert – alles läuft wieder." in result.stdout
    assert "Subject: Done: Drucker läuft nicht" in result.stdout
    assert "=C3=" not in result.stdout and "=?utf-8?" not in result.stdout
