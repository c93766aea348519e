"""Property (issue 15): whatever mail arrives, no notice goes to the watched mailbox, the From
address or a trusted sender (nor a team's reply_to or a never_notify domain).

Hostile mail is generated from the real preset samples and from technician replies: To, Cc,
From and Reply-To naming the helpdesk and trusted addresses (any case, a +tag, a display name
that is itself an address), ``Reporter:``/``Requester:``/``Customer:`` lines, and the sample's
requester address swapped for a protected one. It goes through the real IMAP source (a real
Dovecot whose login is the helpdesk's address) in ``mode = "folder"`` and with every preset,
one ``[[imap]]`` block per folder, and out to a real aiosmtpd sink. Each example is one batch
of mails appended together and one pass of the service.
"""

from __future__ import annotations

import email
import email.policy
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.runtime.config import Settings
from notifier.sources.mail.presets import PRESETS as PRESET_NAMES
from tests.dovecot import DovecotFactory
from tests.integration.imap_service import Harness
from tests.smtp_server import SmtpServerFactory

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "mail" / "presets"
WATCHED = "helpdesk@example.org"  # the IMAP login: the mailbox every block watches
FROM_ADDRESS = "it-helpdesk@example.org"
EXTRA_TRUSTED = "tickets@desk.example.org"
REPLY_TO = "it-replies@example.org"  # a team's reply_to
NEVER_DOMAIN = "partner.example"  # [rules] never_notify: the domain and its subdomains
REQUESTER = "jane.doe@example.org"  # every preset sample's requester
PERSON = "anna.schmidt@example.org"


def sender_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return str(message["From"].addresses[0].addr_spec)


RESOLVED = {
    path.stem: path.read_bytes()
    for path in sorted(SAMPLES.glob("*-resolved.eml"))
    if path.stem.split("-", 1)[0] in PRESET_NAMES
}
TRUSTED = {name: [sender_of(raw), EXTRA_TRUSTED] for name, raw in RESOLVED.items()}
PROTECTED = sorted(
    {WATCHED, FROM_ADDRESS, REPLY_TO, "desk@eu.partner.example",
     *itertools.chain(*TRUSTED.values())}
)  # fmt: skip


def mailbox(address: str) -> str:
    """Where a server delivers ``address``: case folded, without a +tag (test's own code)."""
    local, _, domain = address.casefold().rpartition("@")
    return local.split("+", 1)[0] + "@" + domain.rstrip(".")


PROTECTED_MAILBOXES = {mailbox(a) for a in PROTECTED}


def protected(address: str) -> bool:
    domain = mailbox(address).rpartition("@")[2]
    return mailbox(address) in PROTECTED_MAILBOXES or f".{domain}".endswith(f".{NEVER_DOMAIN}")


# -- hostile pieces --------------------------------------------------------------------------


@st.composite
def protected_address(draw: st.DrawFn) -> str:
    local, _, domain = draw(st.sampled_from(PROTECTED)).partition("@")
    if draw(st.booleans()):
        local += "+" + draw(st.sampled_from(["ticket-42", "HD-7", "x"]))
    spelled = f"{local}@{domain}"
    return draw(st.sampled_from([spelled, spelled.upper(), spelled.title()]))


any_address = st.one_of(protected_address(), st.sampled_from([REQUESTER, PERSON]))
display_name = st.one_of(
    st.just(""),
    st.sampled_from(["Jane Doe", "IT Help Desk", "Doe, Jane", "jdoe", "it-support"]),
    any_address,  # a display name that is itself an address
)


@st.composite
def mailbox_header(draw: st.DrawFn, most: int = 3) -> str:
    entries = draw(st.lists(st.tuples(display_name, any_address), min_size=1, max_size=most))
    return ", ".join(formataddr((name, address)) for name, address in entries)


@st.composite
def body_lines(draw: st.DrawFn) -> list[str]:
    labels = st.sampled_from(["Reporter", "Requester", "Customer", "Caller", "From", "Contact"])
    line = st.tuples(labels, display_name, any_address).map(
        lambda t: f"{t[0]}: {formataddr((t[1], t[2])) if t[1] else t[2]}"
    )
    return draw(st.lists(line, max_size=3))


@dataclass(frozen=True)
class Hostile:
    """One mail for one ``[[imap]]`` block (its folder), and the original it may answer."""

    box: str
    mail: EmailMessage
    original: EmailMessage | None = None

    def __repr__(self) -> str:  # what a failing example shows
        def heads(message: EmailMessage) -> dict[str, str]:
            names = ("From", "To", "Cc", "Reply-To", "Subject")
            return {name: str(message[name]) for name in names if message[name]}

        original = heads(self.original) if self.original is not None else None
        return f"Hostile({self.box!r}, {heads(self.mail)}, original={original})"


def with_headers(message: EmailMessage, **headers: str | None) -> None:
    for name, value in headers.items():
        name = name.replace("_", "-")
        del message[name]
        if value is not None:
            message[name] = value


def add_lines(message: EmailMessage, lines: list[str]) -> None:
    """The lines at the top of the first text part (and of the HTML part, as paragraphs)."""
    if not lines:
        return
    for kind, wrap in (
        ("plain", "\n".join),
        ("html", lambda ls: "".join(f"<p>{x}</p>" for x in ls)),
    ):
        part = next((p for p in message.walk() if p.get_content_type() == f"text/{kind}"), None)
        if isinstance(part, EmailMessage):
            text = part.get_content()
            part.set_content(wrap(lines) + "\n" + text, subtype=kind, charset="utf-8")


