"""The IMAP source against a real Dovecot, through the real service, outbox and SMTP sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.mailfactory import reply, request
from tests.smtp_server import SmtpServerFactory

DATA = Path(__file__).resolve().parents[1] / "data" / "mail"


@pytest.fixture
def harness(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> Iterator[Harness]:
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    made = Harness(imap_settings(tmp_path, dovecot, sink))
    made.sink = sink  # type: ignore[attr-defined]
    yield made
    made.close()


def test_first_start_takes_only_new_mail_and_threads_under_the_request(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """Mail already in the folder at first start is left alone; a new reply is notified,
    with the requester and title from the original request and In-Reply-To set to it."""
    dovecot.append("INBOX", request(1, subject="Printer on floor 3 broken"))
    dovecot.append("Resolved", reply(99))  # was there before notifier started
    assert harness.service.run_pass().seen == 0

    dovecot.append("Resolved", reply(1, subject="RE: [#1] Printer on floor 3 broken"))
    report = harness.service.run_pass()
    assert (report.seen, report.sent) == (1, 1)
    (received,) = harness.sink.messages  # type: ignore[attr-defined]
    assert received.rcpt_tos == ("ann@example.org",)
    assert received.message["In-Reply-To"] == "<request-1@example.org>"
    assert received.message["Subject"] == "Done: Printer on floor 3 broken"
    body = received.message.get_body(("plain",)).get_content()
    assert "We fixed the printer." in body and "> Hello" not in body


def test_restart_with_stored_state_fetches_only_new_bodies(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """A 20,000-message folder: after a restart only the two new messages' bodies are fetched."""
    dovecot.bulk_fill("Resolved", (reply(n) for n in range(1000, 21000)))
    harness.service.run_pass()  # first start: remembers where the folder ends
    assert harness.source.bodies_fetched == 0
    harness.restart()
    dovecot.append("Resolved", reply(1))
    dovecot.append("Resolved", reply(2, requester="bob@example.org"))
    report = harness.service.run_pass()
    assert harness.source.bodies_fetched == 2
    assert report.sent == 2


def test_new_uidvalidity_with_the_same_messages_sends_no_duplicates(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """The folder recreated (new UIDVALIDITY, same mail): rescanned, nothing notified twice."""
    harness.service.run_pass()
    for n in range(3):
        dovecot.append("Resolved", reply(n, requester=f"user{n}@example.org"))
    assert harness.service.run_pass().sent == 3
    old = dovecot.uidvalidity("Resolved")
    assert dovecot.recreate_folder_with_new_uidvalidity("Resolved") != old
    dovecot.append("Resolved", reply(7, requester="new@example.org"))
    report = harness.service.run_pass()
    assert report.sent == 1 and harness.source.bodies_fetched == 4  # 3 before + only the new one
    recipients = sorted(m.rcpt_tos[0] for m in harness.sink.messages)  # type: ignore[attr-defined]
    assert recipients == [
        "new@example.org",
        "user0@example.org",
        "user1@example.org",
        "user2@example.org",
    ]


def test_noise_gives_no_notice_and_a_recorded_reason(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """Vacation replies, out-of-office, bounces, list mail and our own mail: ignored, audited."""
    samples = sorted((DATA / "noise").glob("*.eml"))
    assert len(samples) >= 5
    harness.service.run_pass()
    for sample in samples:
        dovecot.append("Resolved", sample.read_bytes())
    dovecot.append("Resolved", reply(5, requester="after@example.org"))
    report = harness.service.run_pass()
    assert report.sent == 1
    assert [m.rcpt_tos[0] for m in harness.sink.messages] == ["after@example.org"]  # type: ignore[attr-defined]
    ignored = harness.outbox.audit_records(AuditQuery(outcome="ignored"))
    assert len(ignored) == len(samples)
    assert all(record.reason and record.origin.startswith("Resolved uid ") for record in ignored)


def test_hostile_mail_is_recorded_and_the_next_good_message_still_goes_out(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """Injection, deep nesting, NUL bytes, no From, a message over the size limit: no crash."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(imap_settings(tmp_path, dovecot, sink, max_message_bytes=256 * 1024))
    try:
        harness.service.run_pass()
        # An empty message cannot exist in a mailbox (the server refuses to store it).
        samples = [s for s in sorted((DATA / "hostile").glob("*.eml")) if s.stat().st_size]
        for sample in samples:
            dovecot.append("Resolved", sample.read_bytes())
        big = reply(8, note="x" * (400 * 1024))
        dovecot.append("Resolved", big)
        dovecot.append("Resolved", reply(9, requester="good@example.org"))
        report = harness.service.run_pass()
        assert report.source_errors == []
        assert "good@example.org" in [m.rcpt_tos[0] for m in sink.messages]
        for message in sink.messages:
            names = {name.lower() for name in message.header_names}
            assert "bcc" not in names and "x-injected" not in names
        records = harness.outbox.audit_records(AuditQuery(source="mail"))
        too_big = [r for r in records if r.outcome == "rejected" and "over the" in r.reason]
        assert len(too_big) == 1
        outcomes = ("rejected", "ignored", "queued", "suppressed", "held")
        handled = {r.origin for r in records if r.outcome in outcomes}
        assert len(handled) >= len(samples) + 2  # every message got an outcome
    finally:
        harness.close()


@pytest.mark.parametrize("after", ["flag", "move"])
def test_after_processing_flags_or_moves_and_state_stays_the_truth(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory, after: str
) -> None:
    """$Notified is added (or the mail moved) only after the commit; a rerun sends nothing."""
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    extra = {"after": after, "move_to": "Processed"} if after == "move" else {"after": after}
    harness = Harness(imap_settings(tmp_path, dovecot, sink, **extra))
    try:
        harness.service.run_pass()
        uid = dovecot.append("Resolved", reply(1))
        assert harness.service.run_pass().sent == 1
        with dovecot.client() as imap:
            if after == "flag":
                imap.select_folder("Resolved", readonly=True)
                assert b"$Notified" in imap.get_flags([uid])[uid]
                assert b"\\Seen" not in imap.get_flags([uid])[uid]  # BODY.PEEK kept it unread
            else:
                assert imap.folder_status("Resolved", ["MESSAGES"])[b"MESSAGES"] == 0
                assert imap.folder_status("Processed", ["MESSAGES"])[b"MESSAGES"] == 1
        harness.restart()
        assert harness.service.run_pass().sent == 0
    finally:
        harness.close()


def test_a_huge_original_request_is_not_read_and_the_resolution_still_goes_out(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """The original request is over max_message_bytes: its body is never fetched (only its
    size is asked), it counts as not found, and the reply is still handled."""
    from structlog.testing import capture_logs

    sink = smtp_server()
    dovecot.create_folder("Resolved")
    made = Harness(imap_settings(tmp_path, dovecot, sink, max_message_bytes=1024 * 1024))
    try:
        huge = request(7).replace(b"Please help.", b"Please help." + b"x" * 3 * 1024 * 1024, 1)
        dovecot.append("INBOX", huge)
        made.service.run_pass()  # first start
        dovecot.append("Resolved", reply(7))
        with capture_logs() as logs:
            report = made.service.run_pass()
        assert report.seen == 1
        too_large = [e for e in logs if e["event"] == "imap_original_too_large"]
        assert len(too_large) == 1 and too_large[0]["folder"] == "INBOX"
        assert too_large[0]["size"] > 3 * 1024 * 1024
    finally:
        made.close()
