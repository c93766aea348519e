"""A reviewer corrects a held notice's words before it goes out (issue 16 item 5).

`held` shows the words with what holds them marked; `edit KEY` takes new words from $EDITOR or
`--file`, the plain-language gate checks them (still blocked: refused unless --force), the audit
trail records the edit and who made it, and `audit show` prints the words that were sent.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, write_config
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

JARGON = "Flushed the DNS cache and re-provisioned your VPN profile, see KB0012345."
PLAIN = "We fixed the settings on your laptop, and it connects to the office network again."


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notifier", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )  # fmt: skip


def held_setup(
    tmp_path: Path, server: SmtpTestServer, state: str = ""
) -> tuple[Path, dict[str, str]]:
    """Two notices held by the gate (policy hold); returns the config and ticket -> key.
    ``state``: more ``[state]`` lines (the ``state_lines`` fixture: each backend in turn)."""
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", name="Ann Lee", note=JARGON)
        + csv_row("HD-2", "bob@example.org", name="Bob Ray", note=JARGON),
        encoding="utf-8",
    )
    config = write_config(
        tmp_path, server, exports, extra='\n[plain]\npolicy = "hold"\n', state=state
    )
    assert run("once", "--config", str(config)).returncode == 1  # held: needs attention
    assert server.messages == []
    held = json.loads(
        run("audit", "--config", str(config), "--status", "held", "--format", "json").stdout
    )
    return config, {str(r["ticket_id"]): str(r["resolution_key"]) for r in held}


def audit_rows(config: Path, ticket: str) -> list[dict[str, object]]:
    result = run("audit", "--config", str(config), "--ticket", ticket, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def editor(tmp_path: Path, old: str, new: str) -> Path:
    """An $EDITOR that replaces ``old`` with ``new`` in the file it is given."""
    script = tmp_path / "fix-words"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        "path = pathlib.Path(sys.argv[-1])\n"
        f"path.write_text(path.read_text(encoding='utf-8').replace({old!r}, {new!r}), "
        "encoding='utf-8')\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_held_shows_the_words_with_the_blocking_findings_marked(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    config, keys = held_setup(tmp_path, smtp_server(), state_lines)
    listing = run("held", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert "Good news: your request is done." in out  # the words, not only the subject
    (held,) = [r for r in audit_rows(config, "HD-1") if r["outcome"] == "held"]
    blocking = [
        f
        for f in json.loads(str(held["findings"]))
        if f["severity"] == "block" and f["part"] == "text" and f["start"] >= 0
    ]
    assert blocking
    for finding in blocking:
        assert f"»{finding['text']}«" in out, (finding, out)
    assert f"notifier edit {keys['HD-1']}" in out


def test_edit_checks_the_new_words_records_who_and_the_corrected_words_are_sent(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    server = smtp_server()
    config, keys = held_setup(tmp_path, server, state_lines)
    key = keys["HD-1"]

    # Words that are still blocked are refused, naming what blocks them; nothing changes.
    still = tmp_path / "still.txt"
    still.write_text("Subject: Your request is done\n\nWe flushed the DNS cache.\n", "utf-8")
    refused = run("edit", "--config", str(config), key, "--file", str(still))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "DNS" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert [r["outcome"] for r in audit_rows(config, "HD-1")] == ["held"]

    # Through $EDITOR: the reviewer's words replace the jargon; who edited is recorded.
    fixed = run(
        "edit", "--config", str(config), key,
        EDITOR=str(editor(tmp_path, JARGON, PLAIN)), SUDO_USER="jo.reviewer",
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    rows = audit_rows(config, "HD-1")
    assert [r["outcome"] for r in rows] == ["held", "edited"]
    assert "jo.reviewer" in str(rows[1]["reason"])
    assert rows[1]["words_hash"]

    assert run("release", "--config", str(config), key).returncode == 0
    sent = run("once", "--config", str(config))
    assert [m.rcpt_tos[0] for m in server.messages] == ["ann@example.org"], sent.stderr
    body = server.messages[0].message.get_body(("plain",)).get_content()
    assert PLAIN in body and "DNS" not in body
    shown = run("audit", "--config", str(config), "show", key)
    assert shown.returncode == 0, shown.stderr
    assert PLAIN in shown.stdout and "DNS" not in shown.stdout.split("--- audit trail")[0]
    assert "match the audit trail" in shown.stdout
    assert [r["outcome"] for r in audit_rows(config, "HD-1")] == [
        "held", "edited", "released", "sent",
    ]  # fmt: skip


def test_edit_force_sends_blocked_words_and_says_so(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    server = smtp_server()
    config, keys = held_setup(tmp_path, server, state_lines)
    words = tmp_path / "words.txt"
    words.write_text("Subject: Done\n\nWe flushed the DNS cache.\n", "utf-8")
    forced = run(
        "edit", "--config", str(config), keys["HD-2"], "--file", str(words), "--force",
        "--note", "the user asked for the details", USER="sam", LOGNAME="sam", SUDO_USER="",
    )  # fmt: skip
    assert forced.returncode == 0, forced.stdout + forced.stderr
    edited = audit_rows(config, "HD-2")[-1]
    assert edited["outcome"] == "edited"
    assert "sam" in str(edited["reason"]) and "--force" in str(edited["reason"])
    assert "the user asked for the details" in str(edited["reason"])
    assert run("release", "--config", str(config), keys["HD-2"]).returncode == 0
    assert run("once", "--config", str(config)).returncode == 0  # HD-1 stays held, as before
    (message,) = server.messages
    assert message.message["Subject"] == "Done"
    assert "We flushed the DNS cache." in message.message.get_content()
