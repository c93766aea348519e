"""TLS verification on: a certificate for another host, or an expired one, is refused with a
clear error naming the server, for SMTP (STARTTLS and implicit TLS) and IMAP."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller

from notifier.core.errors import SourceError
from notifier.core.model import DeliveryOutcome, Notice
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.sources.mail.connection import ImapOptions, connect
from tests.smtp_server import free_port

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def leaf(ca: trustme.CA, case: str) -> trustme.LeafCert:
    if case == "wrong host":
        return ca.issue_cert("mail.other.example")
    return ca.issue_cert(
        "127.0.0.1", "localhost",
        not_before=datetime.now(UTC) - timedelta(days=30),
        not_after=datetime.now(UTC) - timedelta(days=1),
    )  # fmt: skip


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


@pytest.fixture
def ca_file(trustme_ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme_ca.cert_pem.write_to_path(str(path))
    return path


@contextlib.contextmanager
def smtp_server(ca: trustme.CA, case: str) -> Iterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf(ca, case).configure_cert(context)
    port = free_port()
    controller = Controller(
        _Sink(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


NOTICE = Notice(
    resolution_key="k", ticket_id="T", source="s", team="default", to_email="a@example.org",
    to_name="", subject="Done", text="Done.\n", html=None, message_id="<k@example.org>",
    in_reply_to="", references=(), reply_to="", template="default/resolved@x",
)  # fmt: skip


@pytest.mark.parametrize("case", ["wrong host", "expired"])
def test_smtp_refuses_a_bad_certificate_naming_the_server(
    trustme_ca: trustme.CA, ca_file: Path, case: str
) -> None:
    """STARTTLS to a server whose certificate is for another host, or expired: nothing is sent,
    the notice is deferred with a reason that names the server and the certificate problem."""
    with smtp_server(trustme_ca, case) as port:
        options = SmtpOptions(
            host="127.0.0.1", port=port, security="starttls", timeout=5, ca_file=ca_file,
            from_address="it@example.org",
        )  # fmt: skip
        with SmtpSender(options, lambda: NOW).session() as session:
            result = session.send(NOTICE)
        assert result.outcome is DeliveryOutcome.TRANSIENT
        assert f"127.0.0.1:{port}" in result.detail
        expected = "expired" if case == "expired" else "match"
        assert "certificate verify failed" in result.detail and expected in result.detail


@contextlib.contextmanager
def imap_tls_server(ca: trustme.CA, case: str) -> Iterator[int]:
    """A minimal implicit-TLS listener that greets like IMAP: enough to test verification."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf(ca, case).configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.sendall(b"* OK ready\r\n")
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: that is the point

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()


@pytest.mark.parametrize("case", ["wrong host", "expired"])
def test_imap_refuses_a_bad_certificate_naming_the_server(
    trustme_ca: trustme.CA, ca_file: Path, case: str
) -> None:
    """Implicit TLS to a server with a wrong-host or expired certificate fails at connect with
    a SourceError naming the server and the verification failure."""
    with imap_tls_server(trustme_ca, case) as port:
        options = ImapOptions(
            host="127.0.0.1", port=port, security="tls", username="u", password="p",
            ca_file=ca_file, timeout=5,
        )  # fmt: skip
        with pytest.raises(SourceError) as caught:
            connect(options)
        message = str(caught.value)
        assert f"127.0.0.1:{port}" in message and "certificate verify failed" in message
