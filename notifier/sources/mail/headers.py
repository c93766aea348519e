"""A message's header block and its structured values: content types and their parameters,
Message-IDs, addresses, dates. Bounded: a value longer than the caps is not parsed.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from notifier.sources.mail.decode import (
    ENCODED_WORD,
    MAX_STRUCTURED,
    Defects,
    clean_text,
    decode_header_value,
    decode_text,
)
from notifier.sources.mail.types import MailAddress

# -- header blocks --------------------------------------------------------------------------

_HEADER_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")  # printable ASCII but ":" (RFC 5322 ftext)


def read_headers(
    raw: bytes, start: int, end: int, defects: Defects, *, top: bool
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


def header_text(value: bytes, defects: Defects) -> str:
    """Header bytes as text: ASCII, else UTF-8 (RFC 6532), else windows-1252."""
    if value.isascii():
        return value.decode("ascii")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        defects.add("header: 8-bit bytes not UTF-8, read as windows-1252")
        return value.decode("cp1252", errors="replace")


def first_header(headers: list[tuple[str, bytes]], name: str) -> bytes | None:
    return next((value for key, value in headers if key == name), None)


# -- structured values ----------------------------------------------------------------------

_MIME_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIME_TYPE = re.compile(rf"{_MIME_NAME}/{_MIME_NAME}")
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _params(text: str, defects: Defects) -> dict[str, str]:
    """MIME parameters, with RFC 2231 continuations (``name*0*=``) and charsets (``name*=``)."""
    simple: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for match in _PARAM.finditer(text[:MAX_STRUCTURED]):
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
        simple[base] = decode_text(bytes(data), charset, "parameter", defects)
    return simple


def parse_content_type(
    headers: list[tuple[str, bytes]], default: str, defects: Defects
) -> tuple[str, dict[str, str]]:
    value = first_header(headers, "content-type")
    if value is None:
        return default, {}
    text = clean_text(header_text(value, defects))
    main, _, _rest = text.partition(";")
    ctype = main.strip().lower()
    if not _MIME_TYPE.fullmatch(ctype):
        # RFC 2045 section 5.2: an invalid Content-Type means the default.
        defects.add(f"invalid Content-Type {ctype[:40]!r}")
        return default, {}
    return ctype, _params(text[len(main) :], defects)


def parse_disposition(headers: list[tuple[str, bytes]], defects: Defects) -> tuple[str, bool]:
    """(disposition type, whether a file name is given)."""
    value = first_header(headers, "content-disposition")
    if value is None:
        return "", False
    text = clean_text(header_text(value, defects))
    kind, _, _rest = text.partition(";")
    params = _params(text[len(kind) :], defects)
    return kind.strip().lower(), bool(params.get("filename"))


_MSG_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")


def msg_ids(value: str) -> list[str]:
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

    return ENCODED_WORD.sub(hide, text), words


def _show_words(text: str, words: list[str]) -> str:
    if not words:
        return text

    def show(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return words[index] if index < len(words) else match.group()  # a forged placeholder

    return _PLACEHOLDER.sub(show, text)


def parse_addresses(values: list[str], field: str, defects: Defects) -> tuple[MailAddress, ...]:
    result: list[MailAddress] = []
    for value in values:
        cleaned = clean_text(value)  # control characters out before the address parser sees them
        if len(cleaned) > MAX_STRUCTURED:
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


def date_of(value: str, defects: Defects) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": the zone is unknown; UTC is the best reading
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, IndexError):
        defects.add(f"unreadable Date {value[:60]!r}")
        return None


def parse_return_path(value: str) -> str:
    bracket = re.search(r"<([^<>]*)>", value)
    inner = (bracket.group(1) if bracket else value).strip()
    return _addr_spec(inner) or inner
