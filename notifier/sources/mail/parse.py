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
import codecs
import re
import urllib.parse
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from notifier.core.errors import InputError
from notifier.core.htmltext import html_to_text, strip_tags
from notifier.sources.mail.types import MailAddress, MailLimits, ParsedMail

__all__ = ["decode_header_value", "parse_mail"]

# -- text hygiene ---------------------------------------------------------------------------

# C0, DEL, C1 and the Unicode line and paragraph separators: all become spaces in header values.
_CONTROLS = {c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}
# Same for body text, but line breaks and tabs are content there.
_BODY_CONTROLS = {c: v for c, v in _CONTROLS.items() if c not in (0x09, 0x0A)}
_MAX_DEFECTS = 50  # a message with 10,000 bad parts still gets a short list
_MAX_STRUCTURED = 64 * 1024  # address and parameter headers longer than this are not parsed
_MAX_IDS = 500  # msg-ids kept from References


def _clean(text: str) -> str:
    """One line: control characters to spaces, whitespace runs collapsed, ends stripped."""
    return " ".join(text.translate(_CONTROLS).split())


class _Defects:
    """An ordered, deduplicated, capped list of problem notes."""

    def __init__(self) -> None:
        self.items: dict[str, None] = {}

    def add(self, note: str) -> None:
        if len(self.items) < _MAX_DEFECTS:
            self.items.setdefault(note, None)


# -- charsets -------------------------------------------------------------------------------

# Labels whose real-world content is a superset encoding (as browsers and mail clients read them).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
}
# Text codecs that turn data into something other than its text (escapes, IDNA, Windows APIs).
_REFUSED_CODECS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode", "mbcs", "oem"}
)


@lru_cache(maxsize=256)
def _codec(charset: str) -> str | None:
    """The Python codec for a declared charset, or None when unknown or not a text encoding."""
    name = charset.strip().strip("\"'").lower()
    if not name or len(name) > 40:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None  # "base64", "zlib", "rot13"... are not charsets
    return info.name


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _decode_in(codec: str, data: bytes, what: str, defects: _Defects) -> str:
    """``data.decode(codec)``, each lone surrogate replaced by U+FFFD: UTF-7 can spell one, and
    such text can be neither stored (SQLite) nor mailed (UTF-8)."""
    text = data.decode(codec)
    if _LONE_SURROGATE.search(text) is None:
        return text
    defects.add(f"{what}: a lone surrogate in {codec}, replaced")
    return _LONE_SURROGATE.sub("\ufffd", text)


def _decode_nonascii(data: bytes, charset: str, what: str, defects: _Defects) -> str:
    if charset:
        codec = _codec(charset)
        if codec is None:
            defects.add(f"{what}: unknown charset {_clean(charset)[:40]!r}")
        else:
            try:
                return _decode_in(codec, data, what, defects)
            except (UnicodeError, ValueError, LookupError):
                defects.add(f"{what}: not valid {_clean(charset)[:40]}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if charset:
            defects.add(f"{what}: read as windows-1252")
        else:
            defects.add(f"{what}: no charset and not UTF-8, read as windows-1252")
        return data.decode("cp1252", errors="replace")


_ASCII_UNSAFE = ("utf-16", "utf-32", "utf_16", "utf_32", "iso2022", "iso-2022", "utf-7", "utf_7")


def _decode_text(data: bytes, charset: str, what: str, defects: _Defects) -> str:
    # Pure-ASCII bytes are ASCII text in every charset except the 16/32-bit and escape-based ones.
    if data.isascii() and not charset.lower().replace("_", "-").startswith(_ASCII_UNSAFE):
        return data.decode("ascii")
    if data.isascii() and charset:
        codec = _codec(charset)
        if codec is not None:
            try:
                return _decode_in(codec, data, what, defects)
            except (UnicodeError, ValueError, LookupError):
                defects.add(f"{what}: not valid {_clean(charset)[:40]}")
        return data.decode("ascii")
    return _decode_nonascii(data, charset, what, defects)


# -- RFC 2047 encoded words -----------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def _b64(data: bytes) -> bytes | None:
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data.rstrip(b"=")) % 4))
    except binascii.Error:
        pass
    clean = _BASE64_JUNK.sub(b"", data)
    clean = clean[: len(clean) - len(clean) % 4]
    try:
        return binascii.a2b_base64(clean)
    except binascii.Error:  # pragma: no cover - a clean multiple of 4 always decodes
        return None


