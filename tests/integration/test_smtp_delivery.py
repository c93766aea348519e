"""SMTP delivery against real aiosmtpd servers on 127.0.0.1: what the server received, and how
every kind of failure is classified. Nothing here mocks smtplib."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from notifier.core.model import DeliveryOutcome
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from tests.notices import BASE_HEADERS, make_notice
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, SmtpTestServer, free_port

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
TIMEOUT = 3.0


def clock() -> datetime:
    return NOW


def options_for(server: SmtpTestServer, **changes: Any) -> SmtpOptions:
    """Client options matching ``server`` (trusting its CA when it has TLS), then ``changes``."""
    settings: dict[str, Any] = {
        **server.client_settings(),
        "timeout": TIMEOUT,
        "local_hostname": "notifier.test",
        "from_address": "it@example.org",
        "from_name": "IT Service Desk",
    }
    settings.update(changes)
    return SmtpOptions(**settings)


def sender_for(server: SmtpTestServer, **changes: Any) -> SmtpSender:
    return SmtpSender(options_for(server, **changes), clock)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word (no SMTP greeting)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


# -- successful delivery -----------------------------------------------------------------------


def test_plain_delivery_reaches_the_server_with_envelope_and_headers(
    smtp_server: SmtpServerFactory,
) -> None:
    """Over plain SMTP the server receives one message: envelope from the configured sender to
    the requester, the notice's Message-ID, and the server's reply in the result."""
    server = smtp_server()
    with sender_for(server).session() as session:
        result = session.send(make_notice())

    assert result.outcome is DeliveryOutcome.SENT
    assert result.code == 250
    assert result.reply == "2.0.0 OK queued"
    [received] = server.messages
    assert received.mail_from == "it@example.org"
    assert received.rcpt_tos == ("ann@example.org",)
    assert received.header_names == BASE_HEADERS
    msg = received.message
    assert msg["Message-ID"] == "<0123456789abcdef@notifier.example.org>"
    assert msg["To"] == "Ann Example <ann@example.org>"
    assert msg["From"] == "IT Service Desk <it@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"


def test_starttls_with_the_trusted_ca_delivers(smtp_server: SmtpServerFactory) -> None:
    """STARTTLS with certificate verification against the configured CA file works (the
    server refuses mail before STARTTLS, so a delivered message proves TLS was used)."""
    server = smtp_server(security="starttls")
    with sender_for(server, security="starttls", ca_file=server.ca_file).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.SENT
    assert len(server.messages) == 1


def test_implicit_tls_with_the_trusted_ca_delivers(smtp_server: SmtpServerFactory) -> None:
    """Implicit TLS (SMTPS, port 465 style) delivers when the CA is trusted."""
    server = smtp_server(security="tls")
    with sender_for(server, security="tls", ca_file=server.ca_file).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.SENT
    assert len(server.messages) == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_untrusted_certificate_is_refused_and_the_batch_fails_fast(
    smtp_server: SmtpServerFactory, security: Any
) -> None:
    """Without the CA the certificate is not trusted: the result is TRANSIENT with a detail
    naming the server and the verification error, nothing is sent, and the rest of the batch
    fails at once without connecting again."""
    server = smtp_server(security=security)
    with sender_for(server, security=security, ca_file=None).session() as session:
        first = session.send(make_notice())
        second = session.send(make_notice(resolution_key="jira:IT-43:x", ticket_id="IT-43"))

    assert first.outcome is DeliveryOutcome.TRANSIENT
    assert first.detail.startswith(f"127.0.0.1:{server.port}: certificate verify failed: ")
    assert second == first
    assert server.connections == 1
    assert server.messages == []


def test_starttls_required_but_not_offered_is_refused(smtp_server: SmtpServerFactory) -> None:
    """security="starttls" never falls back to plain text when the server lacks STARTTLS."""
    server = smtp_server(security="plain")
    with sender_for(server, security="starttls").session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert result.detail == f"127.0.0.1:{server.port}: server does not offer STARTTLS"
    assert server.messages == []


def test_auth_with_the_right_password_delivers(smtp_server: SmtpServerFactory) -> None:
    """AUTH after STARTTLS with correct credentials lets the message through."""
    server = smtp_server(security="starttls", auth=("robot", "s3cret"))
    with sender_for(server).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.SENT
    assert len(server.messages) == 1


def test_auth_with_a_wrong_password_is_transient_with_the_servers_words(
    smtp_server: SmtpServerFactory,
) -> None:
    """A refused login is reported (code 535 and text) as TRANSIENT so the notice waits for
    the operator to fix the credentials; nothing is sent."""
    server = smtp_server(security="starttls", auth=("robot", "s3cret"))
    with sender_for(server, password="wrong").session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert result.code == 535
    assert "authentication failed: 535" in result.detail
    assert result.detail.startswith(f"127.0.0.1:{server.port}: ")
    assert server.messages == []


def test_connection_refused_is_transient_and_names_the_server() -> None:
    """Nobody listening: TRANSIENT, and the detail says which host:port could not be reached."""
    port = free_port()
    options = SmtpOptions(
        host="127.0.0.1", port=port, security="plain", timeout=TIMEOUT, from_address="it@x.org"
    )
    with SmtpSender(options, clock).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert result.detail.startswith(f"127.0.0.1:{port}: connect failed: ")


def test_a_server_that_never_answers_times_out_as_transient(silent_port: int) -> None:
    """The configured timeout bounds a server that accepts TCP but never greets."""
    options = SmtpOptions(
        host="127.0.0.1", port=silent_port, security="plain", timeout=0.3, from_address="it@x.org"
    )
    with SmtpSender(options, clock).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert (
        result.detail == f"127.0.0.1:{silent_port}: no complete answer within 0.3 s during connect"
    )


# -- classification of refusals ----------------------------------------------------------------


def test_4xx_is_transient_and_the_next_attempt_succeeds_with_the_same_message_id(
    smtp_server: SmtpServerFactory,
) -> None:
    """A greylisting 451 is TRANSIENT with the server's code and text; the retry on the same
    connection (after RSET) is accepted and carries the same Message-ID."""
    server = smtp_server(behaviour=ServerBehaviour(defer_first=1))
    notice = make_notice()
    with sender_for(server).session() as session:
        first = session.send(notice)
        second = session.send(dataclasses.replace(notice, attempt=1))

    assert first.outcome is DeliveryOutcome.TRANSIENT
    assert (first.code, first.reply) == (451, "4.7.1 Greylisted, please try again later")
    assert second.outcome is DeliveryOutcome.SENT
    [received] = server.messages
    assert received.message["Message-ID"] == notice.message_id
    assert server.connections == 1


def test_5xx_is_permanent_with_the_servers_code_and_text(smtp_server: SmtpServerFactory) -> None:
    """A 550 at end of DATA dead-letters the notice and keeps the server's own words."""
    server = smtp_server(behaviour=ServerBehaviour(data_reply="550 5.7.1 Rejected as spam"))
    with sender_for(server).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert (result.code, result.reply) == (550, "5.7.1 Rejected as spam")
    assert "end of DATA refused: 550 5.7.1 Rejected as spam" in result.detail


