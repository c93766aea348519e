"""Windows, UNC and Unix paths."""

from __future__ import annotations

import re

from notifier.plain.detectors.findings import (
    _QUICK_UNC_PATH,
    _QUICK_UNIX_PATH,
    _QUICK_WINDOWS_PATH,
    Finding,
    _finding,
    _quick,
    _trim,
)

# -- paths --------------------------------------------------------------------------------

_WINDOWS_PATH_RE = re.compile(r"(?<![\w])[A-Za-z]:[\\/](?:[^\s\"'<>|*?,;]*)")
_UNC_PATH_RE = re.compile(r"\\\\[\w.$-]+(?:\\[^\s\"'<>|,;]*)*")
_UNIX_PATH_RE = re.compile(r"(?<![\w/.:~\\%-])(?:~|\.{1,2})?/(?:[\w.@%+~-]+/)*[\w.@%+~-]*")
_UNIX_ROOTS = frozenset(
    [
        "etc",
        "var",
        "usr",
        "home",
        "tmp",
        "opt",
        "dev",
        "proc",
        "mnt",
        "srv",
        "bin",
        "sbin",
        "root",
        "lib",
        "boot",
        "media",
        "sys",
        "run",
    ]
)


def find_paths(text: str) -> list[Finding]:
    """Windows (C:\\Users\\x), UNC (\\\\fs01\\finance) and Unix (/etc/hosts, ~/.ssh) paths.

    A Unix path needs two parts or a well-known first part (/etc), so dates (27/11/2026),
    "and/or", "24/7" and Windows switches (/force) are not paths.
    """
    found: list[Finding] = []
    for pattern, needed in (
        (_WINDOWS_PATH_RE, _QUICK_WINDOWS_PATH),
        (_UNC_PATH_RE, _QUICK_UNC_PATH),
    ):
        if not _quick(needed, text):
            continue
        for match in pattern.finditer(text):
            end = _trim(text, match.start(), match.end())
            found.append(_finding("path", text, match.start(), end))
    if not _quick(_QUICK_UNIX_PATH, text):
        return found
    for match in _UNIX_PATH_RE.finditer(text):
        end = _trim(text, match.start(), match.end())
        candidate = text[match.start() : end]
        parts = [part for part in candidate.split("/") if part and part not in {"~", ".", ".."}]
        relative = candidate.startswith(("~/", "./", "../"))
        if (relative and parts) or len(parts) >= 2 or (parts and parts[0] in _UNIX_ROOTS):
            if candidate.startswith("/") and not any(ch.isalpha() for ch in candidate):
                continue
            found.append(_finding("path", text, match.start(), end))
    return found
