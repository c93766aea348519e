"""Unit tests for notifier.delivery.message.message_bytes: the fast writer produces exactly what
build_message serialises, takes the fast path for ordinary notices, and stays injection-proof."""

from __future__ import annotations

import email
import email.policy
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from notifier.core.errors import PermanentDeliveryError
from notifier.core.model import Notice
from notifier.delivery import message
from notifier.delivery.message import POLICY, build_message, message_bytes
from tests.notices import BASE_HEADERS, make_notice
from tests.unit.test_message import INJECTIONS, raw_header_names, tricky_text

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
FROM_ADDRESS = "it@example.org"
FROM_NAME = "IT Service Desk"
# The random multipart boundary (email.generator._make_boundary), replaced before comparing.
_BOUNDARY = re.compile(rb"={15}\d+==(?:\.\d+)?")

Outcome = bytes | tuple[type[BaseException], str]


def slow(notice: Notice, from_address: str, from_name: str, now: datetime) -> bytes:
    msg = build_message(notice, from_address=from_address, from_name=from_name, now=now)
    return msg.as_bytes(policy=POLICY)


def fast(notice: Notice, from_address: str, from_name: str, now: datetime) -> bytes:
    return message_bytes(notice, from_address=from_address, from_name=from_name, now=now)


def fast_path_bytes(
    notice: Notice,
    from_address: str = FROM_ADDRESS,
    from_name: str = FROM_NAME,
    now: datetime = NOW,
) -> bytes | None:
    """What the fast writer alone makes of ``notice`` (None: it leaves it to the email package)."""
    fields = message._checked_fields(notice, from_address, from_name, now)
    return message._fast_bytes(notice, fields, from_address, from_name)


def outcome(write: Callable[[], bytes]) -> Outcome:
    """The bytes, or the exception's type and message, with the MIME boundary normalised."""
    try:
        return _BOUNDARY.sub(b"BOUNDARY", write())
    except Exception as exc:
        return (type(exc), str(exc))


# -- property: same bytes, same errors ---------------------------------------------------------

# Each case is a dict of build arguments: the notice's fields plus the sender and the clock.
# Ordinary values keep most cases on the fast path (ASCII near the 78-character limits);
# hostile ones cover what it must decline or reject; mixed cases change a few fields.

_ASCII_TEXT = string.ascii_letters + string.digits + string.punctuation + " "
_PLAIN_ID = r"<[A-Za-z0-9=+$_-]{1,32}(?:\.[a-z0-9]{1,8}){0,2}@[a-z0-9]{1,16}(?:\.[a-z]{2,8}){1,2}>"
plain_ids = st.from_regex(_PLAIN_ID, fullmatch=True)
plain_addresses = st.from_regex(
    r"[a-z0-9_+-]{1,12}(?:\.[a-z0-9]{1,8})?@[a-z0-9][a-z0-9-]{0,12}\.(?:org|com|de)", fullmatch=True
)
# Tab, VT, FF and FS are ASCII too; str.splitlines would split at the last three, set_content
# (bytes.splitlines) does not.
ordinary_lines = st.lists(st.text(alphabet=_ASCII_TEXT + "\t\x0b\x0c\x1c", max_size=82), max_size=6)

ordinary = st.fixed_dictionaries(
    {
        "to_email": plain_addresses,
        "to_name": st.one_of(
            st.lists(st.from_regex(r"[A-Za-z][A-Za-z.'-]{0,14}", fullmatch=True), max_size=5).map(
                " ".join
            ),
            st.text(alphabet=_ASCII_TEXT, max_size=40),  # mostly not plain: re-read, slow path
        ),
        "subject": st.text(alphabet=_ASCII_TEXT, min_size=1, max_size=75),
        "text": st.tuples(ordinary_lines, st.sampled_from(["\n", "\r\n"])).map(
            lambda lines_nl: lines_nl[1].join([*lines_nl[0], ""])
        ),
        "html": st.none(),
        "message_id": plain_ids,
        "in_reply_to": st.one_of(st.just(""), plain_ids),
        "references": st.lists(plain_ids, max_size=2).map(tuple),
        "reply_to": st.one_of(st.just(""), plain_addresses),
        "from_address": st.just(FROM_ADDRESS),
        "from_name": st.sampled_from([FROM_NAME, "", "Service-Desk Zürich", "IT, Desk"]),
        "now": st.sampled_from([NOW, NOW.replace(microsecond=654321), NOW + timedelta(days=200)]),
    }
)

