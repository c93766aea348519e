"""Server host names and machine names, not public web sites, room numbers or product names."""

from __future__ import annotations

import re

from notifier.plain.detectors.findings import (
    _QUICK_DIGIT_WORD,
    _QUICK_HOST,
    Finding,
    _finding,
    _quick,
)
from notifier.plain.words import product_names

# -- names --------------------------------------------------------------------------------

_HOST_RE = re.compile(
    r"(?<![\w@.\-/\\])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z](?![\w@-]|\.[A-Za-z0-9])"
)
_PUBLIC_TLDS = frozenset(
    [
        "com",
        "org",
        "net",
        "edu",
        "gov",
        "mil",
        "int",
        "io",
        "co",
        "uk",
        "de",
        "fr",
        "eu",
        "us",
        "ca",
        "au",
        "nz",
        "ie",
        "nl",
        "be",
        "ch",
        "at",
        "se",
        "no",
        "dk",
        "fi",
        "es",
        "it",
        "pt",
        "pl",
        "cz",
        "jp",
        "cn",
        "in",
        "br",
        "mx",
        "za",
        "info",
        "biz",
        "app",
        "dev",
        "cloud",
        "online",
        "site",
        "me",
        "tv",
        "ly",
        "ai",
    ]
)
_INTERNAL_TLDS = frozenset(
    [
        "local",
        "lan",
        "corp",
        "internal",
        "intranet",
        "localdomain",
        "home",
        "arpa",
        "test",
        "example",
        "invalid",
        "ad",
        "priv",
        "private",
        "intra",
    ]
)
_SERVER_LABELS = frozenset(
    [
        "corp",
        "ad",
        "dc",
        "dc1",
        "dc2",
        "srv",
        "svr",
        "server",
        "prod",
        "dev",
        "stage",
        "staging",
        "int",
        "internal",
        "infra",
        "mgmt",
        "vpn",
        "smtp",
        "imap",
        "mx",
        "ldap",
        "sql",
        "db",
        "fs",
        "nas",
        "san",
        "esx",
        "vcenter",
    ]
)


def find_hostnames(text: str) -> list[Finding]:
    """Dotted host names that look like servers: a digit in a label (fs01.corp.example.com),
    an internal suffix (intranet.local), a server word (mail.corp.example.org) or 4+ labels.

    Two- and three-label public names (portal.example.com, gov.uk) read as web addresses and
    are left alone; so are file names (report.pdf), because their suffix is no known domain.
    """
    found: list[Finding] = []
    if not _quick(_QUICK_HOST, text):
        return found
    for match in _HOST_RE.finditer(text):
        labels = match.group().lower().split(".")
        tld = labels[-1]
        if tld not in _PUBLIC_TLDS and tld not in _INTERNAL_TLDS:
            continue
        if labels[0] == "www":
            continue
        serverish = (
            tld in _INTERNAL_TLDS
            or len(labels) >= 4
            or any(any(ch.isdigit() for ch in label) for label in labels)
            or any(label in _SERVER_LABELS for label in labels[:-1])
        )
        if serverish:
            found.append(_finding("hostname", text, match.start(), match.end()))
    return found


# Only tokens with a digit in them: "[A-Za-z]...\d..." with hyphen-joined parts.
_NAME_TOKEN_RE = re.compile(
    r"\b(?<![.@/\\:-])[A-Za-z][A-Za-z-]*\d[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![\w@/\\]|-\w|\.\w|:\d)"
)
_MACHINE_SHAPE_RE = re.compile(r"[A-Za-z]{2,}\d{2,}[A-Za-z0-9]*")
_NOT_MACHINE_RE = re.compile(
    r"(?i)(?:FY|CY|Q[1-4]|H[12])\d{2,4}"  # fiscal years, quarters
    r"|\d+(?:st|nd|rd|th)"  # ordinals (never reached: they start with a digit)
)
_PLACE_BEFORE_RE = re.compile(
    r"(?i)\b(?:room|rm|floor|level|building|bldg|office|desk|suite|unit|bay|gate|platform"
    r"|flight|model|version|ver|size|type|seat|locker|aisle)\.?\s*(?:no\.?\s*)?$"
)
_POSTCODE_AFTER_RE = re.compile(r"\s\d[A-Z]{2}\b")


def find_machine_names(text: str) -> list[Finding]:
    """Computer and server names with digits: PC-4411, LAPTOP-7GH2K, SRV01, srv-db-02."""
    found: list[Finding] = []
    if not _quick(_QUICK_DIGIT_WORD, text):
        return found
    products = product_names()
    for match in _NAME_TOKEN_RE.finditer(text):
        token = match.group()
        digits = sum(ch.isdigit() for ch in token)
        letters = sum(ch.isalpha() for ch in token)
        if not digits or letters < 2 or len(token) < 4:
            continue
        if token.lower() in products or _NOT_MACHINE_RE.fullmatch(token):
            continue
        if "-" not in token and not _MACHINE_SHAPE_RE.fullmatch(token):
            continue
        if _PLACE_BEFORE_RE.search(text, max(0, match.start() - 16), match.start()):
            continue
        if _POSTCODE_AFTER_RE.match(text, match.end()):
            continue  # UK postcode: "AB12 3CD"
        found.append(_finding("machine_name", text, match.start(), match.end()))
    return found
