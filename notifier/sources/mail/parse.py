"""Raw message bytes into a :class:`ParsedMail`: pure, bounded, and total.

Why not ``email.message_from_bytes``: its feed parser descends into nested multiparts through
nested generators (a few hundred levels raise ``RecursionError``), checks every line against
every open boundary (quadratic in the nesting depth), and decodes lazily through header classes
that have raised unexpected exceptions on hostile input. Mail from the outside is exactly that
input, so the MIME structure is walked here with an explicit stack over offsets into the one
``bytes`` object (no copies of sub-bodies, no recursion), and only small, well-tested pieces of
the standard library are used: ``email.utils`` for addresses and dates, ``binascii`` for
base64 and quoted-printable, ``codecs`` for charsets.

Guarantees, whatever the input:

* the only exception is :class:`~notifier.core.errors.InputError` (too large, no headers, or the last
  resort around everything else);
* a decoded header value never contains a control character (CR, LF, NUL, C0, C1, DEL, U+2028
  and U+2029 become spaces; whitespace runs collapse), so it cannot smuggle a header line;
* time and memory are linear in the message size: at most ``max_parts`` parts are walked and
  ``max_depth`` levels of multipart opened; only the chosen text/plain or text/html parts are
  decoded (attachments never are), and never more encoded bytes than the text budget needs;
* what was wrong but survivable (bad charset, bad base64, truncation, limits hit) is listed in
  ``defects``.
"""

from __future__ import annotations

import binascii
import re

from notifier.core.errors import InputError
from notifier.core.htmltext import html_to_text, strip_tags
from notifier.sources.mail.decode import (
    BODY_CONTROLS,
    MAX_IDS,
    Defects,
    clean_text,
    decode_base64,
    decode_header_value,
    decode_text,
    decode_words,
)
from notifier.sources.mail.headers import (
    date_of,
    first_header,
    header_text,
    msg_ids,
    parse_addresses,
    parse_content_type,
    parse_disposition,
    parse_return_path,
    read_headers,
)
from notifier.sources.mail.types import MailAddress, MailLimits, ParsedMail

__all__ = ["decode_header_value", "parse_mail"]

# -- MIME walk ------------------------------------------------------------------------------

_CLOSE_OR_END = re.compile(rb"(--)?[ \t]*\r?(?:\n|\Z)")


def _split(
    raw: bytes, start: int, end: int, boundary: bytes, limit: int
) -> tuple[list[tuple[int, int]], str]:
    """Body parts of a multipart in ``raw[start:end]``: ([(start, end)], problem or "").

    Delimiters are ``--boundary`` at the start of a line followed only by white space; the line
    break before a delimiter belongs to it (RFC 2046 section 5.1.1). At most ``limit`` parts are
    returned; scanning stops there.
    """
    delimiter = b"--" + boundary
    parts: list[tuple[int, int]] = []
    part_start = -1  # before the first delimiter: the preamble, ignored
    pos = start
    while True:
        found = raw.find(delimiter, pos, end)
        if found < 0:
            break
        pos = found + 1
        if found != start and raw[found - 1] != 0x0A:
            continue  # not at the start of a line
        tail = _CLOSE_OR_END.match(raw, found + len(delimiter), end)
        if tail is None:
            continue  # a longer boundary that starts with ours
        if part_start >= 0:
            part_end = found
            if part_end > part_start and raw[part_end - 1] == 0x0A:
                part_end -= 1
                if part_end > part_start and raw[part_end - 1] == 0x0D:
                    part_end -= 1
            parts.append((part_start, part_end))
            if len(parts) >= limit:
                return parts, "limit"
        if tail.group(1):
            return parts, ""
        part_start = tail.end()
        pos = part_start
    if part_start >= 0 and part_start < end:
        parts.append((part_start, end))
    return parts, ("no closing boundary" if parts else "no boundary found")


class _Leaf:
    """A text part chosen as a candidate for the body; decoded only if it is used."""

    __slots__ = ("alternatives", "charset", "encoding", "end", "html", "params", "start")

    def __init__(
        self,
        start: int,
        end: int,
        html: bool,
        charset: str,
        encoding: str,
        params: dict[str, str],
        alternatives: tuple[tuple[int, int], ...],
    ) -> None:
        self.start, self.end, self.html = start, end, html
        self.charset, self.encoding, self.params = charset, encoding, params
        self.alternatives = alternatives  # ((multipart/alternative id, child index), ...)


# (headers or None, start, end, nesting level, alternatives path, default content type)
_StackItem = tuple[list[tuple[str, bytes]] | None, int, int, int, tuple[tuple[int, int], ...], str]


