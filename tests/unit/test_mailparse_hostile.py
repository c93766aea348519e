"""Hostile and broken mail: parse_mail returns a ParsedMail or raises InputError, nothing else.

Guards the IMAP source's promise that one bad message is recorded with a reason and never stops
the daemon or hides the next good message.
"""

from __future__ import annotations

import base64
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.core.errors import InputError
from notifier.sources.mail.parse import parse_mail
from notifier.sources.mail.types import MailLimits, ParsedMail

HOSTILE = Path(__file__).parents[1] / "data" / "mail" / "hostile"
LINE_BREAKS = (
    "\r",
    "\n",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
)


def one_line_everywhere(parsed: ParsedMail) -> None:
    """Assert that no decoded header value can carry a line break (header injection)."""
    values = [parsed.subject, parsed.message_id, parsed.in_reply_to, parsed.return_path or ""]
    values += list(parsed.references)
    for address in (parsed.sender, *parsed.to, *parsed.cc, *parsed.reply_to):
        values += [address.name, address.address]
    for header_values in parsed.headers.values():
        values += list(header_values)
    for value in values:
        assert not any(ch in value for ch in LINE_BREAKS), repr(value)
        assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0 for ch in value), repr(value)


def parse_or_reason(raw: bytes, **limits: int) -> ParsedMail | InputError:
    try:
        parsed = parse_mail(raw, origin="hostile", limits=MailLimits(**limits))
    except InputError as exc:
        assert exc.origin == "hostile" and exc.reason
        return exc
    one_line_everywhere(parsed)
    return parsed


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*.eml")), ids=lambda p: p.name)
def test_every_hostile_sample_gives_a_result_or_a_reason(path: Path) -> None:
    """Each sample under tests/data/mail/hostile parses or raises InputError with a reason."""
    parse_or_reason(path.read_bytes())


def test_encoded_line_breaks_cannot_inject_headers() -> None:
    """CR LF hidden in encoded words (Subject, From and Reply-To names) become spaces."""
    parsed = parse_mail((HOSTILE / "header_injection.eml").read_bytes(), origin="t")
    assert parsed.subject == "x Bcc: evil@example.com"
    assert parsed.sender.name == "Helpdesk Bcc: evil@example.com"
    assert parsed.sender.address == "helpdesk@servicedesk.example.org"
    assert parsed.reply_to[0].name == "Anna To: evil@example.com"
    assert parsed.reply_to[0].address == "anna.berg@example.org"
    assert parsed.header("x-ticket") == "1 end"  # NUL, VT, FF, ESC, DEL, NEL, LS, PS
    assert "bcc" not in parsed.headers


def test_no_from_is_an_empty_sender_with_a_defect() -> None:
    """A message without From parses; the sender is empty and the defect says why."""
    parsed = parse_mail((HOSTILE / "no_from.eml").read_bytes(), origin="t")
    assert (parsed.sender.name, parsed.sender.address) == ("", "")
    assert "no From header" in parsed.defects


def test_invalid_addresses_are_empty_not_guessed() -> None:
    """Unparseable addresses give address "" (the display name survives), ids and date nothing."""
    parsed = parse_mail((HOSTILE / "invalid_addresses.eml").read_bytes(), origin="t")
    assert (parsed.sender.name, parsed.sender.address) == ("Helpdesk", "")
    assert all(
        "@" in a.address and " " not in a.address for a in parsed.to + parsed.cc if a.address
    )
    assert parsed.reply_to == ()
    assert parsed.message_id == "" and parsed.in_reply_to == ""
    assert parsed.date is None
    assert "From: invalid address" in parsed.defects


def test_nul_bytes_in_headers_and_body_become_spaces() -> None:
    """NUL in a header value or the body never reaches the result."""
    parsed = parse_mail((HOSTILE / "nul_bytes.eml").read_bytes(), origin="t")
    assert parsed.subject == "NUL byte in the subject"
    assert parsed.header("x-note") == "a b"
    assert "\x00" not in parsed.text and "Ticket #9" in parsed.text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "message is empty"),
        (b" \r\n\r\n", "message is empty"),
        ((HOSTILE / "binary_garbage.eml").read_bytes(), "no mail headers found"),
        (b"\r\n\r\nbody without headers", "no mail headers found"),
    ],
)
def test_empty_and_garbage_input_is_an_input_error(raw: bytes, reason: str) -> None:
    """Nothing, or bytes that are no message, is refused with a clear reason."""
    with pytest.raises(InputError, match=reason):
        parse_mail(raw, origin="t")


