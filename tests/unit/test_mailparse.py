"""parse_mail turns well-formed (and merely sloppy) messages into the right ParsedMail fields."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest

from notifier.core.errors import InputError
from notifier.sources.mail.parse import decode_header_value, parse_mail
from notifier.sources.mail.types import MailAddress, MailLimits

HEAD = (
    b"From: Service Desk <helpdesk@servicedesk.example.org>\r\n"
    b"To: it-helpdesk@example.org\r\n"
    b"Subject: Ticket resolved\r\n"
    b"Date: Tue, 05 Mar 2024 14:20:00 +0000\r\n"
    b"Message-ID: <m1@servicedesk.example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def mail(headers: bytes, body: bytes, *, base: bytes = HEAD) -> bytes:
    return base + headers + b"\r\n" + body


ALTERNATIVE = mail(
    b'Content-Type: multipart/alternative; boundary="alt"\r\n',
    b"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain words.\r\n"
    b"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML <b>words</b>.</p>\r\n"
    b"--alt--\r\n",
)
ALTERNATIVE_HTML_FIRST = mail(
    b'Content-Type: multipart/alternative; boundary="alt"\r\n',
    b"--alt\r\nContent-Type: text/html\r\n\r\n<p>HTML</p>\r\n"
    b"--alt\r\nContent-Type: text/plain\r\n\r\nPlain.\r\n--alt--\r\n",
)
MIXED_RELATED = mail(
    b'Content-Type: multipart/mixed; boundary="mix"\r\n',
    b"preamble is ignored\r\n"
    b'--mix\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n'
    b'--rel\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
    b"--alt\r\nContent-Type: text/html\r\n\r\n<p>Only HTML here</p><img src=cid:logo>\r\n"
    b"--alt--\r\n"
    b"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--rel--\r\n"
    b"--mix\r\nContent-Type: text/plain; name=log.txt\r\n"
    b"Content-Disposition: attachment; filename=log.txt\r\n\r\nattached log, not the body\r\n"
    b"--mix\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: forwarded\r\nContent-Type: text/plain\r\n\r\nforwarded text, not the body\r\n"
    b"--mix--\r\nepilogue is ignored\r\n",
)
HTML_ONLY = mail(
    b"Content-Type: text/html; charset=utf-8\r\n",
    b"<html><head><style>p {color: red}</style></head><body>"
    b"<p>Ticket&nbsp;#42 is <b>resolved</b>.</p><ul><li>one</li><li>two</li></ul></body></html>",
)
QUOTED_PRINTABLE = mail(
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    b"Gr=C3=BC=C3=9Fe, the printer is f=\r\nixed =3D done.\r\n",
)
BASE64_BODY = mail(
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
    base64.encodebytes("Résolu : l'imprimante marche.\n".encode()),
)
ISO_2022_JP = mail(
    b"Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n"
    b"Content-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: 7bit\r\n",
    "解決しました".encode("iso-2022-jp"),
    base=HEAD.replace(b"Subject: Ticket resolved\r\n", b""),
)
WINDOWS_1252 = mail(
    b"Subject: =?windows-1252?q?=93Caf=E9=94_=96_fixed?=\r\n"
    b"Content-Type: text/plain; charset=windows-1252\r\n",
    "“Café” – fixed €5".encode("cp1252"),
    base=HEAD.replace(b"Subject: Ticket resolved\r\n", b""),
)
KOI8_R = mail(
    b"Subject: =?koi8-r?b?" + base64.b64encode("Заявка решена".encode("koi8-r")) + b"?=\r\n"
    b"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n",
    "Принтер работает.".encode("koi8-r"),
    base=HEAD.replace(b"Subject: Ticket resolved\r\n", b""),
)
SHIFT_JIS_BASE64 = mail(
    b"Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n",
    base64.encodebytes("プリンターは直りました".encode("shift_jis")),
)
UTF16 = mail(
    b"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n",
    base64.encodebytes("Fixed.".encode("utf-16")),
)
WRONG_CHARSET = mail(  # declared ASCII, really UTF-8: the most common lie
    b"Content-Type: text/plain; charset=us-ascii\r\n", "Grüße aus der IT".encode()
)
WRONG_CHARSET_LATIN = mail(  # declared UTF-8, really windows-1252
    b"Content-Type: text/plain; charset=utf-8\r\n", "Grüße".encode("cp1252")
)
UNKNOWN_CHARSET = mail(b"Content-Type: text/plain; charset=x-klingon\r\n", "Grüße".encode())
NOT_A_CHARSET = mail(b"Content-Type: text/plain; charset=zlib_codec\r\n", "Grüße".encode())
NO_CONTENT_TYPE = mail(b"", b"Just text.\n")
FLOWED = mail(
    b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n",
    b"This line was wrapped \r\nby the client.\r\n> quoted \r\n> text\r\n\r\n-- \r\nsig\r\n",
)
RFC2231 = mail(
    b'Content-Type: multipart/mixed; boundary="m"\r\n',
    b"--m\r\nContent-Type: text/plain; charset*=utf-8''utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Körper".encode() + b"\r\n"
    b"--m\r\nContent-Type: text/plain\r\n"
    b"Content-Disposition: attachment; filename*0*=utf-8''R%C3%A9;"
    b" filename*1=sum%C3%A9.txt\r\n\r\nnot the body\r\n--m--\r\n",
)

BODIES = [
    ("multipart/alternative prefers text/plain", ALTERNATIVE, "Plain words."),
    ("alternative order does not matter", ALTERNATIVE_HTML_FIRST, "Plain."),
    ("HTML in related/mixed, attachments skipped", MIXED_RELATED, "Only HTML here"),
    ("HTML-only converted", HTML_ONLY, "Ticket #42 is resolved.\n\n- one\n- two"),
    ("quoted-printable with soft breaks", QUOTED_PRINTABLE, "Grüße, the printer is fixed = done."),
    ("base64", BASE64_BODY, "Résolu : l'imprimante marche."),
    ("iso-2022-jp", ISO_2022_JP, "解決しました"),
    ("windows-1252", WINDOWS_1252, "“Café” – fixed €5"),
    ("koi8-r", KOI8_R, "Принтер работает."),
    ("shift_jis in base64", SHIFT_JIS_BASE64, "プリンターは直りました"),
    ("utf-16 with BOM", UTF16, "Fixed."),
    ("us-ascii that is UTF-8", WRONG_CHARSET, "Grüße aus der IT"),
    ("utf-8 that is windows-1252", WRONG_CHARSET_LATIN, "Grüße"),
    ("unknown charset falls back", UNKNOWN_CHARSET, "Grüße"),
    ("a codec that is no charset is refused", NOT_A_CHARSET, "Grüße"),
    ("no Content-Type is text/plain", NO_CONTENT_TYPE, "Just text."),
    (
        "format=flowed joined",
        FLOWED,
        "This line was wrapped by the client.\n> quoted text\n\n-- \nsig",
    ),
    ("RFC 2231 charset, attachment name", RFC2231, "Körper"),
]


@pytest.mark.parametrize(
    ("raw", "text"), [(r, t) for _, r, t in BODIES], ids=[n for n, _, _ in BODIES]
)
def test_body_text_is_the_readable_part_decoded(raw: bytes, text: str) -> None:
    """Each MIME shape, transfer encoding and charset yields the body a person would read."""
    assert parse_mail(raw, origin="t").text == text


@pytest.mark.parametrize(
    ("raw", "html_text"),
    [
        (ALTERNATIVE, "HTML words."),
        (ALTERNATIVE_HTML_FIRST, "HTML"),
        (HTML_ONLY, ""),  # the body itself came from the HTML
        (MIXED_RELATED, ""),
        (NO_CONTENT_TYPE, ""),
    ],
)
def test_html_alternative_of_a_plain_body_is_kept_as_text(raw: bytes, html_text: str) -> None:
    """Beside a text/plain body, the HTML part converted to text: some senders put facts only
    there (FreeScout puts the customer's address only in the HTML part)."""
    assert parse_mail(raw, origin="t").html_text == html_text


@pytest.mark.parametrize(
    ("raw", "subject"),
    [
        (ISO_2022_JP, "こんにちは"),
        (WINDOWS_1252, "“Café” – fixed"),
        (KOI8_R, "Заявка решена"),
        (mail(b"Subject: =?utf-8?q?Caf=C3=A9?= =?utf-8?q?_ok?=\r\n", b""), None),
    ],
)
def test_encoded_subjects_are_decoded(raw: bytes, subject: str | None) -> None:
    """RFC 2047 subjects in several charsets decode; adjacent words join without the space."""
    parsed = parse_mail(raw, origin="t")
    if subject is not None:
        assert parsed.subject == subject
    else:
        assert parsed.headers["subject"] == ("Ticket resolved", "Café ok")


def test_charset_fallback_is_noted_as_a_defect() -> None:
    """A wrong or unknown charset is survivable but recorded, so a person can see why text looks odd."""
    assert any("us-ascii" in d for d in parse_mail(WRONG_CHARSET, origin="t").defects)
    assert any("x-klingon" in d for d in parse_mail(UNKNOWN_CHARSET, origin="t").defects)
    assert any("zlib" in d for d in parse_mail(NOT_A_CHARSET, origin="t").defects)


def test_fields_of_a_typical_notification() -> None:
    """Every ParsedMail field is filled from its header: ids, addresses, date, type, size."""
    raw = (
        b"Return-Path: <Helpdesk@ServiceDesk.Example.org>\n"
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@ServiceDesk.EXAMPLE.org>\n"
        b'To: "Berg, Anna" <anna.berg@example.org>, it@example.org\n'
        b"Cc: =?iso-8859-1?q?Ren=E9?= <rene@example.org>\n"
        b"Reply-To: noreply@servicedesk.example.org\n"
        b"Subject: Re: [#42] Printer\n fixed\n"
        b"Date: Tue, 05 Mar 2024 15:22:00 +0100\n"
        b"Message-ID:\n <abc.123@servicedesk.example.org>\n"
        b"In-Reply-To: <req-1@example.org> (Anna's message)\n"
        b"References: <root@example.org>\n\t<req-1@example.org> <root@example.org>\n"
        b"X-Custom: one\nX-Custom: two\n"
        b"Content-Type: multipart/report; report-type=Delivery-Status; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nreport text\n--b--\n"
    )
    parsed = parse_mail(raw, origin="INBOX uid 7")
    assert parsed.origin == "INBOX uid 7"
    assert parsed.message_id == "<abc.123@servicedesk.example.org>"
    assert parsed.in_reply_to == "<req-1@example.org>"
    assert parsed.references == ("<root@example.org>", "<req-1@example.org>")
    assert parsed.subject == "Re: [#42] Printer fixed"
    assert parsed.sender == MailAddress("Jörg Müller", "Joerg@servicedesk.example.org")
    assert parsed.to == (
        MailAddress("Berg, Anna", "anna.berg@example.org"),
        MailAddress("", "it@example.org"),
    )
    assert parsed.cc == (MailAddress("René", "rene@example.org"),)
    assert parsed.reply_to == (MailAddress("", "noreply@servicedesk.example.org"),)
    assert parsed.return_path == "Helpdesk@servicedesk.example.org"
    assert parsed.date == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)
    assert parsed.date is not None and parsed.date.tzinfo is UTC
    assert parsed.content_type == "multipart/report"
    assert parsed.report_type == "delivery-status"
    assert parsed.headers["x-custom"] == ("one", "two")
    assert parsed.header("X-CUSTOM") == "one"
    assert parsed.text == "report text"
    assert parsed.size == len(raw)
    assert parsed.defects == ()