def _walk(
    raw: bytes,
    top_headers: list[tuple[str, bytes]],
    body_start: int,
    limits: MailLimits,
    defects: Defects,
) -> list[_Leaf]:
    """Visit the MIME tree in document order without recursion; return the text leaves."""
    leaves: list[_Leaf] = []
    stack: list[_StackItem] = [(top_headers, body_start, len(raw), 1, (), "text/plain")]
    seen = 0
    while stack:
        headers, start, end, level, path, default = stack.pop()
        if headers is None:
            headers, start = read_headers(raw, start, end, defects, top=False)
        seen += 1
        ctype, params = parse_content_type(headers, default, defects)
        if ctype.startswith("multipart/"):
            boundary = params.get("boundary", "")
            if not boundary or len(boundary) > 200:
                defects.add(f"{ctype} without a usable boundary")
                continue
            if level > limits.max_depth:
                defects.add(
                    f"MIME nesting deeper than {limits.max_depth} levels; inner parts not read"
                )
                continue
            room = limits.max_parts - seen - len(stack)
            if room <= 0:
                defects.add(f"more than {limits.max_parts} MIME parts; the rest was not read")
                continue
            children, problem = _split(raw, start, end, boundary.encode("utf-8"), room)
            if problem == "limit":
                defects.add(f"more than {limits.max_parts} MIME parts; the rest was not read")
            elif problem:
                defects.add(f"{ctype}: {problem}")
            child_default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
            for index in range(len(children) - 1, -1, -1):
                child_path = (*path, (seen, index)) if ctype == "multipart/alternative" else path
                child_start, child_end = children[index]
                stack.append((None, child_start, child_end, level + 1, child_path, child_default))
        elif ctype in ("text/plain", "text/html"):
            disposition, has_filename = parse_disposition(headers, defects)
            if disposition == "attachment" or (has_filename and disposition != "inline"):
                continue  # a text file attached, not the message
            encoding = first_header(headers, "content-transfer-encoding")
            encoding_name = clean_text(header_text(encoding or b"", defects)).lower()
            leaves.append(
                _Leaf(
                    start,
                    end,
                    ctype == "text/html",
                    params.get("charset", ""),
                    encoding_name,
                    params,
                    path,
                )
            )
        # message/rfc822 and everything else: not descended, never decoded.
    return leaves


def _choose(leaves: list[_Leaf]) -> list[_Leaf]:
    """Text/plain leaves if any, else HTML ones; one branch of each multipart/alternative."""
    return _of_kind(leaves, html=False) or _of_kind(leaves, html=True)


def _of_kind(leaves: list[_Leaf], *, html: bool) -> list[_Leaf]:
    """The leaves of one kind (text/plain or HTML), one branch of each multipart/alternative."""
    chosen: dict[int, int] = {}
    result: list[_Leaf] = []
    for leaf in leaves:
        if leaf.html is not html:
            continue
        # The first branch that has this kind of text wins; other branches repeat it.
        if all(chosen.setdefault(alt, child) == child for alt, child in leaf.alternatives):
            result.append(leaf)
    return result


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines (ending in a space), undo space-stuffing."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing (section 4.4)
        soft = body.endswith(" ") and body != "-- "  # "-- " is the signature separator
        if soft and delsp:
            body = body[:-1]
        if current is not None and depth != current_depth:
            out.append(current)  # a quote depth change ends the paragraph (section 4.5)
            current = None
        if current is None:
            current, current_depth = ">" * depth + (" " if depth else "") + body, depth
        else:
            current += body
        if not soft:
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    return "\n".join(out)


def _leaf_text(raw: bytes, leaf: _Leaf, budget: int, defects: Defects) -> str:
    # Never decode more encoded bytes than `budget` characters can need: quoted-printable
    # spends at most 3 bytes per byte, a charset at most 4 bytes per character.
    cap = budget * 12 + 1024
    end = leaf.end
    if end - leaf.start > cap:
        cut = raw.rfind(b"\n", leaf.start, leaf.start + cap)
        end = cut if cut > leaf.start else leaf.start + cap
        defects.add(f"body text truncated to {budget} characters")
    data = raw[leaf.start : end]
    if leaf.encoding == "base64":
        decoded = decode_base64(re.sub(rb"\s+", b"", data))
        if decoded is None:  # pragma: no cover - decode_base64 always recovers
            decoded = b""
        data = decoded
    elif leaf.encoding == "quoted-printable":
        data = binascii.a2b_qp(data)
    elif leaf.encoding not in ("", "7bit", "8bit", "binary"):
        defects.add(f"unknown Content-Transfer-Encoding {leaf.encoding[:30]!r}, read as is")
    kind = "HTML body" if leaf.html else "body"
    text = decode_text(data, leaf.charset, kind, defects)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(BODY_CONTROLS)
    if leaf.html:
        try:
            text = html_to_text(text)
        except Exception:  # html.parser on hostile markup: keep going
            defects.add("HTML body could not be converted; tags stripped")
            text = strip_tags(text)
    elif leaf.params.get("format", "").lower() == "flowed":
        text = _unflow(text, leaf.params.get("delsp", "").lower() == "yes")
    return text.strip("\n")


