"""IP, MAC and GUID addresses; a time or a version is not one (confirmed with :mod:`ipaddress`)."""

from __future__ import annotations

import ipaddress
import re

from notifier.plain.detectors.findings import (
    _QUICK_GUID,
    _QUICK_IPV4,
    _QUICK_IPV6,
    _QUICK_MAC,
    Finding,
    _finding,
    _quick,
)

# -- addresses ----------------------------------------------------------------------------

_IPV4_RE = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?!\w|\.\d)")
_VERSION_BEFORE_RE = re.compile(r"(?i)\b(?:version|ver|v|build|release)\.?\s*$")
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?:%[\w.]+)?(?:/\d{1,3})?(?![\w:])"
)
_MAC_RE = re.compile(
    r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![\w:-])"
    r"|(?<![\w.])(?=[\d.]*[A-Fa-f])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])"
)
_GUID_RE = re.compile(
    r"\{?(?<![\w-])[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}(?![\w-])\}?"
)


def find_ipv4(text: str) -> list[Finding]:
    """IPv4 addresses and networks (10.1.2.3, 192.168.0.0/24), confirmed with ipaddress."""
    found: list[Finding] = []
    if not _quick(_QUICK_IPV4, text):
        return found
    for match in _IPV4_RE.finditer(text):
        candidate = match.group()
        try:
            ipaddress.ip_interface(candidate)
        except ValueError:
            continue
        if _VERSION_BEFORE_RE.search(text, max(0, match.start() - 12), match.start()):
            continue
        found.append(_finding("ipv4", text, match.start(), match.end()))
    return found


def find_ipv6(text: str) -> list[Finding]:
    """IPv6 addresses (fe80::1, 2001:db8::5/64); times such as 10:30:15 fail ipaddress."""
    found: list[Finding] = []
    if not _quick(_QUICK_IPV6, text):
        return found
    for match in _IPV6_RE.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in ".:" and text[end - 2 : end] != "::":
            end -= 1
        candidate = text[match.start() : end]
        if not any(ch in "0123456789abcdefABCDEF" for ch in candidate):
            continue
        try:
            ipaddress.ip_interface(candidate.split("%")[0] if "/" not in candidate else candidate)
        except ValueError:
            continue
        found.append(_finding("ipv6", text, match.start(), end))
    return found


def find_mac(text: str) -> list[Finding]:
    """MAC addresses: 00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5e, 001a.2b3c.4d5e."""
    if not _quick(_QUICK_MAC, text):
        return []
    return [_finding("mac", text, m.start(), m.end()) for m in _MAC_RE.finditer(text)]


def find_guid(text: str) -> list[Finding]:
    """GUIDs, with or without braces."""
    if not _quick(_QUICK_GUID, text):
        return []
    return [_finding("guid", text, m.start(), m.end()) for m in _GUID_RE.finditer(text)]