@pytest.mark.parametrize(
    ("header", "expected", "defect"),
    [
        (b"", None, "no Date header"),
        (b"Date: yesterday-ish\r\n", None, "unreadable Date"),
        (
            b"Date: Tue, 05 Mar 2024 14:20:00 -0000\r\n",
            datetime(2024, 3, 5, 14, 20, tzinfo=UTC),
            "",
        ),
        (b"Date: 5 Mar 2024 09:20 EST\r\n", datetime(2024, 3, 5, 14, 20, tzinfo=UTC), ""),
        (b"Date: Tue, 05 Mar 99999 14:20:00 +0000\r\n", None, "unreadable Date"),
    ],
)
def test_date_is_aware_utc_or_none(header: bytes, expected: datetime | None, defect: str) -> None:
    """Missing, garbage and zone-less dates never raise; good ones become aware UTC."""
    raw = mail(header, b"x", base=HEAD.replace(b"Date: Tue, 05 Mar 2024 14:20:00 +0000\r\n", b""))
    parsed = parse_mail(raw, origin="t")
    assert parsed.date == expected
    if expected is not None:
        assert parsed.date is not None and parsed.date.utcoffset() is not None
    if defect:
        assert any(defect in d for d in parsed.defects)


@pytest.mark.parametrize(
    ("header", "message_id"),
    [
        (b"", ""),
        (b"Message-ID: <a@b>\r\n", "<a@b>"),
        (b"Message-ID: a@b\r\n", "<a@b>"),
        (b"Message-ID: not an id at all\r\n", ""),
        (b"Message-ID: <>\r\n", ""),
    ],
)
def test_message_id_is_normalised_or_empty(header: bytes, message_id: str) -> None:
    """Message-ID is "<...>" or "": absent and garbage ids never leak through as text."""
    raw = mail(
        header, b"x", base=HEAD.replace(b"Message-ID: <m1@servicedesk.example.org>\r\n", b"")
    )
    assert parse_mail(raw, origin="t").message_id == message_id


