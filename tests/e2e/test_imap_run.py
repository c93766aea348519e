"""`notifier run` on an IMAP folder: IDLE brings new mail at once, a server restart loses nothing."""

from __future__ import annotations

import json
import os
import pwd
import signal
import time
from pathlib import Path

from tests.dovecot import DovecotFactory, DovecotServer
from tests.e2e.cli import notifier, secret_forms, start_notifier
from tests.mailfactory import reply
from tests.oauth2_server import IntrospectionServer
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

# Generous: the tight number is measured by bench/imap_latency.py, not asserted here.
IDLE_DELIVERY_BOUND = 15.0


def write_config(tmp_path: Path, dovecot: DovecotServer, sink: SmtpTestServer) -> Path:
    (tmp_path / "imap-password").write_text(dovecot.password)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{tmp_path / "state"}"
[smtp]
host = "{sink.host}"
port = {sink.port}
security = "plain"
from_address = "it-helpdesk@example.org"
[run]
poll_interval = "300s"   # only IDLE can make delivery fast in these tests
[log]
format = "json"
[rules]
max_age = 0
[[imap]]
name = "mail"
host = "{dovecot.host}"
port = {dovecot.port}
security = "plain"
username = "{dovecot.user}"
password_file = "imap-password"
timeout = "5s"
folder = "Resolved"
mode = "folder"
idle = true
reconnect_max = "2s"
""",
        encoding="utf-8",
    )
    return config


def drop_into_maildir(dovecot: DovecotServer, folder: str, raw: bytes) -> None:
    """Deliver a message the way a local MDA would, while the IMAP server is down."""
    path = dovecot.maildir_path(folder) / "new" / f"{int(time.time())}.M1P1.restart-test"
    path.write_bytes(raw.replace(b"\r\n", b"\n"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("dovecot")
        os.chown(path, owner.pw_uid, owner.pw_gid)


def events(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def wait_for(condition: object, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_idle_delivers_new_mail_and_survives_a_dovecot_restart(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """New mail is delivered through IDLE well before the 300 s poll; after Dovecot stops and
    starts again (mail written while it was down), the daemon reconnects and misses nothing."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    log = tmp_path / "run.log"
    process = start_notifier("run", "--config", str(write_config(tmp_path, dovecot, sink)), log=log)
    try:
        wait_for(lambda: any(e["event"] == "imap_idle_started" for e in events(log)), 30, "IDLE")
        dovecot.append("Resolved", reply(1))
        delay = wait_for(lambda: len(sink.messages) == 1, IDLE_DELIVERY_BOUND, "delivery via IDLE")
        assert delay < IDLE_DELIVERY_BOUND

        dovecot.stop()
        drop_into_maildir(dovecot, "Resolved", reply(2, requester="bob@example.org"))
        dovecot.start()
        wait_for(lambda: len(sink.messages) == 2, 30, "delivery after the restart")
        dovecot.append("Resolved", reply(3, requester="cat@example.org"))
        wait_for(lambda: len(sink.messages) == 3, IDLE_DELIVERY_BOUND, "delivery via new IDLE")

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- notifier log ---\n{log.read_text()[-4000:]}") from None
    finally:
        if process.poll() is None:
            process.kill()
    # The IMAP password appears in no log line and no stored row.
    assert dovecot.password not in log.read_text()
    state = tmp_path / "state"
    for stored in state.glob("notifier.sqlite3*"):
        assert dovecot.password.encode() not in stored.read_bytes()
    recipients = [m.rcpt_tos[0] for m in sink.messages]
    assert recipients == ["ann@example.org", "bob@example.org", "cat@example.org"]
    names = [e["event"] for e in events(log)]
    assert names.count("imap_idle_started") >= 2 and "imap_idle_error" in names


