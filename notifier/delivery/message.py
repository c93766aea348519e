"""Build the e-mail for one notice: pure functions, no I/O.

Every header is set through :mod:`email.headerregistry` on an :class:`EmailMessage` with the
SMTP policy, never by string concatenation. Ticket data (title, requester name) is untrusted:
control characters are folded to spaces, and RFC 2047 encoded words are neutralised *before*
the value reaches the header registry, because the registry decodes encoded words in values we
set and would otherwise serialise a decoded CR/LF as a real line break (a new header).

:func:`message_bytes` writes the common notice (text only, plain ASCII headers that need no
folding) without the email package, byte for byte as it would: from the same checked values,
only where the registry would store and fold a value unchanged, and with the body encoded by
the package's own encoder. Everything else goes through the package.
"""

from __future__ import annotations

import email.contentmanager
import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from typing import Any

from notifier.core.errors import PermanentDeliveryError
from notifier.core.message_ids import DOMAIN_RE
from notifier.core.model import Notice
from notifier.core.names import person_name

__all__ = [
    "POLICY",
    "address_spec",
    "build_message",
    "clean_header_text",
    "message_bytes",
    "parse_address",
]


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, but each header's class is made once, not per header.

    ``HeaderRegistry.__getitem__`` builds a new class with ``type()`` every time a header is
    created (a dozen times per message); the classes are identical, so one per name is kept.
    Parsing and every check are the standard ones.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


# SMTP policy (CRLF line ends), but 7-bit bodies: non-ASCII text goes out quoted-printable or
# base64, so the message is valid on servers without 8BITMIME.
POLICY = email_policy.SMTP.clone(cte_type="7bit", header_factory=_HeaderClasses())

# Message-IDs we copy from input (the requester's original mail) for In-Reply-To and
# References, which the registry writes as they are: printable ASCII without whitespace, angle
# brackets or a second "@".
_MSG_ID_RE = re.compile(r"<[!-;=?A-~]+@[!-;=?A-~]+>", re.ASCII)
# A notice's own Message-ID must be dot-atom text on both sides: the registry's msg-id parser
# silently shortens others ("<a(x)@b>" would go out as "<a"). Ours always are (hex@domain).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_OWN_MSG_ID_RE = re.compile(rf"<{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*>", re.ASCII)
_MAX_REFERENCES = 20  # keep References short; the newest ones are what threading needs
_MAX_HEADER_TEXT = 400  # a subject or name longer than this is not "plain language" anyway
_WHITESPACE_RUN = re.compile(r"\s+")
_ENCODED_WORD_FIXPOINT_ROUNDS = 5
# Display names and local parts that read back unchanged from an address header (see
# _set_address); anything else is set and then checked by parsing the header again.
_PLAIN_NAME_RE = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9.'_-]*(?: [A-Za-z0-9.'_-]+)*)?", re.ASCII)
_PLAIN_USER_RE = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*", re.ASCII)
# Letters, digits and "-" in labels between single dots: a dot-atom, as the parser reads it.
_PLAINDOMAIN_RE = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*", re.ASCII)


def clean_header_text(value: str) -> str:
    """Make untrusted text safe and tidy for an unstructured header (Subject, display name).

    Control characters (C0, C1, DEL, Unicode line/paragraph separators) become spaces and runs of
    whitespace collapse to one. Format characters (category Cf: bidi embeddings, overrides and
    isolates such as U+202E, zero-width spaces and joiners, BOM, soft hyphen, tags) are removed:
    an override would make "gpj.exe" read "exe.jpg", and invisible ones hide in look-alikes. Encoded words are decoded the way the header registry would
    decode them, and the result is cleaned again until the registry leaves it unchanged; text
    that never settles has its ``=?`` markers broken apart. The returned text therefore means
    exactly what it says when set as a header value.
    """
    text = _fold_controls(value)
    if text.isascii() and "=?" not in text:
        # No encoded word can start here, so the registry reads the text as it is (the loop
        # below would return it unchanged after one parse).
        return _truncate(text)
    for _ in range(_ENCODED_WORD_FIXPOINT_ROUNDS):
        decoded = _fold_controls(_registry_reading(text))
        if decoded == text:
            return _truncate(text)
        text = decoded
    return _truncate(text.replace("=?", "= ?"))