def _body(raw: bytes, chosen: list[_Leaf], limits: MailLimits, defects: Defects) -> str:
    texts: list[str] = []
    used = 0
    for leaf in chosen:
        if used >= limits.max_text_chars:
            defects.add(f"body text truncated to {limits.max_text_chars} characters")
            break
        text = _leaf_text(raw, leaf, limits.max_text_chars - used, defects)
        if text.strip():
            texts.append(text)
            used += len(text) + 2
    body = "\n\n".join(texts)
    if len(body) > limits.max_text_chars:
        defects.add(f"body text truncated to {limits.max_text_chars} characters")
        body = body[: limits.max_text_chars]
    return body


# -- entry point ----------------------------------------------------------------------------


# The HTML alternative of a text/plain body is read for a line or two of facts, not in full.
_ALTERNATIVE_LIMITS = MailLimits(max_text_chars=20_000)


def _size_words(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes"


def parse_mail(raw: bytes, *, origin: str, limits: MailLimits = MailLimits()) -> ParsedMail:  # noqa: B008
    """Parse one message; raise :class:`InputError` (and nothing else) when it cannot be read.

    ``origin`` names the message in errors and in the result ("INBOX uid 42", a file name).
    """
    size = len(raw)
    if size > limits.max_bytes:
        raise InputError(
            origin,
            f"message is {_size_words(size)}, over the {_size_words(limits.max_bytes)} limit",
        )
    if not raw or raw.isspace():  # no copy: raw may be 25 MB
        raise InputError(origin, "message is empty")
    try:
        return _parse(raw if isinstance(raw, bytes) else bytes(raw), origin, limits)
    except InputError:
        raise
    except Exception as exc:  # the promise: one bad message is one InputError
        raise InputError(
            origin,
            f"message could not be parsed ({type(exc).__name__}: {clean_text(str(exc))[:120]})",
        ) from exc


def _parse(raw: bytes, origin: str, limits: MailLimits) -> ParsedMail:
    defects = Defects()
    top, body_start = read_headers(raw, 0, len(raw), defects, top=True)
    if not top:
        raise InputError(origin, "no mail headers found (not an internet message)")

    texts: dict[str, list[str]] = {}  # raw text of each header, unfolded, not yet decoded
    for name, value in top:
        texts.setdefault(name, []).append(header_text(value, defects))
    headers = {
        name: tuple(clean_text(decode_words(value, defects)) for value in values)
        for name, values in texts.items()
    }

    def first(name: str) -> str | None:
        values = texts.get(name)
        return clean_text(values[0]) if values else None

    message_ids = msg_ids(first("message-id") or "")
    if "message-id" in texts and not message_ids:
        defects.add("unreadable Message-ID")
    references = tuple(dict.fromkeys(msg_ids(" ".join(texts.get("references", [])))))
    in_reply_to = msg_ids(first("in-reply-to") or "")

    date_text = first("date")
    date = date_of(date_text, defects) if date_text else None
    if date_text is None:
        defects.add("no Date header")

    senders = parse_addresses(texts.get("from", [])[:1], "From", defects)
    if "from" not in texts:
        defects.add("no From header")
    return_path = first("return-path")

    ctype, params = parse_content_type(top, "text/plain", defects)
    leaves = _walk(raw, top, body_start, limits, defects)
    chosen = _choose(leaves)
    text = _body(raw, chosen, limits, defects)
    html_text = ""
    if chosen and not chosen[0].html and (html_leaves := _of_kind(leaves, html=True)):
        # Some senders put facts only in the HTML part (FreeScout: the customer's address).
        # Its defects repeat the text part's, or do not matter: the text part is the body.
        html_text = _body(raw, html_leaves, _ALTERNATIVE_LIMITS, Defects())

    return ParsedMail(
        origin=origin,
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=references[-MAX_IDS:],
        subject=headers.get("subject", ("",))[0],
        sender=senders[0] if senders else MailAddress(name="", address=""),
        to=parse_addresses(texts.get("to", []), "To", defects),
        cc=parse_addresses(texts.get("cc", []), "Cc", defects),
        reply_to=parse_addresses(texts.get("reply-to", []), "Reply-To", defects),
        return_path=None if return_path is None else parse_return_path(return_path),
        date=date,
        content_type=ctype,
        report_type=params.get("report-type", "").lower() if ctype == "multipart/report" else "",
        headers=headers,
        text=text,
        html_text=html_text,
        size=len(raw),
        defects=tuple(defects.items),
        senders=senders,
    )
