"""notifier as an operator sets it up for a live helpdesk: one IMAP source, with the system's
preset or with match rules written from the docs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.dovecot import DovecotServer
from tests.e2e.cli import notifier
from tests.smtp_server import SmtpTestServer


def write_config(
    tmp_path: Path,
    dovecot: DovecotServer,
    sink: SmtpTestServer,
    *,
    preset: str = "",
    rules: str = "",
    never_notify: tuple[str, ...],
    original_folders: tuple[str, ...] = (),
    trusted_senders: tuple[str, ...] = (),
    extra: str = "",
) -> Path:
    """``preset``: that preset reads the mail; else ``rules`` (``[[imap.rules]]`` tables, TOML).
    ``extra``: more TOML after it (other sources, ``[webhooks]``)."""
    assert bool(preset) != bool(rules), "a preset or match rules"
    reading = f'mode = "preset"\npresets = ["{preset}"]' if preset else 'mode = "match"'
    (tmp_path / "imap-password").write_text(dovecot.password)
    config = tmp_path / "config.toml"
    config.write_text(
        _common(tmp_path, sink, never_notify)
        + f"""
[[imap]]
name = "helpdesk"
host = "{dovecot.host}"
port = {dovecot.port}
security = "plain"
username = "{dovecot.user}"
password_file = "imap-password"
timeout = "10s"
{reading}
original_folders = {json.dumps(list(original_folders))}
trusted_senders = {json.dumps(list(trusted_senders))}
idle = false
{rules}
{extra}""",
        encoding="utf-8",
    )
    return config


def once(config: Path) -> list[dict[str, object]]:
    """One `notifier once`; its log events."""
    result = notifier("once", "--config", str(config))
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return events


def write_api_config(
    tmp_path: Path, sink: SmtpTestServer, *, api: str, never_notify: tuple[str, ...]
) -> Path:
    """A config whose only source is ``api`` (an ``[[api]]`` table, TOML)."""
    config = tmp_path / "config.toml"
    config.write_text(_common(tmp_path, sink, never_notify) + api, encoding="utf-8")
    return config


def _common(tmp_path: Path, sink: SmtpTestServer, never_notify: tuple[str, ...]) -> str:
    """The state, SMTP, log, run and rules sections every live config shares."""
    return f"""
[state]
directory = "{tmp_path / "state"}"
[smtp]
host = "{sink.host}"
port = {sink.port}
security = "plain"
from_address = "it-notices@example.org"
[log]
format = "json"
[run]
poll_interval = "1s"
[rules]
never_notify = {json.dumps(list(never_notify))}
"""