def parse_address(value: str, field: str, display_name: str = "") -> Address:
    """Validate one e-mail address and return it as an :class:`Address`.

    Raises :class:`PermanentDeliveryError` naming ``field`` when the address is unusable:
    no point retrying a message to an address that cannot be written on the envelope.
    """
    username, domain = _checked_addr_spec(value, field)
    name = clean_header_text(display_name)
    return Address(display_name=name, username=username, domain=domain)


def address_spec(value: str, field: str) -> str:
    """The envelope form (``user@domain``) of an address, validated as :func:`parse_address` does."""
    username, domain = _checked_addr_spec(value, field)
    return Address(username=username, domain=domain).addr_spec


@functools.lru_cache(maxsize=1024)
def _checked_addr_spec(value: str, field: str) -> tuple[str, str]:
    """(username, domain) of a valid address; the check behind :func:`parse_address`.

    Pure, so cached by value: the fixed From address is parsed once, and a notice's To address
    once for its header and its envelope. Errors are raised again each time (never cached).
    """
    raw = value.strip()
    if not raw:
        raise PermanentDeliveryError(f"{field}: address is empty")
    if any(_is_control(ch) or ch.isspace() for ch in raw):
        raise PermanentDeliveryError(
            f"{field}: address {raw!r} contains whitespace or control characters"
        )
    if not raw.isascii():
        # SMTPUTF8 is not negotiated, so a non-ASCII address cannot go on the envelope.
        raise PermanentDeliveryError(f"{field}: address {raw!r} is not ASCII (SMTPUTF8 needed)")
    plain = _plain_addr_spec(raw)
    if plain is not None:
        return plain
    return _parsed_addr_spec(raw, field)


def _plain_addr_spec(raw: str) -> tuple[str, str] | None:
    """(username, domain) when both sides are plain dot-atoms, which the header parser returns
    unchanged (a tenth of its cost); None for anything else, which the parser decides."""
    username, at, domain = raw.partition("@")
    if (
        at
        and _PLAIN_USER_RE.fullmatch(username)
        and _PLAINDOMAIN_RE.fullmatch(domain)
        and DOMAIN_RE.fullmatch(domain)
    ):
        return username, domain
    return None


def _parsed_addr_spec(raw: str, field: str) -> tuple[str, str]:
    try:
        parsed = Address(addr_spec=raw)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise PermanentDeliveryError(f"{field}: {raw!r} is not a valid address ({exc})") from exc
    if not parsed.username or not parsed.domain:
        raise PermanentDeliveryError(f"{field}: {raw!r} is not a valid address (user@domain)")
    if parsed.addr_spec != raw or not DOMAIN_RE.fullmatch(parsed.domain):
        raise PermanentDeliveryError(f"{field}: {raw!r} is not a valid address")
    return parsed.username, parsed.domain


def build_message(
    notice: Notice, *, from_address: str, from_name: str, now: datetime
) -> EmailMessage:
    """The e-mail for one notice, ready for ``as_bytes()``.

    Raises :class:`PermanentDeliveryError` when an address is invalid (To, From or Reply-To).
    """
    fields = _checked_fields(notice, from_address, from_name, now)
    return _email_message(notice, fields, from_address, from_name)


def message_bytes(notice: Notice, *, from_address: str, from_name: str, now: datetime) -> bytes:
    """Exactly ``build_message(...).as_bytes(policy=POLICY)``, with the same exceptions.

    The common notice (text only, plain ASCII headers short enough not to fold) is written
    directly, at about a tenth of the cost; anything else goes through the email package.
    """
    fields = _checked_fields(notice, from_address, from_name, now)
    fast = _fast_bytes(notice, fields, from_address, from_name)
    if fast is not None:
        return fast
    return _email_message(notice, fields, from_address, from_name).as_bytes(policy=POLICY)


