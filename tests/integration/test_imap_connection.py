"""IMAP connections: verified TLS both ways, clear errors naming the server, backfill on first start."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme

from notifier.core.errors import SourceError
from notifier.sources.mail.connection import ImapOptions, connect
from tests.dovecot import DovecotFactory, DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.mailfactory import reply
from tests.smtp_server import SmtpServerFactory


def options(server: DovecotServer, **changes: object) -> ImapOptions:
    values: dict[str, object] = {
        "host": server.host, "port": server.port, "security": server.security,
        "username": server.user, "password": server.password, "ca_file": server.ca_file,
        "timeout": 5.0,
    }  # fmt: skip
    values.update(changes)
    return ImapOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_verified_tls_logs_in(dovecot_factory: DovecotFactory, security: str) -> None:
    """Implicit TLS and STARTTLS both log in when the server's certificate is trusted."""
    server = dovecot_factory(security=security)
    client = connect(options(server))
    try:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        client.logout()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_untrusted_certificate_is_refused_naming_the_server(
    dovecot_factory: DovecotFactory, tmp_path: Path, security: str
) -> None:
    """A certificate from a CA we do not trust fails the connection with a clear message."""
    server = dovecot_factory(security=security)
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    with pytest.raises(
        SourceError, match=rf"{server.host}:{server.port}.*certificate verify failed"
    ):
        connect(options(server, ca_file=stranger))


def test_wrong_password_names_the_login_step(dovecot: DovecotServer) -> None:
    """A refused login says so, with the server; it is a source error, not a crash."""
    with pytest.raises(SourceError, match=rf"{dovecot.port}: login failed"):
        connect(options(dovecot, password="wrong", ca_file=None))


def test_backfill_since_processes_older_mail_on_first_start(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """With backfill_since, mail already in the folder (received since that date) is used."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    dovecot.append("Resolved", reply(1))
    dovecot.append("Resolved", reply(2, requester="bob@example.org"))
    harness = Harness(imap_settings(tmp_path, dovecot, sink, backfill_since=date(2000, 1, 1)))
    try:
        assert harness.service.run_pass().sent == 2
        assert harness.service.run_pass().sent == 0
    finally:
        harness.close()


def nested_multipart(levels: int) -> bytes:
    """A message whose body is ``levels`` multiparts deep."""
    lines = [
        "From: Tom Tech <tom.tech@example.org>", "To: Ann <ann@example.org>",
        "Subject: Re: nested", "Message-ID: <nested@example.org>", "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b0"', "",
    ]  # fmt: skip
    for level in range(1, levels):
        lines += [f"--b{level - 1}", f'Content-Type: multipart/mixed; boundary="b{level}"', ""]
    lines += [f"--b{levels - 1}", "Content-Type: text/plain", "", "deep text"]
    for level in reversed(range(levels)):
        lines.append(f"--b{level}--")
    return "\r\n".join(lines).encode() + b"\r\n"


def huge_attachment(megabytes: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Tom Tech <tom.tech@example.org>"
    message["To"] = "Ann <ann@example.org>"
    message["Subject"] = "Re: logs"
    message["Message-ID"] = "<huge@example.org>"
    message.set_content("See the attached log.")
    message.add_attachment(b"\0" * (megabytes * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="dump.bin")  # fmt: skip
    return message.as_bytes()


def test_deep_nesting_and_a_huge_attachment_do_not_stop_the_next_message(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """A 50-level multipart is handled within limits; a 30 MB mail is refused unread; the
    good message after them is delivered."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(imap_settings(tmp_path, dovecot, sink))
    try:
        harness.service.run_pass()
        dovecot.append("Resolved", nested_multipart(50))
        dovecot.append("Resolved", huge_attachment(30))
        dovecot.append("Resolved", reply(3, requester="good@example.org"))
        report = harness.service.run_pass()
        assert report.source_errors == []
        assert "good@example.org" in [m.rcpt_tos[0] for m in sink.messages]
        assert harness.source.bodies_fetched == 2  # the 30 MB message was never downloaded
        from notifier.core.audit import AuditQuery

        reasons = [r.reason for r in harness.outbox.audit_records(AuditQuery(outcome="rejected"))]
        assert any("over the 25.0 MB limit" in reason for reason in reasons), reasons
    finally:
        harness.close()
