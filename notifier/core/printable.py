"""Everything notifier writes for a person to read goes through here.

Ticket data (file names, ticket ids, titles, requester names, server answers) ends up in the
output of ``audit``, ``held``, ``explain``, ``status`` and the other commands. Written raw, an
ESC sequence in a title would drive the operator's terminal (clear the screen, retitle the
window, hide lines), a CR or LF would forge a line that looks like notifier's own, and a bidi
override (U+202E) or an invisible character would make a key or an address read differently
from what it is.

:func:`printable` makes such characters visible as Python-style escapes (``\\x1b``, ``\\r``,
``\\u202e``) in one field; :func:`printable_block` does the same but keeps line breaks and tabs
(text that is several lines by nature: a notice's words, a whole report). :func:`say` is the one
way the commands write to stdout or stderr: it passes everything through
:func:`printable_block`, so a formatter that forgot to escape a field still cannot put a control
character on the terminal (it can only lose the field's own line breaks). :func:`json_text`
serialises JSON with the same characters escaped as JSON ``\\u`` escapes, so the output still
parses to the same values. :func:`csv_cell` also defuses spreadsheet formulas.

Escaped: C0 controls, DEL and C1 controls (category Cc), format characters (Cf: bidi
embeddings, overrides and isolates, zero-width space and joiners, BOM, soft hyphen, tag
characters), line and paragraph separators (Zl, Zp) and lone surrogates (Cs, which cannot even
be encoded). A backslash is not escaped: ``\\x1b`` typed into a title reads as the same text,
which is harmless.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any, TextIO

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@")


def is_hidden(ch: str) -> bool:
    """True for a character that acts on a terminal or is invisible: see the module text."""
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES


def escape_char(ch: str) -> str:
    """``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``, the way Python writes it; named ones for tab,
    line feed and carriage return."""
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(value: object) -> str:
    """One field of ticket data, safe to show in a line: every hidden character escaped."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case, decided in C: nothing to escape
        return text
    return "".join(escape_char(ch) if is_hidden(ch) else ch for ch in text)


def printable_block(text: str) -> str:
    """Text of several lines, safe to show: like :func:`printable`, but line feeds and tabs stay."""
    if text.isprintable():
        return text
    return "".join(escape_char(ch) if ch not in "\n\t" and is_hidden(ch) else ch for ch in text)


def say(text: object = "", *, err: bool = False, flush: bool = False) -> None:
    """Write ``text`` and a line feed to stdout (stderr with ``err``), hidden characters escaped.

    The one output function of the commands (``tests/unit/test_printable.py`` checks that no
    other module prints).
    """
    stream: TextIO | None = sys.stderr if err else sys.stdout
    if stream is None:  # no stream at all (pythonw, a closed descriptor): nothing to write to
        return
    stream.write(printable_block(text if isinstance(text, str) else str(text)) + "\n")
    if flush:
        stream.flush()


def say_to(stream: TextIO, text: object) -> None:
    """:func:`say` to another stream (``sys.__stderr__`` when stdout itself has failed)."""
    stream.write(printable_block(text if isinstance(text, str) else str(text)) + "\n")
    stream.flush()


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` with the hidden characters that JSON
    leaves raw (DEL, C1, Cf, Zl, Zp) written as ``\\u`` escapes: the same values, safe to show.

    Usable as structlog's ``JSONRenderer(serializer=...)``.
    """
    options.setdefault("ensure_ascii", False)
    text = json.dumps(value, **options)
    if text.isprintable():
        return text
    # json.dumps escapes C0 and quotes, so the only line breaks left are those of ``indent``;
    # every other hidden character can only be inside a string, where a \u escape means it.
    return "".join(_json_escape(ch) if ch != "\n" and is_hidden(ch) else ch for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def csv_cell(value: object) -> object:
    """A CSV cell for a person's spreadsheet: text escaped as :func:`printable` does, and a cell
    that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) prefixed with
    ``'``. Numbers and ``None`` are kept (a negative number is not a formula)."""
    if value is None or isinstance(value, int | float):
        return value
    text = printable(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
