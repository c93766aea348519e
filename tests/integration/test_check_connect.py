"""`notifier check-config --connect` against a real Dovecot and a real aiosmtpd: each step is
reported, a wrong password and an untrusted certificate are named, and nothing is ever sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.cli.main import main
from tests.dovecot import DovecotFactory, DovecotServer
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

SMTP_AUTH = ("robot", "smtp-s3cret")


def write_config(
    tmp_path: Path,
    imap: DovecotServer,
    smtp: SmtpTestServer,
    *,
    imap_password: str | None = None,
    smtp_password: str | None = None,
    trust: bool = True,
) -> Path:
    (tmp_path / "imap-password").write_text(imap_password or imap.password)
    (tmp_path / "smtp-password").write_text(smtp_password or SMTP_AUTH[1])
    imap_ca = f'ca_file = "{imap.ca_file}"' if trust else ""
    smtp_ca = f'ca_file = "{smtp.ca_file}"' if trust else ""
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{tmp_path / "state"}"
[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
username = "{SMTP_AUTH[0]}"
password_file = "smtp-password"
timeout = "5s"
from_address = "it-helpdesk@example.org"
{smtp_ca}
[[imap]]
name = "helpdesk"
host = "{imap.host}"
port = {imap.port}
security = "starttls"
username = "{imap.user}"
password_file = "imap-password"
timeout = "5s"
folder = "INBOX"
{imap_ca}
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def servers(
    dovecot_factory: DovecotFactory, smtp_server: SmtpServerFactory
) -> tuple[DovecotServer, SmtpTestServer]:
    return dovecot_factory(security="starttls"), smtp_server(security="starttls", auth=SMTP_AUTH)


def run_check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", "--config", str(config), "--connect"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_every_step_is_reported_and_nothing_is_sent(
    tmp_path: Path,
    servers: tuple[DovecotServer, SmtpTestServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With good settings: IMAP STARTTLS, login and folder, then SMTP connect, EHLO, STARTTLS,
    AUTH and QUIT, each on its own line; exit 0; the SMTP server saw no MAIL at all."""
    imap, smtp = servers
    imap.append("INBOX", b"Subject: hi\r\n\r\nbody\r\n")
    code, out = run_check(write_config(tmp_path, imap, smtp), capsys)
    assert code == 0, out
    assert "imap helpdesk" in out and "connect, STARTTLS and login as notifier ok" in out
    assert "folder 'INBOX' ok: 1 message(s)" in out
    for step in ("connect ok", "ehlo ok", "starttls ok", "auth ok", "quit ok"):
        assert f": {step}" in out, (step, out)
    assert "certificate verified" in out
    assert smtp.data_attempts == 0 and smtp.messages == []
    assert imap.status("INBOX")["UNSEEN"] == 1  # only looked at, read-only


def test_wrong_passwords_are_named_per_server(
    tmp_path: Path,
    servers: tuple[DovecotServer, SmtpTestServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong IMAP and a wrong SMTP password: each server's refusal is reported, exit 1."""
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp, imap_password="nope", smtp_password="nope")
    code, out = run_check(config, capsys)
    assert code == 1, out
    imap_line = next(line for line in out.splitlines() if line.startswith("imap helpdesk"))
    assert "FAILED" in imap_line and "login failed" in imap_line
    assert "auth FAILED" in out and "authentication failed: 535" in out
    assert "nothing was sent" in out and smtp.data_attempts == 0


def test_untrusted_certificates_are_refused_and_said_so(
    tmp_path: Path,
    servers: tuple[DovecotServer, SmtpTestServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the test CA, both STARTTLS handshakes fail certificate verification; no password
    is sent to a server that could not prove who it is."""
    imap, smtp = servers
    code, out = run_check(write_config(tmp_path, imap, smtp, trust=False), capsys)
    assert code == 1, out
    imap_line = next(line for line in out.splitlines() if line.startswith("imap helpdesk"))
    assert "STARTTLS failed" in imap_line and "CERTIFICATE_VERIFY_FAILED" in imap_line
    assert "starttls FAILED" in out and "certificate verify failed" in out
    assert "auth ok" not in out and "auth FAILED" not in out


def test_without_connect_no_server_is_contacted(
    tmp_path: Path,
    servers: tuple[DovecotServer, SmtpTestServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Plain `check-config` stays offline: the SMTP server sees no connection."""
    imap, smtp = servers
    code = main(["check-config", "--config", str(write_config(tmp_path, imap, smtp))])
    assert code == 0, capsys.readouterr()
    assert smtp.connections == 0


NON_ASCII_SECRET = "pässwörd€"


@pytest.mark.parametrize("right", [True, False], ids=["right", "wrong"])
def test_a_non_ascii_password_is_checked_without_traceback_or_echo(
    right: bool,
    tmp_path: Path,
    dovecot_factory: DovecotFactory,
    smtp_server: SmtpServerFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A UTF-8 password logs in to both servers (AUTH PLAIN, AUTHENTICATE PLAIN); a wrong
    non-ASCII one is a named refusal. Neither case prints a traceback or any character that
    only the secrets hold (check-config used to die in `UnicodeEncodeError`)."""
    imap = dovecot_factory(security="starttls", users={"notifier": NON_ASCII_SECRET})
    smtp = smtp_server(security="starttls", auth=(SMTP_AUTH[0], NON_ASCII_SECRET))
    given = NON_ASCII_SECRET if right else "wröng€ß"
    config = write_config(tmp_path, imap, smtp, imap_password=given, smtp_password=given)
    code, out = run_check(config, capsys)
    assert "Traceback" not in out and "Error:" not in out.split("FAILED")[0], out
    assert not any(c in out for c in "äöß€"), out
    if right:
        assert code == 0, out
        assert "login as notifier ok" in out and ": auth ok" in out
    else:
        assert code == 1, out
        imap_line = next(line for line in out.splitlines() if line.startswith("imap helpdesk"))
        assert "login failed" in imap_line
        assert "auth FAILED" in out and "535" in out
    assert smtp.data_attempts == 0


def test_without_smtp_auth_it_does_not_claim_a_login(
    tmp_path: Path,
    dovecot_factory: DovecotFactory,
    smtp_server: SmtpServerFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A relay without AUTH: the auth step is 'skipped', and the verdict must not say the
    login was accepted (it said "every server answered and accepted the login")."""
    imap = dovecot_factory(security="starttls")
    smtp = smtp_server(security="starttls")
    config = write_config(tmp_path, imap, smtp)
    text = config.read_text(encoding="utf-8")
    text = text.replace(f'username = "{SMTP_AUTH[0]}"\npassword_file = "smtp-password"\n', "")
    config.write_text(text, encoding="utf-8")
    code, out = run_check(config, capsys)
    assert code == 0, out
    assert ": auth ok: skipped" in out
    verdict = next(line for line in out.splitlines() if line.startswith("connection check:"))
    assert "accepted the login" not in verdict and "nothing was sent" in verdict
    assert "SMTP without AUTH" in verdict
