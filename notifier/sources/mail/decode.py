"""Bytes and encoded words into clean text: charsets (with the aliases mail programs really
write and the codecs refused), RFC 2047 encoded words, and the control characters a decoded
value never keeps (so it cannot smuggle a header line). Problems are noted as defects, never
raised.
"""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

# -- text hygiene ---------------------------------------------------------------------------

# C0, DEL, C1 and the Unicode line and paragraph separators: all become spaces in header values.
_CONTROLS = {c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}
# Same for body text, but line breaks and tabs are content there.
BODY_CONTROLS = {c: v for c, v in _CONTROLS.items() if c not in (0x09, 0x0A)}
_MAX_DEFECTS = 50  # a message with 10,000 bad parts still gets a short list
MAX_STRUCTURED = 64 * 1024  # address and parameter headers longer than this are not parsed
MAX_IDS = 500  # msg-ids kept from References


def clean_text(text: str) -> str:
    """One line: control characters to spaces, whitespace runs collapsed, ends stripped."""
    return " ".join(text.translate(_CONTROLS).split())


class Defects:
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


def _decode_in(codec: str, data: bytes, what: str, defects: Defects) -> str:
    """``data.decode(codec)``, each lone surrogate replaced by U+FFFD: UTF-7 can spell one, and
    such text can be neither stored (SQLite) nor mailed (UTF-8)."""
    text = data.decode(codec)
    if _LONE_SURROGATE.search(text) is None:
        return text
    defects.add(f"{what}: a lone surrogate in {codec}, replaced")
    return _LONE_SURROGATE.sub("\ufffd", text)


def _decode_nonascii(data: bytes, charset: str, what: str, defects: Defects) -> str:
    if charset:
        codec = _codec(charset)
        if codec is None:
            defects.add(f"{what}: unknown charset {clean_text(charset)[:40]!r}")
        else:
            try:
                return _decode_in(codec, data, what, defects)
            except (UnicodeError, ValueError, LookupError):
                defects.add(f"{what}: not valid {clean_text(charset)[:40]}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if charset:
            defects.add(f"{what}: read as windows-1252")
        else:
            defects.add(f"{what}: no charset and not UTF-8, read as windows-1252")
        return data.decode("cp1252", errors="replace")


_ASCII_UNSAFE = ("utf-16", "utf-32", "utf_16", "utf_32", "iso2022", "iso-2022", "utf-7", "utf_7")


def decode_text(data: bytes, charset: str, what: str, defects: Defects) -> str:
    # Pure-ASCII bytes are ASCII text in every charset except the 16/32-bit and escape-based ones.
    if data.isascii() and not charset.lower().replace("_", "-").startswith(_ASCII_UNSAFE):
        return data.decode("ascii")
    if data.isascii() and charset:
        codec = _codec(charset)
        if codec is not None:
            try:
                return _decode_in(codec, data, what, defects)
            except (UnicodeError, ValueError, LookupError):
                defects.add(f"{what}: not valid {clean_text(charset)[:40]}")
        return data.decode("ascii")
    return _decode_nonascii(data, charset, what, defects)


# -- RFC 2047 encoded words -----------------------------------------------------------------

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def decode_base64(data: bytes) -> bytes | None:
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


def decode_words(text: str, defects: Defects) -> str:
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
            out.append(decode_text(bytes(pending), pending_charset, "header", defects))
            pending.clear()
            pending_charset = ""

    for match in ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        if not (pending_charset and not between.strip()):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: "utf-8*en"
        payload = match.group(3).encode("utf-8")
        data = (
            binascii.a2b_qp(payload, header=True)
            if match.group(2) in "Qq"
            else decode_base64(payload)
        )
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
    return clean_text(decode_words(value, Defects()))