def nested(levels: int, *, leaf: bytes = b"deep text") -> bytes:
    """A message with ``levels`` nested multipart/mixed parts and one text part at the bottom."""
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(levels)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(levels)))
    return (
        b"From: a@example.org\r\nSubject: deep\r\n"
        + opening
        + b"Content-Type: text/plain\r\n\r\n"
        + leaf
        + closing
    )


def test_fifty_levels_of_nesting_stop_at_the_limit() -> None:
    """A 50-level multipart stops at max_depth with a defect; headers are still returned."""
    parsed = parse_or_reason(nested(50))
    assert isinstance(parsed, ParsedMail)
    assert parsed.subject == "deep"
    assert parsed.text == ""
    assert any("nesting deeper than 20 levels" in d for d in parsed.defects)


def test_nesting_is_walked_without_recursion() -> None:
    """2,000 levels (twice Python's recursion limit) are walked when the limits allow it."""
    parsed = parse_or_reason(nested(2000), max_depth=5000, max_parts=5000)
    assert isinstance(parsed, ParsedMail)
    assert parsed.text == "deep text"


def test_thirty_megabyte_message_is_refused_by_size() -> None:
    """A 30 MB attachment puts the message over the 25 MB default and gives a clear reason."""
    raw = (
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"QUFB" * (30 * 1024 * 1024 // 4)
        + b"\r\n--b--\r\n"
    )
    with pytest.raises(InputError, match=r"message is 30 MB, over the 25 MB limit"):
        parse_mail(raw, origin="t")


def test_ten_megabyte_attachment_is_never_decoded() -> None:
    """A 10 MB attachment under the limit costs neither decoding time nor a copy in memory."""
    line = b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
    raw = (
        b"From: a@example.org\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
        b"--b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=big.zip\r\n\r\n"
        + line * (10 * 1024 * 1024 // len(line))
        + b"--b--\r\n"
    )
    tracemalloc.start()
    started = time.perf_counter()
    try:
        parsed = parse_mail(raw, origin="t")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.text == "see attachment"
    assert peak < 1024 * 1024, f"peak {peak} bytes: the attachment was copied or decoded"
    assert elapsed < 1.0


def test_huge_text_part_decodes_only_the_text_budget() -> None:
    """A 20 MB base64 text body is decoded only as far as max_text_chars needs."""
    raw = (
        b"From: a@example.org\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"QUFB\r\n" * (20 * 1024 * 1024 // 6)
    )
    started = time.perf_counter()
    parsed = parse_mail(raw, origin="t")
    assert len(parsed.text) == MailLimits().max_text_chars
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "header",
    [
        b"From: " + b"(" * 50_000 + b"a@example.org\r\n",
        b"To: " + b"<" * 50_000 + b"\r\n",
        b"To: " + b"a@example.org, " * 3000 + b"\r\n",
        b"Content-Type: text/plain; " + b'a="b;' * 20_000 + b"\r\n",
        b"Subject: " + b"=?utf-8?q?=E2=82?=" * 20_000 + b"\r\n",
        b"References: " + b"<a@b> " * 50_000 + b"\r\n",
        b"Content-Type: multipart/mixed\r\n",
        b"Content-Type: multipart/mixed; boundary=\r\n",
        b"Content-Type: multipart/mixed; boundary=never-used\r\n",
        b"Content-Type: text/plain; charset=" + b"x" * 10_000 + b"\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n",
        b"Content-Type: text/html\r\n",
        b" continuation first\r\nSubject: x\r\n",
        b"Subject: \xff\xfe\xc3(\r\n",
    ],
)
def test_pathological_headers_are_survived_quickly(header: bytes) -> None:
    """Deep comments, huge lists, unterminated quotes, broken boundaries: fast, no crash."""
    raw = b"From: a@example.org\r\n" + header + b"\r\n" + b"<!--" * 20_000 + b"\xff\xfe body =\r\n"
    started = time.perf_counter()
    parse_or_reason(raw)
    assert time.perf_counter() - started < 2.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_result_or_an_input_error(raw: bytes) -> None:
    """Whatever the bytes, the only exception is InputError and no value holds a line break."""
    parse_or_reason(raw)


PIECES = ["=?", "?=", "=?utf-8?q?", "=?utf-8?b?", "?q?", "\r\n", "\r\n ", "=0D=0A", "=00", "<", ">"]
PIECES += ['"', ",", ":", ";", "@", "(", ")", "\\", "a@example.org", "boundary=", "charset="]
HEADER_TEXT = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(PIECES), max_size=20
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    subject=HEADER_TEXT,
    sender=HEADER_TEXT,
    to=HEADER_TEXT,
    content_type=HEADER_TEXT,
    body=st.binary(max_size=200),
)
def test_arbitrary_header_text_never_breaks_a_line(
    subject: str, sender: str, to: str, content_type: str, body: bytes
) -> None:
    """Random header text (with encoded-word pieces and raw CR LF) decodes to single lines."""
    raw = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nContent-Type: {content_type}\r\n"
        f"Subject: =?utf-8?q?{subject}?=\r\n\r\n"
    ).encode("utf-8", errors="surrogateescape") + body
    parse_or_reason(raw)


