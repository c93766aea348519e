"""Folder mode through a real Dovecot: the notice tells the requester the technician's answer only.

Every reply in tests/data/mail/replies (12 languages; Outlook, Gmail, Apple Mail, Thunderbird;
text and HTML-only) goes into the watched folder, its original request into INBOX. One pass of
the real service sends one notice per reply; each must carry every line of the answer and no
line of the quoted request, no greeting, sign-off or signature.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest

from notifier.sources.mail.rules import clean_title
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.smtp_server import SmtpServerFactory

REPLIES = Path(__file__).resolve().parents[1] / "data" / "mail" / "replies"
SAMPLES = sorted(REPLIES.glob("*.eml"))
# What the writer put around the answer in these samples; none of it may reach the requester.
NEVER = (
    "Best regards", "Kind regards", "Mit freundlichen Grüßen", "Cordialement", "Saludos",
    "Cordiali saluti", "Met vriendelijke groet", "Atenciosamente", "Pozdrawiam",
    "Med vänliga hälsningar", "С уважением", "よろしくお願いいたします", "此致",
    "Sent from my iPhone", "Get Outlook for iOS", "CONFIDENTIALITY NOTICE", "vertrauliche",
    "From:", "Von:", "От:", "差出人", "发件人", "wrote:", "schrieb", "a écrit", "пишет",
    "のメール", "写道", "-- ",
)  # fmt: skip


def _text(path: Path) -> list[str]:
    return [" ".join(line.split()) for line in path.read_text(encoding="utf-8").splitlines()]


def _request_for(reply: EmailMessage, body: str) -> bytes:
    """The requester's own mail that the reply answers: its Message-ID is the reply's
    In-Reply-To, its sender the reply's To."""
    ((name, address),) = getaddresses([str(reply["To"])])
    request = EmailMessage(policy=policy.SMTP)
    request["From"] = f"{name} <{address}>"
    request["To"] = "IT Service Desk <it-helpdesk@example.org>"
    request["Subject"] = clean_title(str(reply["Subject"]))
    request["Date"] = "Mon, 04 Mar 2024 09:12:00 +0000"
    request["Message-ID"] = str(reply["In-Reply-To"])
    request.set_content(body, charset="utf-8")
    return request.as_bytes()


@pytest.fixture
def harness(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> Iterator[Harness]:
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    # Several samples share a requester: one notice each, not a digest, so each can be read.
    rules = {"max_age": 0, "limit_per_recipient": 100}
    made = Harness(imap_settings(tmp_path, dovecot, sink, top={"rules": rules}))
    made.sink = sink  # type: ignore[attr-defined]
    yield made
    made.close()


def test_each_notice_carries_only_the_technicians_answer(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """35 replies in, 35 notices out, each to the requester, each with the answer whole and
    nothing of the quote, the reply headers, the greeting, the sign-off or the signature."""
    assert harness.service.run_pass().seen == 0  # first start: only mail from now on
    expected: dict[str, tuple[str, list[str], list[str]]] = {}
    for sample in SAMPLES:
        raw = sample.read_bytes()
        reply = message_from_bytes(raw, policy=policy.SMTP)
        assert isinstance(reply, EmailMessage)
        request_body = sample.with_name(sample.stem + ".request.txt").read_text(encoding="utf-8")
        dovecot.append("INBOX", _request_for(reply, request_body))
        dovecot.append("Resolved", raw)
        ((name, requester),) = getaddresses([str(reply["To"])])
        answer = [line for line in _text(sample.with_name(sample.stem + ".answer.txt")) if line]
        quoted = _text(sample.with_name(sample.stem + ".request.txt"))
        # Keyed by the request: the notice is threaded under it (In-Reply-To).
        # The request's closing name line is also the notice's greeting: not a quote.
        quoted = [line for line in quoted if len(line) >= 8 and line not in name]
        expected[str(reply["In-Reply-To"])] = (requester, answer, quoted)

    report = harness.service.run_pass()
    assert (report.seen, report.sent) == (len(SAMPLES), len(SAMPLES))
    received = harness.sink.messages  # type: ignore[attr-defined]
    assert sorted(str(r.message["In-Reply-To"]) for r in received) == sorted(expected)
    for notice in received:
        who = str(notice.message["In-Reply-To"])
        requester, answer, quoted = expected[who]
        assert notice.rcpt_tos == (requester,)
        body = notice.message.get_body(("plain",)).get_content()
        flat = " ".join(body.split())
        for line in answer:
            assert line in flat, f"{who}: answer line missing: {line!r}\n{body}"
        for line in quoted:
            assert line not in flat, f"{who}: quoted request left: {line!r}\n{body}"
        for word in NEVER:
            assert word not in body, f"{who}: {word!r} reached the requester\n{body}"