def _decode_words(text: str, defects: _Defects) -> str:
    """Decode RFC 2047 encoded words anywhere in ``text`` (leniently, as mail clients do).

    Adjacent words in the same charset are decoded together, so a character split across two
    words (common with UTF-8 and Japanese mailers) survives; whitespace between encoded words
    is dropped (RFC 2047 section 6.2). A word that cannot be decoded is kept as it is.
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset:
            out.append(_decode_text(bytes(pending), pending_charset, "header", defects))
            pending.clear()
            pending_charset = ""

    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        if not (pending_charset and not between.strip()):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: "utf-8*en"
        payload = match.group(3).encode("utf-8")
        data = binascii.a2b_qp(payload, header=True) if match.group(2) in "Qq" else _b64(payload)
        pos = match.end()
        if data is None:
            flush()
            out.append(match.group())
            defects.add("header: undecodable encoded word")
            continue
        if pending_charset and charset.lower() != pending_charset.lower():
            flush()
        pending_charset = charset
        pending.extend(data)
    flush()
    out.append(text[pos:])
    return "".join(out)


def decode_header_value(value: str) -> str:
    """Decode RFC 2047 words in an unfolded header value and make it one clean line.

    The result never contains CR, LF or any other control character.
    """
    return _clean(_decode_words(value, _Defects()))


# -- header blocks --------------------------------------------------------------------------

_HEADER_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")  # printable ASCII but ":" (RFC 5322 ftext)


def _read_headers(
    raw: bytes, start: int, end: int, defects: _Defects, *, top: bool
) -> tuple[list[tuple[str, bytes]], int]:
    """Parse the header block in ``raw[start:end]``: ([(lower name, unfolded value)], body start).

    The block ends at the first empty line; a line that is neither a header nor a continuation
    also ends it (and starts the body), as in the standard library's parser.
    """
    headers: list[tuple[str, list[bytes]]] = []
    pos = start
    if top and raw.startswith(b"From ", pos):  # an mbox separator line, not a header
        newline = raw.find(b"\n", pos, end)
        pos = end if newline < 0 else newline + 1
    while pos < end:
        newline = raw.find(b"\n", pos, end)
        line_end, next_pos = (end, end) if newline < 0 else (newline, newline + 1)
        line = raw[pos:line_end]
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            pos = next_pos
            break
        if line[:1] in (b" ", b"\t"):
            if headers:
                headers[-1][1].append(line)
            else:
                defects.add("first header line is a continuation line")
            pos = next_pos
            continue
        match = _HEADER_NAME.match(line)
        if match is None:
            if headers:
                defects.add("header block ends without an empty line")
            break
        name = match.group(1).decode("ascii").lower()
        headers.append((name, [line[match.end() :]]))
        pos = next_pos
    return [(name, b"".join(chunks).strip(b" \t")) for name, chunks in headers], pos


def _header_text(value: bytes, defects: _Defects) -> str:
    """Header bytes as text: ASCII, else UTF-8 (RFC 6532), else windows-1252."""
    if value.isascii():
        return value.decode("ascii")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        defects.add("header: 8-bit bytes not UTF-8, read as windows-1252")
        return value.decode("cp1252", errors="replace")


def _first(headers: list[tuple[str, bytes]], name: str) -> bytes | None:
    return next((value for key, value in headers if key == name), None)


# -- structured values ----------------------------------------------------------------------

_MIME_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIME_TYPE = re.compile(rf"{_MIME_NAME}/{_MIME_NAME}")
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _params(text: str, defects: _Defects) -> dict[str, str]:
    """MIME parameters, with RFC 2231 continuations (``name*0*=``) and charsets (``name*=``)."""
    simple: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for match in _PARAM.finditer(text[:_MAX_STRUCTURED]):
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
        if "*" not in name:
            simple.setdefault(name, value)
            continue
        base, _, suffix = name.partition("*")
        encoded = suffix.endswith("*") or suffix == ""
        digits = suffix.rstrip("*")
        if digits and not (digits.isdigit() and len(digits) < 4):
            continue
        sections.setdefault(base, []).append((int(digits or 0), encoded, value))
    for base, parts in sections.items():
        parts.sort(key=lambda part: part[0])
        charset = ""
        data = bytearray()
        for number, (_, encoded, value) in enumerate(parts):
            if encoded:
                if number == 0 and value.count("'") >= 2:
                    charset, _language, value = value.split("'", 2)
                data.extend(urllib.parse.unquote_to_bytes(value))
            else:
                data.extend(value.encode("utf-8"))
        simple[base] = _decode_text(bytes(data), charset, "parameter", defects)
    return simple


def _content_type(
    headers: list[tuple[str, bytes]], default: str, defects: _Defects
) -> tuple[str, dict[str, str]]:
    value = _first(headers, "content-type")
    if value is None:
        return default, {}
    text = _clean(_header_text(value, defects))
    main, _, _rest = text.partition(";")
    ctype = main.strip().lower()
    if not _MIME_TYPE.fullmatch(ctype):
        # RFC 2045 section 5.2: an invalid Content-Type means the default.
        defects.add(f"invalid Content-Type {ctype[:40]!r}")
        return default, {}
    return ctype, _params(text[len(main) :], defects)


def _disposition(headers: list[tuple[str, bytes]], defects: _Defects) -> tuple[str, bool]:
    """(disposition type, whether a file name is given)."""
    value = _first(headers, "content-disposition")
    if value is None:
        return "", False
    text = _clean(_header_text(value, defects))
    kind, _, _rest = text.partition(";")
    params = _params(text[len(kind) :], defects)
    return kind.strip().lower(), bool(params.get("filename"))


_MSG_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")


def _msg_ids(value: str) -> list[str]:
    """Every ``<id>`` in a Message-ID, In-Reply-To or References value, in order."""
    ids = [f"<{match.group(1)}>" for match in _MSG_ID.finditer(value) if len(match.group(1)) < 990]
    if not ids:
        bare = _BARE_ID.fullmatch(value.strip())
        if bare:  # "id@host" without the brackets, seen from some scripts
            ids = [f"<{bare.group()}>"]
    return ids


_PLACEHOLDER = re.compile("\ue000([0-9]+)\ue001")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*", re.UNICODE)
_LOCAL_SPECIALS = frozenset('<>()[],;:\\"@')


def _addr_spec(address: str) -> str:
    """A plausible ``local@domain`` with the domain lower-cased, else ""."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not _DOMAIN.fullmatch(domain):
        return ""
    quoted = len(local) >= 2 and local.startswith('"') and local.endswith('"')
    if not quoted and any(c.isspace() or c in _LOCAL_SPECIALS for c in local):
        return ""
    return f"{local}@{domain.lower()}"