MIME_PIECES = [
    b"--b\r\n",
    b"--b--\r\n",
    b"--c\r\n",
    b"\r\n",
    b"Content-Type: multipart/mixed; boundary=c\r\n",
    b"Content-Type: multipart/alternative; boundary=b\r\n",
    b"Content-Type: text/html; charset=koi8-r\r\n",
    b"Content-Type: text/plain; charset*=utf-8''x\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment\r\n",
    b"<p>text<a href='http://x'>link</a>",
    b"=C3=A9=\r\n",
    b"w6k=\r\n",
    b"\xff\x00\x85",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MIME_PIECES) | st.binary(max_size=8), max_size=40))
def test_arbitrary_mime_structure_gives_a_result_or_an_input_error(pieces: list[bytes]) -> None:
    """Random boundaries, part headers and encodings under a multipart exercise the walker."""
    raw = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"".join(
        pieces
    )
    result = parse_or_reason(raw, max_parts=10, max_depth=3, max_text_chars=50)
    if isinstance(result, ParsedMail):
        assert len(result.text) <= 50


# A charset that can spell a lone surrogate: UTF-7 ("+2AA-" is U+D800) and UTF-16 halves.
SURROGATE_SPELLINGS = [
    ("utf-7", b"+2AA-"),
    ("utf-7", b"+3/8-"),
    ("utf-16-be", "\ud800".encode("utf-16-be", "surrogatepass")),
    ("utf-32-le", "\udcff".encode("utf-32-le", "surrogatepass")),
]


def every_text(parsed: ParsedMail) -> list[str]:
    values = [parsed.subject, parsed.text, parsed.html_text or "", *parsed.defects]
    for address in (parsed.sender, *parsed.to, *parsed.cc, *parsed.reply_to):
        values += [address.name, address.address]
    for header_values in parsed.headers.values():
        values += list(header_values)
    return values


@pytest.mark.parametrize(("charset", "spelled"), SURROGATE_SPELLINGS)
def test_no_charset_can_smuggle_a_lone_surrogate_into_the_text(
    charset: str, spelled: bytes
) -> None:
    """A lone surrogate cannot be stored (SQLite) or mailed (UTF-8): it used to reach the
    subject, the requester's name and the body, and crash the pass that stored or sent it.
    Each one becomes U+FFFD, the replacement character, and the mail is read as usual."""
    encoded = base64.b64encode(spelled).decode()
    raw = (
        (
            f"From: =?{charset}?b?{encoded}?= <ann@example.org>\r\n"
            f"To: it@example.org\r\nSubject: Resolved =?{charset}?b?{encoded}?=\r\n"
            f"Message-ID: <s@example.org>\r\nContent-Type: text/plain; charset={charset}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + base64.b64encode(spelled)
        + b"\r\n"
    )
    parsed = parse_mail(raw, origin="t")
    for value in every_text(parsed):
        assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value), repr(value)
        value.encode("utf-8")  # storable and mailable
    assert parsed.sender.address == "ann@example.org"
    assert parsed.subject.startswith("Resolved")