def test_references_keep_order_and_drop_junk() -> None:
    """References yields every msg-id oldest first, once each, ignoring text between them."""
    raw = mail(
        b"References: junk <a@x> <b@x>,<c@x>\r\n (comment) <a@x>\r\nIn-Reply-To: Anna's\r\n", b""
    )
    parsed = parse_mail(raw, origin="t")
    assert parsed.references == ("<a@x>", "<b@x>", "<c@x>")
    assert parsed.in_reply_to == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"<>", ""),
        (b"< >", ""),
        (b"<Bounce@Example.ORG>", "Bounce@example.org"),
    ],
)
def test_return_path_null_and_address(value: bytes, expected: str) -> None:
    """Return-Path "<>" is "" (the null path); absent is None; an address is kept."""
    assert (
        parse_mail(mail(b"Return-Path: " + value + b"\r\n", b""), origin="t").return_path
        == expected
    )
    assert parse_mail(mail(b"", b""), origin="t").return_path is None


def test_display_names_malformed_encoded_words_stay_readable() -> None:
    """Encoded words inside quotes, with bad base64 or an unknown charset do not break parsing."""
    raw = mail(
        b'Cc: "=?utf-8?b?SsO2cmc=?=" <j@example.org>, =?utf-8?b?!!!?= <k@example.org>,'
        b" =?x-none?q?R=E9ne?= <r@example.org>, =?utf-8?q?broken <b@example.org>\r\n",
        b"",
    )
    names = [a.name for a in parse_mail(raw, origin="t").cc]
    assert names[0] == "Jörg"
    assert names[2] == "Réne"
    assert [a.address for a in parse_mail(raw, origin="t").cc] == [
        "j@example.org",
        "k@example.org",
        "r@example.org",
        "b@example.org",
    ]