def _hide_words(text: str) -> tuple[str, list[str]]:
    words: list[str] = []

    def hide(match: re.Match[str]) -> str:
        words.append(match.group())
        return f"\ue000{len(words) - 1}\ue001"  # private-use characters: an atom to the parser

    return _ENCODED_WORD.sub(hide, text), words


def _show_words(text: str, words: list[str]) -> str:
    if not words:
        return text

    def show(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return words[index] if index < len(words) else match.group()  # a forged placeholder

    return _PLACEHOLDER.sub(show, text)


def _addresses(values: list[str], field: str, defects: _Defects) -> tuple[MailAddress, ...]:
    result: list[MailAddress] = []
    for value in values:
        cleaned = _clean(value)  # control characters out before the address parser sees them
        if len(cleaned) > _MAX_STRUCTURED:
            defects.add(f"{field}: too long to parse")
            continue
        # Encoded words may hide ",", ":" or "<" (a display name that is really two addresses);
        # the address parser sees opaque placeholders, the words are decoded after parsing.
        cleaned, words = _hide_words(cleaned)
        try:
            pairs = [
                (_show_words(name, words), _show_words(address, words))
                for name, address in getaddresses([cleaned])
            ]
        except Exception:  # the parser recurses on nested comments, among others
            defects.add(f"{field}: unparseable address list")
            continue
        for name, address in pairs:
            spec = _addr_spec(address)
            display = decode_header_value(name)
            if address.strip() and not spec:
                defects.add(f"{field}: invalid address")
            if spec or display:
                result.append(MailAddress(name=display, address=spec))
    return tuple(result)


def _date(value: str, defects: _Defects) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": the zone is unknown; UTC is the best reading
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, IndexError):
        defects.add(f"unreadable Date {value[:60]!r}")
        return None