header_text = st.one_of(
    tricky_text,
    st.sampled_from(["", "J. Smith", "Doe, Jane", "O'Brien", "Jürgen Groß", "a=?b", "a" * 80]),
)
addresses = st.one_of(
    st.sampled_from(
        [
            "x@a.-b",
            '"q u"@example.org',
            "o'k@example.org",
            "ann",
            "ann@@example.org",
            "jürgen@example.org",
            "ann@example.org\r\nBcc: evil@example.com",
            "",
            "u" * 60 + "@" + "d" * 20 + ".org",
        ]
    ),
    st.from_regex(r"[a-z0-9._+'-]{1,20}@[a-z0-9.-]{1,20}", fullmatch=True),
)
msg_ids = st.one_of(
    st.sampled_from(
        [
            "<CAF=x+y/z@mail.gmail.com>",
            "<a(x)@b>",
            "<a@b,c>",
            "<a b@c>",
            "<=?utf-8?q?x?=@y>",
            "<x@y>\r\nBcc: evil@example.com",
            "not-a-message-id",
            "<" + "x" * 70 + "@example.org>",
        ]
    ),
    st.from_regex(r"<[!-;=?A-~]{1,30}@[!-;=?A-~]{1,30}>", fullmatch=True),
)
_ANY_ASCII_LINES = st.lists(st.text(alphabet=string.printable, max_size=90), max_size=6)
bodies = st.one_of(
    st.tuples(_ANY_ASCII_LINES, st.sampled_from(["\n", "\r\n", "\r", ""])).map(
        lambda lines_nl: lines_nl[1].join(lines_nl[0])
    ),
    st.text(max_size=200),
    st.sampled_from(["", "a\x0bb\x0cc\x1cd\n", "x" * 78 + "\n", "x" * 79, "Grüße\n"]),
)
hostile = st.fixed_dictionaries(
    {
        "to_email": addresses,
        "to_name": header_text,
        "subject": header_text,
        "text": bodies,
        "html": st.one_of(st.just("<p>Your printer works.</p>"), st.text(max_size=20)),
        "message_id": msg_ids,
        "in_reply_to": msg_ids,
        "references": st.lists(msg_ids, min_size=1, max_size=4).map(tuple),
        "reply_to": addresses,
        "from_address": st.sampled_from(["it-desk@example.org", "not an address", ""]),
        "from_name": header_text,
        "now": st.sampled_from(
            [NOW.replace(tzinfo=None), NOW.astimezone(timezone(timedelta(hours=1)))]
        ),
    }
)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """Ordinary, hostile, or ordinary with some hostile fields."""
    kind = draw(st.sampled_from(["ordinary", "mixed", "hostile"]))
    if kind == "hostile":
        return draw(hostile)
    base = draw(ordinary)
    if kind == "ordinary":
        return base
    bad = draw(hostile)
    changed = draw(st.lists(st.sampled_from(sorted(bad)), min_size=1, max_size=3, unique=True))
    return {**base, **{key: bad[key] for key in changed}}


@settings(max_examples=400, deadline=None)
@given(case=cases())
def test_message_bytes_equals_the_email_package_output(case: dict[str, Any]) -> None:
    """Property: for hostile and ordinary notices alike, message_bytes returns the bytes
    build_message serialises (MIME boundary aside) or raises the same error; whatever the fast
    writer produces has no CR or LF inside a header line."""
    from_address, from_name, now = case.pop("from_address"), case.pop("from_name"), case.pop("now")
    notice = make_notice(**case)
    expected = outcome(lambda: slow(notice, from_address, from_name, now))
    assert outcome(lambda: fast(notice, from_address, from_name, now)) == expected
    try:
        written = fast_path_bytes(notice, from_address, from_name, now)
    except Exception:
        written = None  # the error itself is compared above, through message_bytes
    event("fast path" if written is not None else "email package, or an error")
    if written is not None:
        assert notice.html is None
        assert written == expected
        raw_header_names(written)  # asserts every header line is free of CR and LF