def test_552_is_transient_as_rfc_5321_says(smtp_server: SmtpServerFactory) -> None:
    """552 (mailbox full / storage exceeded) is retried like 452, not dead-lettered."""
    server = smtp_server(behaviour=ServerBehaviour(data_reply="552 5.2.2 Mailbox full"))
    with sender_for(server).session() as session:
        result = session.send(make_notice())
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert (result.code, result.reply) == (552, "5.2.2 Mailbox full")


def test_dropped_connection_during_data_is_transient_and_the_next_send_reconnects(
    smtp_server: SmtpServerFactory,
) -> None:
    """The server reads the message and hangs up without answering: TRANSIENT (we cannot
    know if it was taken), and the next notice in the batch goes out on a new connection."""
    server = smtp_server(behaviour=ServerBehaviour(drop_first=1))
    with sender_for(server).session() as session:
        dropped = session.send(make_notice())
        after = session.send(make_notice(resolution_key="jira:IT-43:x", ticket_id="IT-43"))

    assert dropped.outcome is DeliveryOutcome.TRANSIENT
    assert dropped.code is None
    assert "connection closed" in dropped.detail
    assert after.outcome is DeliveryOutcome.SENT
    assert server.connections == 2
    assert [m.connection for m in server.messages] == [2]


def test_421_is_transient_and_the_next_send_uses_a_new_connection(
    smtp_server: SmtpServerFactory,
) -> None:
    """421 means the server is closing the channel: TRANSIENT, and the session does not try
    to reuse that connection for the next notice."""
    server = smtp_server(behaviour=ServerBehaviour(defer_first=1, defer_reply="421 4.3.2 Bye"))
    with sender_for(server).session() as session:
        closing = session.send(make_notice())
        after = session.send(make_notice(resolution_key="jira:IT-43:x", ticket_id="IT-43"))
    assert (closing.outcome, closing.code) == (DeliveryOutcome.TRANSIENT, 421)
    assert after.outcome is DeliveryOutcome.SENT
    assert server.connections == 2


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("550 5.1.1 <bob@example.org>: Recipient address rejected", DeliveryOutcome.PERMANENT),
        ("450 4.2.1 <bob@example.org>: Mailbox busy", DeliveryOutcome.TRANSIENT),
    ],
)
def test_refused_recipient_fails_only_that_notice(
    smtp_server: SmtpServerFactory, reply: str, outcome: DeliveryOutcome
) -> None:
    """A recipient refused at RCPT fails that notice with the recipient's own code, and the
    next notice in the same session (same connection) is delivered."""
    server = smtp_server(behaviour=ServerBehaviour(refuse_recipients={"bob@example.org": reply}))
    with sender_for(server).session() as session:
        refused = session.send(make_notice(to_email="bob@example.org", to_name="Bob"))
        delivered = session.send(make_notice())

    assert refused.outcome is outcome
    assert refused.code == int(reply[:3])
    assert refused.reply == reply[4:]
    assert delivered.outcome is DeliveryOutcome.SENT
    assert [m.rcpt_tos for m in server.messages] == [("ann@example.org",)]
    assert server.connections == 1


