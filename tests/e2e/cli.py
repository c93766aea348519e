"""Running ``notifier`` as a subprocess, the way the README and the systemd unit run it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from tests.smtp_server import SmtpTestServer

ROOT = Path(__file__).resolve().parents[2]

CSV_HEADER = "Key,Email,Name,Summary,Status,Resolved,Group,Note,Updated\r\n"


def csv_row(key: str, email: str, *, resolved: str = "2026-11-27T09:00:00Z", summary: str = "",
            name: str = "", status: str = "Resolved", group: str = "", note: str = "",
            updated: str = "") -> str:  # fmt: skip
    def quote(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    fields = [key, email, name, summary or "Please fix my printer", status, resolved, group, note,
              updated]  # fmt: skip
    return ",".join(quote(field) for field in fields) + "\r\n"


def write_config(
    tmp_path: Path,
    server: SmtpTestServer,
    exports: Path,
    *,
    extra: str = "",
    connections: int = 1,
    state: str = "",
) -> Path:
    """A config for one CSV export folder and the given test SMTP server; ``state``: more
    lines of ``[state]`` (a database's url, say)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{tmp_path / "state"}"
{state}

[smtp]
host = "{server.host}"
port = {server.port}
security = "plain"
from_address = "it-helpdesk@example.org"
timeout = 5

[delivery]
rate_limit_per_minute = 100000
retry_initial = "1s"
retry_max = "2s"
connections = {connections}

[run]
poll_interval = "1s"

[rules]
max_age = 0   # the sample rows carry fixed dates; the backfill guard has its own tests

[log]
format = "json"

[[exports]]
name = "desk"
path = "{exports}"
settle_seconds = 0
resolved_statuses = ["Resolved", "Closed"]
[exports.columns]
ticket_id = "Key"
requester_email = "Email"
requester_name = "Name"
title = "Summary"
status = "Status"
resolved_at = "Resolved"
team = "Group"
resolution_note = "Note"
updated_at = "Updated"
{extra}
""",
        encoding="utf-8",
    )
    return config


def notifier(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m notifier ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "notifier", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def start_notifier(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m notifier ARGS`` in the background, its output going to ``log``."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "notifier", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def secret_forms(password: str, *, user: str) -> list[bytes]:
    """Every way a password could leak: as text in any common encoding, inside the base64 of
    AUTH PLAIN or LOGIN, and each character that is in the password and nowhere else here."""
    plain = f"\0{user}\0{password}".encode()
    forms = [password.encode(), base64.b64encode(plain), base64.b64encode(password.encode())]
    forms += [password.encode(codec, "ignore") for codec in ("latin-1", "utf-16-le")]
    forms += [c.encode() for c in password if not c.isascii()]
    return [form for form in forms if form]