# -- the fast path is taken for ordinary notices -------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"to_name": ""},
        {"to_name": "J. Smith"},  # quoted by the registry; str(Address) quotes it the same way
        {"reply_to": "desk@example.org"},
        {"in_reply_to": "<orig-1@mail.example.org>", "references": ("<t-1@example.org>",)},
        {"subject": "Printer fixed\r\nBcc: evil@example.com"},  # cleaned to one plain line
        {"text": ""},
        {"text": "line one\r\nline two\rline three\n\n"},
        {"text": "tab\tvt\x0bff\x0cfs\x1cgs\x1drs\x1eend"},  # not line ends for set_content
        {"text": "x" * 78 + "\n"},
        # Bodies the email package encodes: its own encoder, called as set_content calls it.
        {"text": "x" * 79 + "\n"},  # quoted-printable
        {
            "text": "If something is still not right, reply to this email and we will take another look."
        },
        {"text": "Grüße\n"},  # quoted-printable
        {"text": "Привет, ваш принтер снова работает.\n" * 12},  # base64
        {"text": "=?utf-8?q?x?= and a trailing space \n" + "y" * 200},
    ],
)
def test_typical_ascii_notices_take_the_fast_path(changes: dict[str, object]) -> None:
    """Text-only notices with plain ASCII headers are written directly, byte for byte as the
    email package would write them, whatever the body needs."""
    notice = make_notice(**changes)
    written = fast_path_bytes(notice)
    assert written is not None
    assert written == slow(notice, FROM_ADDRESS, FROM_NAME, NOW)


def test_message_bytes_does_not_build_an_email_message_for_a_typical_notice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ordinary notice never reaches the email package (the slow path) at all."""
    expected = slow(make_notice(), FROM_ADDRESS, FROM_NAME, NOW)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the slow path was used")

    monkeypatch.setattr(message, "_email_message", refuse)
    assert fast(make_notice(), FROM_ADDRESS, FROM_NAME, NOW) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"html": "<p>Your printer works.</p>"},  # random multipart boundary
        {"to_name": "Jürgen Groß"},  # encoded word
        {"to_name": "Doe, Jane"},  # not a plain name: re-read by the registry
        {"to_email": "o'k@example.org"},  # not a plain local part: re-read by the registry
        {"subject": "Ihr Drucker läuft wieder"},  # encoded word
        {"subject": "a=?b"},  # could read as the start of an encoded word
        {"subject": ""},  # the registry writes "Subject:" without a space
        {"subject": "x" * 70},  # folded
        {"references": ("<" + "r" * 40 + "@example.org>", "<s@example.org>")},  # folded
    ],
)
def test_anything_unusual_falls_back_to_the_email_package(changes: dict[str, object]) -> None:
    """Where the fast writer cannot be sure of the email package's output it declines, and
    message_bytes still returns exactly that output."""
    notice = make_notice(**changes)
    assert fast_path_bytes(notice) is None
    assert outcome(lambda: fast(notice, FROM_ADDRESS, FROM_NAME, NOW)) == outcome(
        lambda: slow(notice, FROM_ADDRESS, FROM_NAME, NOW)
    )


@pytest.mark.parametrize("odd", ["<a(x)@b>", "<a@b,c>", "<a..b@c>", "<a@[10.0.0.1]>"])
def test_unusual_ids_are_refused_as_our_own_and_kept_for_threading(odd: str) -> None:
    """The registry would write our Message-ID "<a(x)@b>" as "<a": such an id is refused. In
    In-Reply-To and References it is written as it is, by both paths alike."""
    own = make_notice(message_id=odd)
    refused = outcome(lambda: fast(own, FROM_ADDRESS, FROM_NAME, NOW))
    assert refused == outcome(lambda: slow(own, FROM_ADDRESS, FROM_NAME, NOW))
    assert "is not a Message-ID" in str(refused)
    threaded = make_notice(in_reply_to=odd, references=("<t-1@example.org>",))
    written = fast(threaded, FROM_ADDRESS, FROM_NAME, NOW)
    assert written == slow(threaded, FROM_ADDRESS, FROM_NAME, NOW)
    assert f"In-Reply-To: {odd}\r\n".encode() in written
    assert f"References: <t-1@example.org> {odd}\r\n".encode() in written


def test_the_configured_sender_may_need_encoding_and_still_take_the_fast_path() -> None:
    """From is the registry's own cached output, so any configured name stays on the fast path."""
    notice = make_notice()
    for from_name in ("", "Service-Desk Zürich", "IT, Service Desk", "x" * 90, "Zürich " * 20):
        written = fast_path_bytes(notice, from_name=from_name)
        assert written is not None
        assert written == slow(notice, FROM_ADDRESS, from_name, NOW)


