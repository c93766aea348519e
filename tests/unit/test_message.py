"""Unit tests for notifier.delivery.message: headers, threading, and header-injection safety."""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.core.errors import PermanentDeliveryError
from notifier.core.message_ids import message_id_for, thread_reference_for
from notifier.core.model import Notice
from notifier.delivery.message import build_message, clean_header_text, message_bytes
from tests.notices import BASE_HEADERS, make_notice

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def build(notice: Notice, from_name: str = "IT Service Desk") -> EmailMessage:
    return build_message(notice, from_address="it@example.org", from_name=from_name, now=NOW)


def raw_header_names(raw: bytes) -> list[str]:
    """Field names read straight from the bytes, the way a receiving MTA would split them."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line, f"bare CR or LF in header line {line!r}"
        if line[:1] not in (b" ", b"\t"):
            names.append(line.split(b":", 1)[0].decode("ascii"))
    return names


def body(part: MIMEPart) -> str:
    """Decoded content with line ends as in Python text (the wire uses CRLF)."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def reparse(msg: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


# -- identifiers -------------------------------------------------------------------------------


def test_message_id_is_deterministic_per_resolution_key() -> None:
    """Every retry and re-queue of one resolution carries the same Message-ID; others differ."""
    first = message_id_for("jira:IT-42:2025-03-04T05:00:00Z", "notifier.example.org")
    again = message_id_for("jira:IT-42:2025-03-04T05:00:00Z", "notifier.example.org")
    other = message_id_for("jira:IT-42:2025-03-05T05:00:00Z", "notifier.example.org")
    assert first == again
    assert first != other
    assert re.fullmatch(r"<[0-9a-f]{32}@notifier\.example\.org>", first)


def test_thread_reference_is_stable_per_ticket_and_distinct_from_message_ids() -> None:
    """All notices about one ticket share a reference; other tickets and sources do not."""
    ref = thread_reference_for("jira", "IT-42", "notifier.example.org")
    assert ref == thread_reference_for("jira", "IT-42", "notifier.example.org")
    assert ref != thread_reference_for("jira", "IT-43", "notifier.example.org")
    assert ref != thread_reference_for("otrs", "IT-42", "notifier.example.org")
    assert ref != message_id_for("jira:IT-42", "notifier.example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@notifier\.example\.org>", ref)


@pytest.mark.parametrize("domain", ["", "bad domain", "x>y", "a\r\nb"])
def test_identifiers_refuse_a_domain_that_would_break_the_header(domain: str) -> None:
    """A misconfigured Message-ID domain is an error, not a malformed header."""
    with pytest.raises(ValueError, match="domain"):
        message_id_for("k", domain)
    with pytest.raises(ValueError, match="domain"):
        thread_reference_for("s", "t", domain)


# -- headers -----------------------------------------------------------------------------------


def test_plain_notice_has_exactly_the_expected_headers() -> None:
    """A text-only notice is one text/plain part with From/To names, RFC 3834 and Exchange
    auto-reply suppression headers, a UTC Date and the notice's own Message-ID."""
    msg = reparse(build(make_notice()))
    assert raw_header_names(build(make_notice()).as_bytes()) == BASE_HEADERS
    assert msg["From"] == "IT Service Desk <it@example.org>"
    assert msg["To"] == "Ann Example <ann@example.org>"
    assert msg["Subject"] == "Your printer is working again"
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] == "<0123456789abcdef@notifier.example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg.get_content_type() == "text/plain"
    assert body(msg) == "Hello Ann,\n\nyour printer is working again.\n"


def test_reply_to_is_set_only_when_the_notice_has_one() -> None:
    """Reply-To points replies at the team's queue, and is absent when no team set one."""
    assert "Reply-To" not in build(make_notice())
    msg = reparse(build(make_notice(reply_to="desk@example.org")))
    assert msg["Reply-To"] == "desk@example.org"


def test_html_makes_multipart_alternative_with_text_first() -> None:
    """With an HTML body the message is multipart/alternative: text/plain first, then HTML."""
    msg = reparse(build(make_notice(html="<p>Your printer is working again.</p>")))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert "<p>Your printer" in body(parts[1])