def _email_message(
    notice: Notice, fields: _Fields, from_address: str, from_name: str
) -> EmailMessage:
    """The message built with the email package from checked values."""
    msg = EmailMessage(policy=POLICY)
    # A header object made by the registry is stored as it is (EmailPolicy.header_store_parse):
    # the fixed headers are built, checked and parsed once, then shared (they are immutable).
    msg["From"] = _from_header(from_address, from_name)
    _set_address(msg, "To", fields.to)
    if fields.reply_to is not None:
        _set_address(msg, "Reply-To", fields.reply_to)
    _set_checked(msg, "Subject", fields.subject)
    msg["Date"] = _date_header(fields.date)
    msg["Message-ID"] = fields.message_id
    if fields.in_reply_to:
        _set_checked(msg, "In-Reply-To", fields.in_reply_to)
    if fields.references:
        _set_checked(msg, "References", fields.references)
    # RFC 3834: an automatic message; the second header asks Exchange not to auto-reply.
    for name, header in _AUTOMATIC_HEADERS:
        msg[name] = header

    msg.set_content(notice.text, subtype="plain", charset="utf-8")
    if notice.html is not None:
        msg.add_alternative(notice.html, subtype="html", charset="utf-8")
    # RFC 3282, for mail clients and screen readers. After set_content, which drops every
    # Content-* header it finds.
    if language := _language_tag(notice.language):
        msg["Content-Language"] = language
    return msg


@dataclass(frozen=True, slots=True)
class _Fields:
    """A notice's header values after every check; both writers take them from here."""

    to: Address
    reply_to: Address | None
    subject: str
    date: datetime
    message_id: str
    in_reply_to: str  # "" when absent or malformed
    references: str  # space-separated msg-ids, "" when none


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_unencodable(notice: Notice) -> None:
    """A lone surrogate cannot be written in UTF-8: name the field instead of letting the
    encoder's UnicodeEncodeError escape the sender (sources should never let one through)."""
    texts = {
        "to_name": notice.to_name,
        "subject": notice.subject,
        "text": notice.text,
        "html": notice.html or "",
        "reply_to": notice.reply_to,
        "in_reply_to": notice.in_reply_to,
        "references": " ".join(notice.references),
    }
    for field, text in texts.items():
        if not text.isascii() and _LONE_SURROGATE.search(text) is not None:
            raise PermanentDeliveryError(
                f"{field}: holds a lone surrogate, which no mail can carry"
            )


def _checked_fields(notice: Notice, from_address: str, from_name: str, now: datetime) -> _Fields:
    """Validate and clean everything that goes into a header, in the order errors are reported."""
    if now.utcoffset() != timedelta(0):
        raise ValueError("now must be an aware UTC datetime")
    _refuse_unencodable(notice)
    if not _OWN_MSG_ID_RE.fullmatch(notice.message_id):
        raise PermanentDeliveryError(f"message_id: {notice.message_id!r} is not a Message-ID")
    # The source's name field may hold an address ("requester@..." <helpdesk@...>): never shown.
    to_addr = parse_address(
        notice.to_email, "to_email", person_name(notice.to_name, notice.to_email)
    )
    _from_header(from_address, from_name)  # raises for a bad From address (cached when good)
    reply_to = parse_address(notice.reply_to, "reply_to") if notice.reply_to.strip() else None

    # Threading headers are best effort: a malformed id from the input is dropped, not sent.
    in_reply_to = notice.in_reply_to.strip()
    references = [r for r in dict.fromkeys(notice.references) if _is_msg_id(r)]
    if not _is_msg_id(in_reply_to):
        in_reply_to = ""
    elif in_reply_to not in references:
        references.append(in_reply_to)
    return _Fields(
        to=to_addr,
        reply_to=reply_to,
        subject=clean_header_text(notice.subject),
        date=now.replace(microsecond=0),
        message_id=notice.message_id,
        in_reply_to=in_reply_to,
        references=" ".join(references[-_MAX_REFERENCES:]),
    )