@st.composite
def preset_mail(draw: st.DrawFn) -> Hostile:
    stem = draw(st.sampled_from(sorted(RESOLVED)))
    raw = RESOLVED[stem]
    if draw(st.booleans()):  # the requester's address, wherever the sample spells it
        swap = draw(protected_address()).encode()
        raw = raw.replace(REQUESTER.encode(), swap).replace(REQUESTER.upper().encode(), swap)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    if draw(st.booleans()):  # a watcher copy: addressed to the helpdesk, names in display
        with_headers(message, To=draw(mailbox_header()))
    with_headers(
        message,
        Cc=draw(st.none() | mailbox_header()),
        Reply_To=draw(st.none() | mailbox_header(most=1)),
    )
    add_lines(message, draw(body_lines()))
    return Hostile(stem, message)


@st.composite
def folder_mail(draw: st.DrawFn) -> Hostile:
    original = None
    if draw(st.booleans()):
        original = EmailMessage()
        original["From"] = draw(mailbox_header(most=1))
        original["To"] = WATCHED
        original["Subject"] = "Printer broken"
        original.set_content("Hello, the printer is broken.\n" + "\n".join(draw(body_lines())))
    reply = EmailMessage()
    reply["From"] = draw(st.sampled_from(["Tom Tech <tom.tech@example.org>", *PROTECTED]))
    reply["To"] = draw(mailbox_header())
    with_headers(reply, Cc=draw(st.none() | mailbox_header()))
    with_headers(reply, Reply_To=draw(st.none() | mailbox_header(most=1)))
    reply["Subject"] = "Re: Printer broken"
    lines = draw(body_lines())
    reply.set_content("\n".join([*lines, "We fixed the printer. It prints again.", ""]))
    return Hostile("folder", reply, original)


batches = st.lists(st.one_of(preset_mail(), folder_mail()), min_size=1, max_size=5)


# -- the property ----------------------------------------------------------------------------


def service_settings(tmp_path: Path, host: str, port: int, sink: Any) -> Settings:
    def box(name: str, **mode: Any) -> dict[str, Any]:
        return {
            "name": name, "host": host, "port": port, "security": "plain",
            "username": WATCHED, "password": "s3cret", "allow_plaintext_password": True,
            "timeout": 10, "folder": name, "original_folders": ["INBOX"], "idle": False,
            **mode,
        }  # fmt: skip

    boxes = [box("folder", mode="folder")] + [
        box(stem, mode="preset", preset=stem.split("-", 1)[0], trusted_senders=TRUSTED[stem])
        for stem in RESOLVED
    ]
    return Settings.model_validate(
        {
            "state": {"directory": tmp_path / "state"},
            "smtp": {
                "host": sink.host, "port": sink.port, "security": "plain",
                "from_address": FROM_ADDRESS, "timeout": 5,
            },
            "delivery": {"rate_limit_per_minute": 100000},
            "plain": {"policy": "warn"},
            # The samples carry fixed dates; every example's requester may get many notices.
            "rules": {
                "max_age": 0, "limit_per_recipient": 100000, "never_notify": [NEVER_DOMAIN],
            },
            "teams": {"default": {"reply_to": REPLY_TO}},
            "imap": boxes,
        }
    )  # fmt: skip


def test_no_notice_ever_goes_to_the_watched_mailbox_the_from_address_or_a_trusted_sender(
    tmp_path: Path, dovecot_factory: DovecotFactory, smtp_server: SmtpServerFactory
) -> None:
    server = dovecot_factory(users={WATCHED: "s3cret"})
    sink = smtp_server()
    for name in ["folder", *RESOLVED]:
        server.create_folder(name, user=WATCHED)
    harness = Harness(service_settings(tmp_path, server.host, server.port, sink))
    counter = itertools.count(1)
    start = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    sent_to_people = 0

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=batches)
    def check(batch: list[Hostile]) -> None:
        nonlocal sent_to_people
        by_folder: dict[str, list[bytes]] = {}
        for hostile in batch:
            n = next(counter)  # a new mail each time: its own id and time, never "already known"
            moment = format_datetime(start + timedelta(minutes=n))
            if hostile.original is not None:
                with_headers(hostile.original, Message_ID=f"<request-{n}@example.org>",
                             Date=moment)  # fmt: skip
                with_headers(hostile.mail, In_Reply_To=f"<request-{n}@example.org>",
                             References=f"<request-{n}@example.org>")  # fmt: skip
                by_folder.setdefault("INBOX", []).append(hostile.original.as_bytes())
            with_headers(hostile.mail, Message_ID=f"<hostile-{n}@mail.example.org>", Date=moment)
            by_folder.setdefault(hostile.box, []).append(hostile.mail.as_bytes())
        for folder in sorted(by_folder, key=lambda f: f != "INBOX"):  # originals first
            server.append_many(folder, by_folder[folder], user=WATCHED)
        before = len(sink.messages)
        harness.service.run_pass()
        for message in sink.messages[before:]:
            for recipient in message.rcpt_tos:
                assert not protected(recipient), (recipient, batch)
            greeting = message.message.get_body(("plain",)).get_content().splitlines()[0]
            (to,) = message.message["To"].addresses
            assert "@" not in greeting and "@" not in to.display_name, (greeting, to)
            sent_to_people += 1

    try:
        harness.service.run_pass()  # first start: the folders' existing mail is not read
        check()
        # The property means something only if hostile mail does reach people.
        assert sent_to_people > 0
    finally:
        harness.close()
