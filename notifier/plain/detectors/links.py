"""Links: not findings, the spans inside which the gate stays quiet."""

from __future__ import annotations

import re

from notifier.plain.detectors.findings import _QUICK_LINK, _quick, _trim

# -- links (not findings: the gate stays quiet inside them) --------------------------------

_LINK_RE = re.compile(
    r"\b(?:https?|ftp)://[^\s<>\"']+"
    r"|\bwww\.[^\s<>\"']+"
    r"|[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def find_links(text: str) -> list[tuple[int, int]]:
    """Spans of web links and e-mail addresses: plain enough for a requester to use."""
    if not _quick(_QUICK_LINK, text):
        return []
    return [(m.start(), _trim(text, m.start(), m.end())) for m in _LINK_RE.finditer(text)]
