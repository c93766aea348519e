"""noise_reason: auto-replies, bounces, list mail and our own mail never become resolutions.

Realistic samples live in tests/data/mail/noise; smaller variations are built inline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.sources.mail.noise import noise_reason
from notifier.sources.mail.parse import parse_mail
from notifier.sources.mail.types import ParsedMail

NOISE = Path(__file__).parents[1] / "data" / "mail" / "noise"
OWN = ("it-helpdesk@example.org",)
TRUSTED = ("helpdesk@servicedesk.example.org", "@rt.example.org")


def sample(name: str) -> ParsedMail:
    return parse_mail((NOISE / name).read_bytes(), origin=name)


def reason(mail: ParsedMail, trusted: tuple[str, ...] = TRUSTED) -> str | None:
    return noise_reason(mail, own_addresses=OWN, trusted_senders=trusted)


def inline(headers: str, sender: str = "Anna Berg <anna.berg@example.org>") -> ParsedMail:
    raw = f"From: {sender}\r\nTo: it-helpdesk@example.org\r\nSubject: Re: ticket\r\n{headers}\r\nbody\r\n"
    return parse_mail(raw.encode(), origin="inline")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gmail_vacation.eml", "auto-replied: Auto-Submitted: auto-replied"),
        (
            "exchange_out_of_office.eml",
            "out of office: Subject 'Automatic reply: Your IT request is done: VPN access'",
        ),
        ("postfix_dsn_bounce.eml", "bounce: multipart/report; report-type=delivery-status"),
        (
            "mailing_list.eml",
            "list mail: List-Id Sysadmin discussion <sysadmins.lists.example.org>",
        ),
        ("newsletter_bulk.eml", "Precedence: bulk"),
        ("own_mail.eml", "our own mail: From it-helpdesk@example.org"),
    ],
)
def test_realistic_noise_samples_are_refused_with_a_reason(name: str, expected: str) -> None:
    """Each real-world kind of automatic mail gives the reason an auditor will read."""
    assert reason(sample(name)) == expected


def test_helpdesk_notification_from_trusted_sender_is_acted_on() -> None:
    """Auto-Submitted: auto-generated + Precedence: bulk + X-Auto-Response-Suppress pass when trusted."""
    assert reason(sample("helpdesk_resolved.eml")) is None


def test_same_notification_from_an_untrusted_sender_is_noise() -> None:
    """Without the trust entry the same notification is automatic mail, not a resolution."""
    assert reason(sample("helpdesk_resolved.eml"), trusted=()) == (
        "auto-generated: Auto-Submitted: auto-generated"
    )


def test_vacation_reply_from_the_trusted_sender_is_still_noise() -> None:
    """Auto-Submitted: auto-replied is a vacation reply even from the helpdesk address."""
    raw = (
        (NOISE / "helpdesk_resolved.eml")
        .read_bytes()
        .replace(b"Auto-Submitted: auto-generated", b"Auto-Submitted: auto-replied")
    )
    assert reason(parse_mail(raw, origin="t")) == "auto-replied: Auto-Submitted: auto-replied"


def test_bounce_is_noise_even_when_its_domain_is_trusted() -> None:
    """A DSN stays a bounce when the whole domain of the MTA is a trusted sender."""
    assert reason(sample("postfix_dsn_bounce.eml"), trusted=("@mail.example.org",)) == (
        "bounce: multipart/report; report-type=delivery-status"
    )


def test_own_mail_is_noise_even_when_trusted() -> None:
    """Our own notice coming back is never a resolution, whatever the trust list says."""
    assert reason(sample("own_mail.eml"), trusted=("@example.org",)) == (
        "our own mail: From it-helpdesk@example.org"
    )


def test_exchange_out_of_office_is_noise_even_for_a_trusted_domain() -> None:
    """An "@domain" trust entry covers people too; their out-of-office replies stay noise."""
    mail = sample("exchange_out_of_office.eml")
    assert reason(mail, trusted=("@customer.example.com",)) is not None


@pytest.mark.parametrize(
    ("headers", "sender", "expected"),
    [
        (
            "Auto-Submitted: auto-generated\r\n",
            None,
            "auto-generated: Auto-Submitted: auto-generated",
        ),
        ("Auto-Submitted: auto-notified\r\n", None, "auto-notified: Auto-Submitted: auto-notified"),
        (
            "Auto-Submitted: Auto-Replied; owner-email=x@y\r\n",
            None,
            "auto-replied: Auto-Submitted: Auto-Replied; owner-email=x@y",
        ),
        ("Auto-Submitted: no\r\n", None, None),
        ("Return-Path: <>\r\n", None, "null return path (bounce)"),
        ("Return-Path: <anna.berg@example.org>\r\n", None, None),
        ("", "MAILER-DAEMON@mx.example.org", "From MAILER-DAEMON"),
        ("", "postmaster@example.org", "From postmaster"),
        ("", "Mail Delivery Subsystem <bounces@google.example>", "From Mail Delivery Subsystem"),
        (
            "X-Failed-Recipients: gone@example.org\r\n",
            None,
            "bounce: X-Failed-Recipients gone@example.org",
        ),
        ("X-MS-Exchange-Message-Is-Ndr:\r\n", None, "bounce: X-MS-Exchange-Message-Is-Ndr"),
        (
            "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n",
            None,
            "read receipt: multipart/report; report-type=disposition-notification",
        ),
        ("X-Autoreply: yes\r\n", None, "out of office: X-Autoreply: yes"),
        ("X-Autorespond: Vacation\r\n", None, "out of office: X-Autorespond: Vacation"),
        ("X-Vacation:\r\n", None, "out of office: X-Vacation"),
        ("X-Autoreply: no\r\n", None, None),
        ("Precedence: auto_reply\r\n", None, "auto-replied: Precedence: auto_reply"),
        (
            "X-Auto-Response-Suppress: DR, OOF, AutoReply\r\n",
            None,
            "automatic mail: X-Auto-Response-Suppress: DR, OOF, AutoReply",
        ),
        ("X-Auto-Response-Suppress: None\r\n", None, None),
        (
            "X-MS-Exchange-Inbox-Rules-Loop: anna.berg@example.org\r\n",
            None,
            "automatic mail: X-MS-Exchange-Inbox-Rules-Loop: anna.berg@example.org",
        ),
        (
            "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n",
            None,
            "automatic mail: X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
        ),
        ("List-Id: <it.lists.example.org>\r\n", None, "list mail: List-Id <it.lists.example.org>"),
        (
            "Precedence: list\r\nList-Unsubscribe: <mailto:u@example.org>\r\n",
            None,
            "list mail: List-Unsubscribe with Precedence: list",
        ),
        ("Precedence: junk\r\n", None, "Precedence: junk"),
        ("Precedence: BULK\r\n", None, "Precedence: BULK"),
        ("List-Unsubscribe: <https://example.org/u>\r\n", None, None),
        ("", "IT-HELPDESK@EXAMPLE.ORG", "our own mail: From it-helpdesk@example.org"),
        ("", None, None),
    ],
)
def test_each_rule_alone(headers: str, sender: str | None, expected: str | None) -> None:
    """Every rule fires on its own header, with its reason; harmless values do not fire."""
    mail = inline(headers) if sender is None else inline(headers, sender=sender)
    assert reason(mail) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Ticket 42",
        "Out of Office: Ticket 42",
        "Autoreply: Ticket 42",
        "Abwesenheitsnotiz: Ticket 42",
        "Réponse automatique : Ticket 42",
        "AUTOMATIC REPLY: ticket",
        "Undeliverable: Ticket 42",
    ],
)
def test_auto_reply_subjects_are_noise(subject: str) -> None:
    """Out-of-office and bounce subject prefixes (several languages) are noise for everyone."""
    mail = parse_mail(
        f"From: helpdesk@servicedesk.example.org\r\nSubject: {subject}\r\n\r\nx".encode(),
        origin="t",
    )
    assert reason(mail) is not None


def test_a_person_answering_an_auto_reply_is_not_noise() -> None:
    """The prefix only counts at the start: "Re: Automatic reply:" is a person writing."""
    mail = parse_mail(
        b"From: anna@example.org\r\nSubject: Re: Automatic reply: x\r\n\r\nx", origin="t"
    )
    assert reason(mail) is None


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        (("helpdesk@servicedesk.example.org",), None),
        (("HelpDesk@ServiceDesk.Example.org",), None),
        (("@servicedesk.example.org",), None),
        (("@example.org",), "auto-generated"),  # no subdomain matching
        (("servicedesk.example.org",), "auto-generated"),  # a domain needs its "@"
        (("other@servicedesk.example.org",), "auto-generated"),
    ],
)
def test_trusted_sender_matching(trusted: tuple[str, ...], expected: str | None) -> None:
    """Trust is an exact address or an exact "@domain", case-insensitive."""
    result = reason(sample("helpdesk_resolved.eml"), trusted=trusted)
    assert result == expected or (
        expected is not None and result is not None and result.startswith(expected)
    )


def test_trusted_sender_with_null_return_path_is_allowed_but_mailer_daemon_is_not() -> None:
    """Helpdesks may send with "<>"; combined with MAILER-DAEMON it is a bounce for everyone."""
    helpdesk = inline(
        "Return-Path: <>\r\nAuto-Submitted: auto-generated\r\n",
        sender="helpdesk@servicedesk.example.org",
    )
    assert reason(helpdesk) is None
    daemon = inline("Return-Path: <>\r\n", sender="MAILER-DAEMON@rt.example.org")
    assert reason(daemon) == "From MAILER-DAEMON"


def test_list_mail_from_a_trusted_sender_is_still_noise() -> None:
    """List-Id means a list copy, not the helpdesk's own notification."""
    mail = inline("List-Id: <x.example.org>\r\n", sender="helpdesk@servicedesk.example.org")
    assert reason(mail) == "list mail: List-Id <x.example.org>"


