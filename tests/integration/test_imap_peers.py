"""Broken IMAP peers: a real Dovecot behind a TCP proxy that starts dripping mid-FETCH.

Every IMAP command has a deadline (``timeout``, plus time for what it received at a steady
rate, see ``notifier.sources.mail.imap``); a per-read timeout, restarted by every byte, is not
enough. The bounds asserted are generous: they prove an end, not a speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.errors import SourceError
from notifier.sources.mail.connection import ImapOptions, connect
from tests.dovecot import DovecotFactory, DovecotServer, DripProxy
from tests.integration.imap_service import Harness, imap_settings
from tests.integration.test_service import ListSource, resolution
from tests.mailfactory import reply
from tests.smtp_server import SmtpServerFactory
from tests.timing import finishes_within

TIMEOUT = 1.5


class OtherSource(ListSource):
    """A second source in the same pass (the fake of the Source port, with its lifecycle)."""

    def watch(self, wake: object) -> None:
        """Nothing to watch."""

    def close(self) -> None:
        """Nothing to release."""


SLACK = 6.0  # a loaded CI machine; the unfixed code drips for minutes


def test_a_drip_mid_fetch_ends_the_source_in_time_other_sources_go_on_and_no_mail_is_lost(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """The server sends a message body one byte every 0.2 s: the folder's pass ends with a
    source_error after about ``timeout``, the other source in the same pass is still read and
    notified, and the mail is not skipped: once the server is healthy it is notified."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    with DripProxy(dovecot.host, dovecot.port, trigger=b"BODY.PEEK[]", interval=0.2) as proxy:
        harness = Harness(imap_settings(tmp_path, dovecot, sink, port=proxy.port, timeout=TIMEOUT))
        try:
            harness.service.run_pass()  # first start: the folder's end is remembered
            dovecot.append("Resolved", reply(1, requester="mail@example.org"))
            other = OtherSource([resolution(7)])
            harness.service.sources.append(other)

            report, _ = finishes_within(TIMEOUT + SLACK, harness.service.run_pass)
            assert proxy.drips == 1  # it really was reading the body when the drip started
            (error,) = report.source_errors
            assert "no answer in time" in error
            assert [m.rcpt_tos[0] for m in sink.messages] == ["user7@example.org"]
            assert harness.outbox.audit_records(AuditQuery(source="mail")) == []

            proxy.trigger = None  # the server is healthy again
            harness.restart()  # (a new process: no backoff left from the error)
            report = harness.service.run_pass()
            assert report.source_errors == [] and report.sent == 1
            assert sink.messages[-1].rcpt_tos == ("mail@example.org",)
        finally:
            harness.close()


def test_a_non_ascii_password_logs_in_and_a_wrong_one_shows_no_part_of_it(
    dovecot_factory: DovecotFactory,
) -> None:
    """A UTF-8 password logs in (AUTHENTICATE PLAIN); a wrong one is a SourceError whose text
    holds no character of the secret (it used to quote one, with its position)."""
    server = dovecot_factory(users={"notifier": "pässwörd€"})
    settings = dict(server.client_settings(), timeout=TIMEOUT)
    connect(ImapOptions(**settings)).logout()  # type: ignore[arg-type]
    settings["password"] = "wröng€"
    with pytest.raises(SourceError) as failed:
        connect(ImapOptions(**settings))  # type: ignore[arg-type]
    assert "login failed" in str(failed.value)
    assert not any(c in str(failed.value) for c in "öä€")


@pytest.mark.parametrize(
    ("trigger", "rewrite"),
    [
        (b"EXAMINE", (rb"UIDVALIDITY \d+", b"UIDVALIDITY many")),  # in imapclient
        (b"RFC822.SIZE", (rb"RFC822.SIZE \d+", b"RFC822.SIZE many")),  # in notifier's reading
    ],
    ids=["uidvalidity", "size"],
)
def test_an_answer_the_imap_library_cannot_parse_is_a_source_error_with_backoff(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_server: SmtpServerFactory,
    trigger: bytes,
    rewrite: tuple[bytes, bytes],
) -> None:
    """A garbled answer (a number that is not one) makes imapclient, or the code reading its
    result, raise what no IMAP error class covers (ValueError): that is the server's fault, reported as this source's error with
    the usual backoff and a fresh connection, while the other sources go on; once the server
    answers properly the mail is read and nothing was skipped."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    with DripProxy(dovecot.host, dovecot.port, trigger=None, rewrite=rewrite) as proxy:
        harness = Harness(imap_settings(tmp_path, dovecot, sink, port=proxy.port, timeout=TIMEOUT))
        try:
            harness.service.run_pass()  # first start: the folder's end is remembered
            dovecot.append("Resolved", reply(1, requester="mail@example.org"))
            harness.restart()  # a new connection, so the trigger sees its commands
            proxy.trigger = trigger
            other = OtherSource([resolution(7)])
            harness.service.sources.append(other)
            report = harness.service.run_pass()
            (error,) = report.source_errors
            assert error.startswith("mail: IMAP ") and "could not be understood" in error, error
            assert "retrying in" in error
            assert [m.rcpt_tos[0] for m in sink.messages] == ["user7@example.org"]

            proxy.trigger = None  # the server answers properly again
            harness.restart()
            report = harness.service.run_pass()
            assert report.source_errors == [] and report.sent == 1
            assert sink.messages[-1].rcpt_tos == ("mail@example.org",)
        finally:
            harness.close()