@functools.lru_cache(maxsize=16)
def _from_header(from_address: str, from_name: str) -> Any:
    """The From header object for the configured sender: validated and parsed once per value."""
    msg = EmailMessage(policy=POLICY)
    _set_address(msg, "From", parse_address(from_address, "from_address", from_name))
    return msg["From"]


@functools.lru_cache(maxsize=8)
def _date_header(moment: datetime) -> Any:
    """The Date header object for one second (a batch shares it)."""
    return POLICY.header_factory("Date", moment)


_AUTOMATIC_HEADERS = tuple(
    (name, POLICY.header_factory(name, value))
    for name, value in (("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"))
)


def _is_msg_id(value: str) -> bool:
    # "=?" could start an encoded word, which the registry would decode in these headers.
    return bool(_MSG_ID_RE.fullmatch(value)) and "=?" not in value


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _fold_controls(value: str) -> str:
    if not (value.isascii() and value.isprintable()):  # printable ASCII has no control char
        value = "".join(
            " " if _is_control(ch) else "" if unicodedata.category(ch) == "Cf" else ch
            for ch in value
        )
    return _WHITESPACE_RUN.sub(" ", value).strip()


def _registry_reading(text: str) -> str:
    """What the header registry makes of ``text`` set as an unstructured header value."""
    return str(POLICY.header_factory("subject", text))


def _truncate(text: str) -> str:
    if len(text) <= _MAX_HEADER_TEXT:
        return text
    return text[: _MAX_HEADER_TEXT - 1].rstrip() + "…"


def _set_checked(msg: EmailMessage, name: str, value: str) -> None:
    """Set an unstructured header and make sure the registry kept the value as given."""
    msg[name] = value
    if str(msg[name]) != value:  # defence in depth: clean_header_text should make this unreachable
        raise PermanentDeliveryError(f"{name}: value changed when set as a header: {value!r}")


def _set_address(msg: EmailMessage, name: str, address: Address) -> None:
    """Set an address header; if the registry reads the display name differently, drop it."""
    msg[name] = address
    if _reads_back_unchanged(address):
        return
    try:
        reread = POLICY.header_factory(name, str(msg[name])).addresses
    except (ValueError, HeaderParseError):
        reread = ()
    if len(reread) != 1 or reread[0] != address:
        del msg[name]
        msg[name] = Address(username=address.username, domain=address.domain)


def _reads_back_unchanged(address: Address) -> bool:
    """Plain ASCII words and a plain local part (the domain is checked by parse_address): the
    registry reads these back exactly as set, so :func:`_set_address` need not re-read them."""
    return bool(
        _PLAIN_NAME_RE.fullmatch(address.display_name)
        and _PLAIN_USER_RE.fullmatch(address.username)
    )


# -- the fast writer ---------------------------------------------------------------------------
# Lines it builds itself are single lines of printable ASCII that the registry would store and
# fold unchanged. Lines the registry formats (From, Date, the automatic headers) are its own
# output (fold_binary, as the generator calls it), cached.

# The folder breaks longer header lines; set_content encodes a body with a longer line.
# (0, never fast, if a policy had no limit.)
_MAX_LINE: int = POLICY.max_line_length or 0
# A value the folder copies as it is: printable ASCII words and single spaces, so no CR or LF.
_ONE_LINE_VALUE_RE = re.compile(r"[!-~]+(?: [!-~]+)*", re.ASCII)
# One header field as the registry folds it: no bare CR or LF, continuations start with WSP.
_FOLDED_HEADER_RE = re.compile(rb"[!-9;-~]+:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n")
# What set_content adds after our headers for a text/plain body, in its order.
_TEXT_PLAIN_HEAD = (
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: {cte}\r\n"
    "MIME-Version: 1.0\r\n"
)
# The email package's own choice and encoding of a text body (7bit, quoted-printable or
# base64), as set_content calls it. Private, so looked up with a default: without it every
# body takes the slow path. tests/unit/test_message_bytes.py compares both paths' bytes.
_encode_text: Any = getattr(email.contentmanager, "_encode_text", None)