def test_threading_headers_reference_the_original_request() -> None:
    """In-Reply-To names the requester's mail; References lists the thread and ends with it."""
    notice = make_notice(
        in_reply_to="<orig-1@mail.example.org>",
        references=("<thread-0@notifier.example.org>",),
    )
    msg = reparse(build(notice))
    assert msg["In-Reply-To"] == "<orig-1@mail.example.org>"
    assert msg["References"].split() == [
        "<thread-0@notifier.example.org>",
        "<orig-1@mail.example.org>",
    ]


@pytest.mark.parametrize(
    "bad",
    ["not-a-message-id", "<a b@c>", "<x@y>\r\nBcc: evil@example.com", "<=?utf-8?q?x?=@y>"],
)
def test_malformed_thread_ids_from_input_are_dropped(bad: str) -> None:
    """A broken Message-ID copied from the input never reaches a header; the notice still goes."""
    msg = build(make_notice(in_reply_to=bad, references=(bad, "<good@example.org>")))
    assert "In-Reply-To" not in msg
    assert msg["References"] == "<good@example.org>"


def test_non_ascii_text_is_encoded_and_reads_back_unchanged() -> None:
    """Names, subjects and bodies in any language survive; the wire form is 7-bit ASCII."""
    notice = make_notice(
        to_name="Jürgen Groß", subject="Ihr Drucker läuft wieder ✓", text="Grüße\n"
    )
    raw = build(notice).as_bytes()
    assert raw.isascii()
    msg = reparse(build(notice))
    assert msg["Subject"] == "Ihr Drucker läuft wieder ✓"
    assert msg["To"].addresses[0].display_name == "Jürgen Groß"
    assert body(msg) == "Grüße\n"


def test_naive_or_non_utc_now_is_refused() -> None:
    """Aware UTC only: a local or naive clock is a programming error caught early."""
    with pytest.raises(ValueError, match="UTC"):
        build_message(
            make_notice(), from_address="it@example.org", from_name="", now=NOW.replace(tzinfo=None)
        )
    cet = timezone(timedelta(hours=1))
    with pytest.raises(ValueError, match="UTC"):
        build_message(
            make_notice(), from_address="it@example.org", from_name="", now=NOW.astimezone(cet)
        )


# -- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "ann",
        "ann@",
        "@example.org",
        "ann@@example.org",
        "ann@exa mple.org",
        "ann@example.org\r\nBcc: evil@example.com",
        "ann@example.org, bob@example.org",
        "Ann <ann@example.org>",
        "jürgen@example.org",
    ],
)
def test_bad_to_address_is_a_permanent_error_naming_the_field(address: str) -> None:
    """An address that cannot go on the envelope fails the notice for good, saying why."""
    with pytest.raises(PermanentDeliveryError, match="to_email"):
        build(make_notice(to_email=address))


def test_bad_reply_to_is_a_permanent_error_naming_the_field() -> None:
    """A broken Reply-To is reported as such rather than sent half-formed."""
    with pytest.raises(PermanentDeliveryError, match="reply_to"):
        build(make_notice(reply_to="desk@example.org\nBcc: evil@example.com"))


# -- header injection --------------------------------------------------------------------------

INJECTIONS = [
    "Printer fixed\r\nBcc: evil@example.com",
    "Printer fixed\nBcc: evil@example.com",
    "Printer fixed\rBcc: evil@example.com",
    "Printer fixed\u2028Bcc: evil@example.com",
    "Printer fixed\x85Bcc: evil@example.com",
    "Printer fixed\x00\x0bBcc: evil@example.com",
    "=?utf-8?q?x=0D=0ABcc:_evil@example.com?=",
    "=?utf-8?b?eA0KQmNjOiBldmlsQGV4YW1wbGUuY29t?=",
    "before =?utf-8?q?x=0ABcc:_evil@example.com?= after",
    # an encoded word that decodes to another encoded word
    "=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3D0D=3D0ABcc:=5Fevil@example.com=3F=3D?=",
]