def test_decode_header_value_is_one_clean_line() -> None:
    """The public decoder turns encoded CR/LF/TAB into spaces and collapses them."""
    assert decode_header_value("=?utf-8?q?a=0D=0A=09b?=  c\r\n d") == "a b c d"


def test_over_the_size_limit_is_an_input_error_in_clear_words() -> None:
    """A message over max_bytes is refused before parsing, naming both sizes."""
    raw = mail(b"", b"x" * (3 * 1024 * 1024))
    with pytest.raises(InputError) as caught:
        parse_mail(raw, origin="INBOX uid 9", limits=MailLimits(max_bytes=2 * 1024 * 1024))
    assert caught.value.origin == "INBOX uid 9"
    assert caught.value.reason == "message is 3 MB, over the 2 MB limit"


def test_long_body_is_truncated_with_a_defect() -> None:
    """Body text is cut at max_text_chars and the cut is recorded."""
    parsed = parse_mail(
        mail(b"", b"word " * 10_000), origin="t", limits=MailLimits(max_text_chars=100)
    )
    assert len(parsed.text) == 100
    assert any("truncated" in d for d in parsed.defects)


def test_too_many_parts_stops_walking_but_keeps_what_was_found() -> None:
    """Past max_parts the walk stops with a defect; headers and earlier text are still returned."""
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(50))
    raw = mail(b"Content-Type: multipart/mixed; boundary=b\r\n", parts + b"--b--\r\n")
    parsed = parse_mail(raw, origin="t", limits=MailLimits(max_parts=5))
    assert parsed.subject == "Ticket resolved"
    assert parsed.text == "part 0\n\npart 1\n\npart 2\n\npart 3"
    assert any("more than 5 MIME parts" in d for d in parsed.defects)


def test_typical_notification_parses_well_under_a_millisecond() -> None:
    """A 10 KB notification parses fast (generous bound: 5 ms on average, on a slow CI box)."""
    body = (b"Ticket #42 was resolved by Tom. The printer works again.\r\n" * 170)[:10_000]
    raw = mail(b"Content-Type: text/plain; charset=utf-8\r\n", body)
    parse_mail(raw, origin="t")
    started = time.perf_counter()
    for _ in range(50):
        parse_mail(raw, origin="t")
    assert (time.perf_counter() - started) / 50 < 0.005


def test_every_from_address_is_kept_so_a_list_can_be_refused_as_requester() -> None:
    """``sender`` is the first From address; ``senders`` has them all (the mail rules refuse a
    From list where they look for the requester)."""
    raw = mail(b"", b"", base=HEAD.replace(b"From: ", b"From: Evil <evil@example.com>, ", 1))
    parsed = parse_mail(raw, origin="t")
    assert len(parsed.senders) == 2 and parsed.sender == parsed.senders[0]
    assert parsed.senders[0].address == "evil@example.com"