def test_invalid_recipient_address_is_permanent_without_connecting(
    smtp_server: SmtpServerFactory,
) -> None:
    """A malformed address is dead-lettered before any connection is made."""
    server = smtp_server()
    with sender_for(server).session() as session:
        result = session.send(make_notice(to_email="not an address"))
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert "to_email" in result.detail
    assert server.connections == 0


# -- session reuse -----------------------------------------------------------------------------


def test_one_session_reuses_a_connection_and_reconnects_after_the_limit(
    smtp_server: SmtpServerFactory,
) -> None:
    """Several notices share one connection; after max_messages_per_session a new one is
    opened (counted on the server side)."""
    server = smtp_server()
    with sender_for(server, max_messages_per_session=2).session() as session:
        results = [
            session.send(make_notice(resolution_key=f"k{i}", ticket_id=f"IT-{i}")) for i in range(5)
        ]
    assert [r.outcome for r in results] == [DeliveryOutcome.SENT] * 5
    assert server.connections == 3
    assert [m.connection for m in server.messages] == [1, 1, 2, 2, 3]


def test_nothing_connects_before_the_first_send(smtp_server: SmtpServerFactory) -> None:
    """Building a sender and opening a session is free: the connection is made lazily."""
    server = smtp_server()
    sender = sender_for(server)
    with sender.session():
        pass
    assert server.connections == 0


# -- what the server sees in the headers ---------------------------------------------------------


@pytest.mark.parametrize(
    "evil",
    [
        "Printer fixed\r\nBcc: evil@example.com",
        "Printer fixed\nBcc: evil@example.com",
        "=?utf-8?q?x=0D=0ABcc:_evil@example.com?=",
        "=?utf-8?b?eA0KQmNjOiBldmlsQGV4YW1wbGUuY29t?=",
    ],
)
def test_header_injection_adds_no_header_at_the_server(
    smtp_server: SmtpServerFactory, evil: str
) -> None:
    """CR/LF and encoded words in the subject and display names add no header and no
    recipient: the raw header block the server received has only the expected fields."""
    server = smtp_server()
    with sender_for(server, from_name=evil).session() as session:
        result = session.send(make_notice(subject=evil, to_name=evil))
    assert result.outcome is DeliveryOutcome.SENT
    [received] = server.messages
    assert received.rcpt_tos == ("ann@example.org",)
    assert received.header_names == BASE_HEADERS
    assert not any(line.lower().startswith(b"bcc") for line in received.raw_header_lines)
    assert "Bcc: evil@example.com" in received.message["Subject"]


def test_html_notice_arrives_as_multipart_alternative(smtp_server: SmtpServerFactory) -> None:
    """With an HTML body the server receives text/plain and text/html alternatives."""
    server = smtp_server()
    with sender_for(server).session() as session:
        session.send(make_notice(html="<p>Your printer is working again.</p>"))
    msg = server.messages[0].message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_threading_headers_arrive(smtp_server: SmtpServerFactory) -> None:
    """In-Reply-To and References reach the server so mail clients thread the notice."""
    server = smtp_server()
    notice = make_notice(
        in_reply_to="<orig-1@mail.example.org>",
        references=("<t-1@notifier.example.org>",),
        reply_to="desk@example.org",
    )
    with sender_for(server).session() as session:
        session.send(notice)
    msg = server.messages[0].message
    assert msg["In-Reply-To"] == "<orig-1@mail.example.org>"
    assert msg["References"].split() == ["<t-1@notifier.example.org>", "<orig-1@mail.example.org>"]
    assert msg["Reply-To"] == "desk@example.org"


# -- check-config --connect --------------------------------------------------------------------


def test_check_walks_every_step_and_sends_nothing(smtp_server: SmtpServerFactory) -> None:
    """check() connects, greets, starts TLS and logs in, reporting each step, and sends no
    message."""
    server = smtp_server(security="starttls", auth=("robot", "s3cret"))
    steps = sender_for(server).check()
    assert [(name, ok) for name, ok, _ in steps] == [
        ("connect", True),
        ("ehlo", True),
        ("starttls", True),
        ("auth", True),
        ("quit", True),
    ]
    assert "certificate verified" in steps[2][2]
    assert server.messages == []


def test_check_stops_at_the_failing_step_and_says_why(smtp_server: SmtpServerFactory) -> None:
    """A wrong password shows as a failed auth step with the server's reply."""
    server = smtp_server(security="starttls", auth=("robot", "s3cret"))
    steps = sender_for(server, password="wrong").check()
    assert [(name, ok) for name, ok, _ in steps][-1] == ("auth", False)
    assert "authentication failed: 535" in steps[-1][2]