@pytest.mark.parametrize("subject", INJECTIONS)
def test_subject_injection_adds_no_header(subject: str) -> None:
    """CR/LF, Unicode line breaks and encoded words in a ticket title never become a header."""
    msg = build(make_notice(subject=subject))
    raw = msg.as_bytes()
    assert raw_header_names(raw) == BASE_HEADERS
    assert b"\r\nBcc:" not in raw
    parsed = reparse(msg)
    assert "Bcc" not in parsed
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert "Bcc: evil@example.com" in parsed["Subject"]  # shown as text, not dropped


@pytest.mark.parametrize("name", INJECTIONS)
def test_display_name_injection_adds_no_header(name: str) -> None:
    """The requester's name from the ticket cannot add headers or recipients either."""
    msg = build(make_notice(to_name=name), from_name=name)
    raw = msg.as_bytes()
    assert raw_header_names(raw) == BASE_HEADERS
    parsed = reparse(msg)
    assert "Bcc" not in parsed
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.org"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["it@example.org"]


def test_clean_header_text_keeps_ordinary_text_and_collapses_whitespace() -> None:
    """Cleaning does not alter normal titles beyond tidying whitespace."""
    assert clean_header_text("Your VPN works again") == "Your VPN works again"
    assert clean_header_text("  tabs\tand\r\n  breaks ") == "tabs and breaks"
    assert clean_header_text("a=?b") == "a=?b"


# Text built from encoded-word fragments finds registry decoding paths plain st.text() misses.
_FRAGMENTS = ["=?", "?=", "utf-8", "iso-8859-1", "?q?", "?Q?", "?b?", "=0D", "=0A", "DQo", "Cg"]
_FRAGMENTS += ["\r\n", "\n", "Bcc:", " ", "\t", "x", "_", '"', "<", ">", "@", ",", "\\"]
tricky_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=2))).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(subject=tricky_text, name=tricky_text)
def test_arbitrary_subject_and_name_never_yield_an_extra_header(subject: str, name: str) -> None:
    """Property: whatever text the ticket holds, the header block has exactly the expected
    fields, every line is ASCII, and the subject reads back as the cleaned text (give or take
    whitespace: CPython's folder can lose a space between two encoded words it splits)."""
    msg = build(make_notice(subject=subject, to_name=name))
    raw = msg.as_bytes()
    assert raw.isascii()
    assert raw_header_names(raw) == BASE_HEADERS
    parsed = reparse(msg)
    assert parsed["Subject"].replace(" ", "") == clean_header_text(subject).replace(" ", "")
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.org"]


@settings(max_examples=200, deadline=None)
@given(tricky_text)
def test_clean_header_text_is_idempotent_and_control_free(value: str) -> None:
    """Property: cleaned text has no control characters and cleaning it again changes nothing."""
    cleaned = clean_header_text(value)
    assert clean_header_text(cleaned) == cleaned
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in cleaned)


# -- bidi overrides and invisible characters ------------------------------------------------------

FORMAT_CHARS = "\u202e\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
FORMAT_CHARS += "\u200b\u200c\u200d\u2060\ufeff\xad\U000e0041"  # zero-width, BOM, soft hyphen, tag


def _format_chars(text: str) -> list[str]:
    return [f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cf"]


@pytest.mark.parametrize("char", list(FORMAT_CHARS))
def test_subject_and_display_names_carry_no_bidi_or_invisible_character(char: str) -> None:
    """A title "Invoice \u202egpj.exe" would show as "Invoice exe.jpg": the Subject, the To
    name and the From name go out without format characters (both writers)."""
    notice = make_notice(subject=f"Invoice {char}gpj.exe", to_name=f"Ann{char} Lee")
    for raw in (
        build(notice, from_name=f"IT {char}Desk").as_bytes(),
        message_bytes(notice, from_address="it@example.org", from_name=f"IT {char}Desk", now=NOW),
    ):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert _format_chars(parsed["Subject"]) == []
        assert parsed["Subject"] == "Invoice gpj.exe"
        assert parsed["To"].addresses[0].display_name == "Ann Lee"
        assert parsed["From"].addresses[0].display_name == "IT Desk"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*FORMAT_CHARS, "a", " ", "=?", "?=", "\r\n", "?q?"])).map("".join))
def test_clean_header_text_leaves_no_format_character(value: str) -> None:
    assert _format_chars(clean_header_text(value)) == []