class _NeedsEmailPackage(Exception):
    """A part of the message that only the email package is sure to write right."""


def _fast_bytes(notice: Notice, fields: _Fields, from_address: str, from_name: str) -> bytes | None:
    """The message exactly as the email package would serialise it, or None when only the
    email package is sure to write it right."""
    try:
        return _write_fast(notice, fields, from_address, from_name)
    except _NeedsEmailPackage:
        return None


def _write_fast(notice: Notice, fields: _Fields, from_address: str, from_name: str) -> bytes:
    if notice.html is not None:
        raise _NeedsEmailPackage("html")  # multipart/alternative has a random boundary
    head = [
        _from_line(from_address, from_name),
        _address_line("To", fields.to),
        _address_line("Reply-To", fields.reply_to) if fields.reply_to is not None else b"",
        _one_line("Subject", fields.subject),
        _date_line(fields.date),
        _message_id_line(fields.message_id),
        _one_line("In-Reply-To", fields.in_reply_to) if fields.in_reply_to else b"",
        _one_line("References", fields.references) if fields.references else b"",
        _AUTOMATIC_LINES,
    ]
    language = _language_tag(notice.language)
    tail = _one_line("Content-Language", language) if language else b""
    return b"".join(head) + _text_body(notice.text, tail)


_LANGUAGE_TAG_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def _language_tag(language: str) -> str:
    """``language`` when it is a well-formed language tag (RFC 5646 syntax), else ""."""
    return language if _LANGUAGE_TAG_RE.fullmatch(language) else ""


def _one_line(name: str, value: str) -> bytes:
    """``Name: value`` for a value the registry keeps as it is and the folder does not fold."""
    line = f"{name}: {value}"
    if (
        len(line) > _MAX_LINE  # the folder would break it
        or not _ONE_LINE_VALUE_RE.fullmatch(value)  # empty, control characters, non-ASCII
        or "=?" in value  # might be read as an encoded word
    ):
        raise _NeedsEmailPackage(name)
    return line.encode("ascii") + b"\r\n"


def _address_line(name: str, address: Address) -> bytes:
    if not _reads_back_unchanged(address):
        raise _NeedsEmailPackage(name)
    # str(Address) is the text the registry makes of an Address (it quotes a name with a ".").
    return _one_line(name, str(address))


def _message_id_line(message_id: str) -> bytes:
    return _one_line("Message-ID", message_id)  # checked by _checked_fields: a plain msg-id


def _text_body(text: str, last_headers: bytes = b"") -> bytes:
    """The body part's headers, ``last_headers``, and the body, as set_content and the
    generator write them."""
    if _encode_text is None:
        raise _NeedsEmailPackage("body")
    cte, payload = _encode_text(text, "utf-8", None, POLICY)
    if not isinstance(payload, str) or not payload.isascii() or "\r" in payload:
        raise _NeedsEmailPackage("body")  # not what the generator gets from set_content
    # The generator ends every payload line with the policy's CRLF.
    head = _TEXT_PLAIN_HEAD.format(cte=cte).encode("ascii")
    return head + last_headers + b"\r\n" + payload.replace("\n", "\r\n").encode("ascii")


def _registry_line(name: str, header: Any) -> bytes:
    """A header object serialised as the generator does, checked to be one well-folded field."""
    folded = POLICY.fold_binary(name, header)
    well_folded = _FOLDED_HEADER_RE.fullmatch(folded)
    if not well_folded or not folded.startswith(f"{name}:".encode("ascii")):
        raise _NeedsEmailPackage(name)
    return folded


@functools.lru_cache(maxsize=16)
def _from_line(from_address: str, from_name: str) -> bytes:
    return _registry_line("From", _from_header(from_address, from_name))


@functools.lru_cache(maxsize=8)
def _date_line(moment: datetime) -> bytes:
    return _registry_line("Date", _date_header(moment))


_AUTOMATIC_LINES = b"".join(_registry_line(name, header) for name, header in _AUTOMATIC_HEADERS)