def test_an_oauth2_token_never_reaches_the_log_or_the_state(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """XOAUTH2 with a token file against a server that refuses it: the failure is logged
    clearly, and the token appears in no log line and no state file."""
    sink = smtp_server()
    token = "ya29.a0AfH6SMBx-secret-token-value-7f3c"
    (tmp_path / "token").write_text(token + "\n")
    config = write_config(tmp_path, dovecot, sink)
    text = config.read_text().replace(
        'password_file = "imap-password"', 'oauth2_token_file = "token"'
    )
    config.write_text(text.replace("idle = true", "idle = false"))
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1  # the source could not be read: needs attention
    assert "login failed" in result.stdout
    assert token not in result.stdout + result.stderr
    for stored in (tmp_path / "state").glob("notifier.sqlite3*"):
        assert token.encode() not in stored.read_bytes()


def test_xoauth2_login_against_dovecot_checking_tokens_with_an_oauth2_server(
    tmp_path: Path, dovecot_factory: DovecotFactory, smtp_server: SmtpServerFactory
) -> None:
    """XOAUTH2 for real: Dovecot asks a token introspection endpoint (RFC 7662) about the
    bearer token notifier presents. The right token reads the folder and the notice goes out;
    a revoked one is refused with a clear error; no token reaches a log line or the state."""
    token = "ya29.a0AfH6SMBx-good-token-4d1e"
    with IntrospectionServer({token: "robot"}) as tokens:
        dovecot = dovecot_factory(
            users={"robot": "unused-password"}, oauth2_introspection_url=tokens.url
        )
        dovecot.append("Resolved", reply(50, requester="old@example.org"))
        sink = smtp_server()
        (tmp_path / "token").write_text(token + "\n")
        config = write_config(tmp_path, dovecot, sink)
        text = config.read_text().replace(
            'password_file = "imap-password"', 'oauth2_token_file = "token"'
        )
        config.write_text(text.replace("idle = true", "idle = false"))
        start = notifier("once", "--config", str(config))  # first start: marks what is there
        dovecot.append("Resolved", reply(51))
        first = notifier("once", "--config", str(config))
        assert start.returncode == first.returncode == 0, first.stdout + first.stderr
        assert [m.rcpt_tos[0] for m in sink.messages] == ["ann@example.org"]
        assert tokens.asked == [token, token]  # Dovecot checked it with the OAuth server

        tokens.tokens.clear()  # the token is revoked
        dovecot.append("Resolved", reply(52, requester="bob@example.org"))
        second = notifier("once", "--config", str(config))
    assert second.returncode == 1  # the source could not be read: needs attention
    assert "login failed" in second.stdout
    assert len(sink.messages) == 1
    for output in (start, first, second):
        assert token not in output.stdout + output.stderr
    for stored in (tmp_path / "state").glob("notifier.sqlite3*"):
        assert token.encode() not in stored.read_bytes()


def test_a_refused_non_ascii_password_is_reported_and_never_echoed(
    tmp_path: Path, dovecot_factory: DovecotFactory, smtp_server: SmtpServerFactory
) -> None:
    """Dovecot refuses a wrong UTF-8 password (NO to AUTHENTICATE PLAIN): `once` reports the
    source as failing (exit 1, "login failed"), with no traceback; no form of the password is
    in the output or any state file. The right one then reads the folder."""
    right, wrong = "pässwörd-€-9c2e", "wröng-pässwörd-€-9c2e"
    dovecot = dovecot_factory(users={"notifier": right})
    dovecot.create_folder("Resolved")
    sink = smtp_server()
    config = write_config(tmp_path, dovecot, sink)
    (tmp_path / "imap-password").write_text(wrong + "\n", encoding="utf-8")
    config.write_text(config.read_text().replace("idle = true", "idle = false"))
    result = notifier("once", "--config", str(config))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "login failed" in result.stdout and "Traceback" not in output, output
    haystacks = [output.encode()]
    haystacks += [p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file()]
    for form in secret_forms(wrong, user="notifier") + secret_forms(right, user="notifier"):
        assert not any(form in haystack for haystack in haystacks), form

    (tmp_path / "imap-password").write_text(right + "\n", encoding="utf-8")
    first = notifier("once", "--config", str(config))  # remembers where the folder ends
    assert first.returncode == 0, first.stdout + first.stderr
    dovecot.append("Resolved", reply(1))
    result = notifier("once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [m.rcpt_tos[0] for m in sink.messages] == ["ann@example.org"]