def _return_path(value: str) -> str:
    bracket = re.search(r"<([^<>]*)>", value)
    inner = (bracket.group(1) if bracket else value).strip()
    return _addr_spec(inner) or inner


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
    defects: _Defects,
) -> list[_Leaf]:
    """Visit the MIME tree in document order without recursion; return the text leaves."""
    leaves: list[_Leaf] = []
    stack: list[_StackItem] = [(top_headers, body_start, len(raw), 1, (), "text/plain")]
    seen = 0
    while stack:
        headers, start, end, level, path, default = stack.pop()
        if headers is None:
            headers, start = _read_headers(raw, start, end, defects, top=False)
        seen += 1
        ctype, params = _content_type(headers, default, defects)
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
            disposition, has_filename = _disposition(headers, defects)
            if disposition == "attachment" or (has_filename and disposition != "inline"):
                continue  # a text file attached, not the message
            encoding = _first(headers, "content-transfer-encoding")
            encoding_name = _clean(_header_text(encoding or b"", defects)).lower()
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


def _leaf_text(raw: bytes, leaf: _Leaf, budget: int, defects: _Defects) -> str:
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
        decoded = _b64(re.sub(rb"\s+", b"", data))
        if decoded is None:  # pragma: no cover - _b64 always recovers
            decoded = b""
        data = decoded
    elif leaf.encoding == "quoted-printable":
        data = binascii.a2b_qp(data)
    elif leaf.encoding not in ("", "7bit", "8bit", "binary"):
        defects.add(f"unknown Content-Transfer-Encoding {leaf.encoding[:30]!r}, read as is")
    kind = "HTML body" if leaf.html else "body"
    text = _decode_text(data, leaf.charset, kind, defects)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_BODY_CONTROLS)
    if leaf.html:
        try:
            text = html_to_text(text)
        except Exception:  # html.parser on hostile markup: keep going
            defects.add("HTML body could not be converted; tags stripped")
            text = strip_tags(text)
    elif leaf.params.get("format", "").lower() == "flowed":
        text = _unflow(text, leaf.params.get("delsp", "").lower() == "yes")
    return text.strip("\n")


def _body(raw: bytes, chosen: list[_Leaf], limits: MailLimits, defects: _Defects) -> str:
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
            origin, f"message could not be parsed ({type(exc).__name__}: {_clean(str(exc))[:120]})"
        ) from exc


def _parse(raw: bytes, origin: str, limits: MailLimits) -> ParsedMail:
    defects = _Defects()
    top, body_start = _read_headers(raw, 0, len(raw), defects, top=True)
    if not top:
        raise InputError(origin, "no mail headers found (not an internet message)")

    texts: dict[str, list[str]] = {}  # raw text of each header, unfolded, not yet decoded
    for name, value in top:
        texts.setdefault(name, []).append(_header_text(value, defects))
    headers = {
        name: tuple(_clean(_decode_words(value, defects)) for value in values)
        for name, values in texts.items()
    }

    def first(name: str) -> str | None:
        values = texts.get(name)
        return _clean(values[0]) if values else None

    message_ids = _msg_ids(first("message-id") or "")
    if "message-id" in texts and not message_ids:
        defects.add("unreadable Message-ID")
    references = tuple(dict.fromkeys(_msg_ids(" ".join(texts.get("references", [])))))
    in_reply_to = _msg_ids(first("in-reply-to") or "")

    date_text = first("date")
    date = _date(date_text, defects) if date_text else None
    if date_text is None:
        defects.add("no Date header")

    senders = _addresses(texts.get("from", [])[:1], "From", defects)
    if "from" not in texts:
        defects.add("no From header")
    return_path = first("return-path")

    ctype, params = _content_type(top, "text/plain", defects)
    leaves = _walk(raw, top, body_start, limits, defects)
    chosen = _choose(leaves)
    text = _body(raw, chosen, limits, defects)
    html_text = ""
    if chosen and not chosen[0].html and (html_leaves := _of_kind(leaves, html=True)):
        # Some senders put facts only in the HTML part (FreeScout: the customer's address).
        # Its defects repeat the text part's, or do not matter: the text part is the body.
        html_text = _body(raw, html_leaves, _ALTERNATIVE_LIMITS, _Defects())

    return ParsedMail(
        origin=origin,
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=references[-_MAX_IDS:],
        subject=headers.get("subject", ("",))[0],
        sender=senders[0] if senders else MailAddress(name="", address=""),
        to=_addresses(texts.get("to", []), "To", defects),
        cc=_addresses(texts.get("cc", []), "Cc", defects),
        reply_to=_addresses(texts.get("reply-to", []), "Reply-To", defects),
        return_path=None if return_path is None else _return_path(return_path),
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