@pytest.mark.parametrize(
    ("headers", "subject", "expected"),
    [
        # Gmail and Exchange responders send with the null return path (RFC 3834 s. 3.3); the
        # responder's own mark says more than the envelope.
        (
            "Return-Path: <>\r\nAuto-Submitted: auto-replied\r\n",
            "Re: ticket",
            "auto-replied: Auto-Submitted: auto-replied",
        ),
        (
            "Return-Path: <>\r\nX-Auto-Response-Suppress: All\r\n",
            "Automatic reply: Your IT request is done",
            "out of office: Subject 'Automatic reply: Your IT request is done'",
        ),
        (
            "Return-Path: <>\r\nX-Autoreply: yes\r\n",
            "Re: ticket",
            "out of office: X-Autoreply: yes",
        ),
        (
            "Return-Path: <>\r\n",
            "Undeliverable: Your IT request is done",
            "bounce: Subject 'Undeliverable: Your IT request is done'",
        ),
    ],
)
def test_an_auto_reply_with_a_null_return_path_is_named_as_what_it_is(
    headers: str, subject: str, expected: str
) -> None:
    """The null return path is the last, least specific reason: a vacation or out-of-office reply
    that also has one is recorded as the auto-reply it is, not as a bounce."""
    raw = (
        "From: Anna Berg <anna.berg@example.org>\r\nTo: it-helpdesk@example.org\r\n"
        f"Subject: {subject}\r\n{headers}\r\nI am away until Monday.\r\n"
    )
    assert reason(parse_mail(raw.encode(), origin="inline")) == expected


def test_invalid_addresses_are_named_as_the_reason() -> None:
    """A mail whose To and From hold no valid address: the reason names the invalid fields,
    so the record says why no requester could be found."""
    from notifier.sources.mail.noise import address_problem

    hostile = parse_mail(
        (NOISE.parent / "hostile" / "invalid_addresses.eml").read_bytes(), origin="x"
    )
    assert address_problem(hostile) == "invalid address in From, To"
    assert address_problem(sample("gmail_vacation.eml")) is None
