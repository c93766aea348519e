"""What a detector reports (:class:`Finding`), and the quick pre-checks that let a
detector skip a paragraph its patterns cannot match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from notifier.plain.textcache import text_cache

Severity = Literal["block", "warn", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Something in a text that a requester may not understand."""

    kind: str
    text: str
    start: int
    end: int
    suggestion: str
    severity: Severity
    replacement: str | None = None


SUGGESTIONS = {
    "ipv4": "leave the address out; say 'your computer', 'the printer' or 'the server'",
    "ipv6": "leave the address out; say 'your computer', 'the printer' or 'the server'",
    "mac": "leave the hardware code out; say 'your laptop' or 'the printer'",
    "guid": "leave the code out; say what it belongs to in plain words",
    "hostname": "leave the server name out; say 'the file server' or 'our email system'",
    "machine_name": "leave the machine name out; say 'your computer' or 'the printer'",
    "path": "leave the path out; say 'your Documents folder' or 'the team's shared folder'",
    "stack_trace": "leave the error details out; say what went wrong and what works now",
    "exception": "leave the error name out; say what went wrong and what works now",
    "error_code": "leave the error code out; say what went wrong and what works now",
    "http_status": "leave the status code out; say 'the website was not working'",
    "command": "leave the command out; say what you did ('I cleared a saved setting')",
    "ticket_code": "leave the code out, or link to the page in plain words",
    "identifier": "leave the technical name out; describe it in plain words",
    "hex": "leave the code out; say what it belongs to in plain words",
}

_TRAILING = ".,;:!?)]}'\"’”"

# Cheap first checks: most messages have none of these, and a pattern with no lookbehind at its
# start lets the regex engine skip ahead fast. Each detector returns early when its check fails.
_QUICK_IPV4 = re.compile(r"\d\.\d{1,3}\.\d")
_QUICK_IPV6 = re.compile(r"::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]")
_QUICK_MAC = re.compile(r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.")
_QUICK_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-")
_QUICK_HOST = re.compile(r"[A-Za-z0-9]\.[A-Za-z]{2}")
_QUICK_DIGIT_WORD = re.compile(r"[A-Za-z]-?\d|\d-?[A-Za-z]")
_QUICK_UNIX_PATH = re.compile(r"/[\w.~]")
_QUICK_EXCEPTION = re.compile(r"Exception|Error|Fault|Traceback|File \"|^[ \t]*at ", re.MULTILINE)
_QUICK_THREE_DIGITS = re.compile(r"[1-5]\d\d")
_QUICK_STATUS_REASON = re.compile(r"[1-5]\d\d\s+[A-Za-z]")
_HTTP_CONTEXT = ("http", "error", "status", "respon", "return", "code")
_QUICK_TICKET = re.compile(r"[A-Z]\d{4}")
_QUICK_CAMEL = re.compile(r"[a-z][A-Z]|[A-Za-z0-9]_[A-Za-z0-9]")
_QUICK_HEX = re.compile(r"[0-9a-fA-F]{12}")
_QUICK_LINK = re.compile(r"://|www\.|@")
_QUICK_NAMED_CODE = re.compile(r"[A-Z]{2}[A-Z_-]*\d|[A-Z]_[A-Z]|E[A-Z]{3}")
_QUICK_CMDLET = re.compile(r"[a-z]-[A-Z]")
_QUICK_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]")
_QUICK_UNC_PATH = re.compile(r"\\\\")
# The checks asked through _quick() (all but _QUICK_STATUS_REASON). None may match a line break
# (tested), so a text can be searched paragraph by paragraph.
_LINE_QUICK = (
    _QUICK_IPV4,
    _QUICK_IPV6,
    _QUICK_MAC,
    _QUICK_GUID,
    _QUICK_HOST,
    _QUICK_DIGIT_WORD,
    _QUICK_UNIX_PATH,
    _QUICK_EXCEPTION,
    _QUICK_THREE_DIGITS,
    _QUICK_TICKET,
    _QUICK_CAMEL,
    _QUICK_HEX,
    _QUICK_LINK,
    _QUICK_NAMED_CODE,
    _QUICK_CMDLET,
    _QUICK_WINDOWS_PATH,
    _QUICK_UNC_PATH,
)


def _quick(pattern: re.Pattern[str], text: str) -> bool:
    """``pattern.search(text)`` for a pattern of _LINE_QUICK, answered from a cache."""
    return pattern in _quick_hits(text)


def _quick_hits(text: str) -> frozenset[re.Pattern[str]]:
    """The _LINE_QUICK patterns found in a text. Every detector asks about the same text, so
    the latest few are kept (unless long: at most 16 texts of 20,000 characters are held);
    each paragraph's answer is cached too, since a template's own paragraphs recur."""
    if len(text) > _QUICK_HITS_LONGEST:
        return _find_quick_hits(text)
    return _recent_quick_hits(text)


_QUICK_HITS_LONGEST = 20_000


def _find_quick_hits(text: str) -> frozenset[re.Pattern[str]]:
    hits: frozenset[re.Pattern[str]] = frozenset()
    for paragraph in text.split("\n\n"):
        hits |= _paragraph_hits(paragraph)
    return hits


_recent_quick_hits = lru_cache(maxsize=16)(_find_quick_hits)


@text_cache
def _paragraph_hits(paragraph: str) -> frozenset[re.Pattern[str]]:
    return frozenset(pattern for pattern in _LINE_QUICK if pattern.search(paragraph))


def _finding(kind: str, text: str, start: int, end: int) -> Finding:
    return Finding(kind, text[start:end], start, end, SUGGESTIONS[kind], "block")


def _trim(text: str, start: int, end: int) -> int:
    """Drop sentence punctuation that a greedy pattern swallowed at the end."""
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    return end