# -- header injection --------------------------------------------------------------------------


@pytest.mark.parametrize("in_names", [False, True], ids=["subject", "subject and names"])
@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_through_subject_or_names_adds_no_header(evil: str, in_names: bool) -> None:
    """CR/LF, Unicode line breaks and encoded words in the subject or a display name never
    become a header or a recipient, on the fast path (most subject-only cases) or off it."""
    notice = make_notice(subject=evil, to_name=evil if in_names else "Ann Example")
    from_name = evil if in_names else FROM_NAME
    raw = fast(notice, FROM_ADDRESS, from_name, NOW)
    assert raw == slow(notice, FROM_ADDRESS, from_name, NOW)
    assert raw_header_names(raw) == BASE_HEADERS
    assert b"\r\nBcc:" not in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Bcc" not in parsed
    assert "Bcc: evil@example.com" in parsed["Subject"]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.org"]
    assert [a.addr_spec for a in parsed["From"].addresses] == [FROM_ADDRESS]


def test_plain_injection_text_is_written_by_the_fast_path_as_one_line() -> None:
    """The commonest attack, a CR/LF in the title, is cleaned to one line the fast path writes."""
    raw = fast_path_bytes(make_notice(subject="Printer fixed\r\nBcc: evil@example.com"))
    assert raw is not None
    assert b"\r\nSubject: Printer fixed Bcc: evil@example.com\r\n" in raw
    assert raw_header_names(raw) == BASE_HEADERS


# -- the plain address shortcut ----------------------------------------------------------------

_ADDRESS_ALPHABET = string.ascii_letters[:6] + string.digits[:3] + ".-_+@\"'()[],;:<>\\!#"


@settings(max_examples=1500, deadline=None)
@given(
    raw=st.one_of(
        st.text(_ADDRESS_ALPHABET, min_size=1, max_size=30),
        st.from_regex(r"\A[a-z0-9._+-]{1,12}@[a-z0-9.-]{1,20}\Z"),
    )
)
def test_the_plain_address_shortcut_agrees_with_the_parser(raw: str) -> None:
    """Where the shortcut answers, the header parser gives the same (username, domain)."""
    plain = message._plain_addr_spec(raw)
    event("shortcut" if plain is not None else "parser")
    if plain is not None:
        assert message._parsed_addr_spec(raw, "to_email") == plain


@pytest.mark.parametrize(
    "raw", ["ann@example.org", "ann.b+tag@mail-1.example.co.uk", "a_b-c@x", "x@1-2.3"]
)
def test_ordinary_addresses_take_the_shortcut(raw: str) -> None:
    assert message._plain_addr_spec(raw) == tuple(raw.split("@"))


@pytest.mark.parametrize("field", ["subject", "text", "to_name", "html"])
def test_a_lone_surrogate_is_a_permanent_refusal_not_a_crash(field: str) -> None:
    """Text that cannot be encoded at all (a lone surrogate, from a source that let one
    through) is that notice's problem: a DeliveryError naming the field, never an
    UnicodeEncodeError escaping the sender and stopping the daemon at every start."""
    notice = make_notice(**{field: "Printer \ud800 fixed"})
    with pytest.raises(PermanentDeliveryError, match=field):
        message_bytes(notice, from_address="it@example.org", from_name="IT", now=NOW)


@pytest.mark.parametrize(
    ("language", "header"), [("de", "de"), ("pt-BR", "pt-BR"), ("", None), ("d e\r\nX: y", None)]
)
def test_content_language_names_the_notices_language_when_it_is_a_tag(
    language: str, header: str | None
) -> None:
    """Both writers put the same Content-Language (RFC 3282), and nothing for a value that is no
    language tag (it could not become a header injection either)."""
    notice = make_notice(language=language)
    fast = message_bytes(notice, from_address="it@example.org", from_name="IT", now=NOW)
    slow = build_message(notice, from_address="it@example.org", from_name="IT", now=NOW)
    assert fast == slow.as_bytes(policy=POLICY)
    parsed = email.message_from_bytes(fast, policy=email.policy.default)
    assert parsed["Content-Language"] == header
