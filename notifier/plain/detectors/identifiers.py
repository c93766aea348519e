"""Ticket codes, CamelCase and snake_case identifiers, long hex strings."""

from __future__ import annotations

import re

from notifier.plain.detectors.findings import (
    _QUICK_CAMEL,
    _QUICK_HEX,
    _QUICK_TICKET,
    Finding,
    _finding,
    _quick,
)
from notifier.plain.words import product_names

# -- codes and identifiers ----------------------------------------------------------------

_TICKET_RE = re.compile(
    r"\b(?:INC|RITM|CHG|PRB|KB|REQ|SCTASK|CTASK|PTASK|TASK|SR|RFC|PBI|STRY|WO)\d{4,}\b"
)


def find_ticket_codes(text: str) -> list[Finding]:
    """Ticket-system codes: INC0012345, RITM0012345, CHG..., PRB..., KB0012345, REQ..."""
    if not _quick(_QUICK_TICKET, text):
        return []
    return [_finding("ticket_code", text, m.start(), m.end()) for m in _TICKET_RE.finditer(text)]


_CAMEL_RE = re.compile(
    r"(?<![\w.'’-])(?:[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)(?![\w'’-])"
)
_SNAKE_RE = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w-])")
_SURNAME_RE = re.compile(r"(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|St)[A-Z][a-z]+")


def find_identifiers(text: str) -> list[Finding]:
    """camelCase, PascalCase and snake_case names (userPrincipalName, DisplayName, max_size),
    except product names people use (iPhone, PowerPoint, OneDrive) and surnames (McDonald)."""
    found: list[Finding] = []
    if not _quick(_QUICK_CAMEL, text):
        return found
    products = product_names()
    for match in _CAMEL_RE.finditer(text):
        token = match.group()
        if token.lower() in products or _SURNAME_RE.fullmatch(token):
            continue
        found.append(_finding("identifier", text, match.start(), match.end()))
    found.extend(_finding("identifier", text, m.start(), m.end()) for m in _SNAKE_RE.finditer(text))
    return found


_HEX_RE = re.compile(
    r"(?<![\w-])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}(?![\w-])"
)


def find_hex(text: str) -> list[Finding]:
    """Long hexadecimal strings (hashes, keys): 12 or more hex digits with letters and digits."""
    if not _quick(_QUICK_HEX, text):
        return []
    return [_finding("hex", text, m.start(), m.end()) for m in _HEX_RE.finditer(text)]
