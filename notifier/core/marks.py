"""Where each piece of a rendered message came from, carried through Jinja as invisible marks.

The plain-language gate must tell three kinds of text apart: the template's own words, values
from the ticket (always checked: technicians' notes live there), and values the template author
explicitly allowed (``{{ ticket.id | allow_jargon }}``: never reported). Rendering wraps every
``{{ expression }}`` output in DATA marks and every allowed value in ALLOW marks, using Unicode
private-use characters that cannot come from input (they are removed from ticket data before
rendering). :func:`split_marks` removes the marks and returns the clean text with the spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

ALLOW_OPEN, ALLOW_CLOSE = "\ue000", "\ue001"
DATA_OPEN, DATA_CLOSE = "\ue002", "\ue003"
_ALL_MARKS = re.compile("[\ue000-\ue003]")
_SPLIT_MARKS = re.compile("([\ue000-\ue003])")

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class MarkedText:
    text: str  # without marks: what the requester reads
    allowed: tuple[Span, ...]  # spans a template explicitly allowed (never reported)
    data: tuple[Span, ...]  # spans that came from ticket or team data

    def origin(self, start: int) -> str:
        """``template`` or ``data`` for a finding starting at ``start``."""
        return "data" if any(s <= start < e for s, e in self.data + self.allowed) else "template"


def unmarked(value: str) -> str:
    """Input text with any mark characters removed, so input can never forge a mark."""
    return _ALL_MARKS.sub("", value)


def allow_jargon(value: Any) -> Any:
    """The Jinja filter: the template allows this value as it is."""
    if isinstance(value, Markup):
        return Markup(ALLOW_OPEN) + value + Markup(ALLOW_CLOSE)  # noqa: S704 - constant marks
    return f"{ALLOW_OPEN}{value}{ALLOW_CLOSE}"


def mark_data(value: Any) -> Any:
    """Jinja ``finalize``: every expression's output is data unless already allowed."""
    if isinstance(value, str) and value.startswith(ALLOW_OPEN):
        return value
    if isinstance(value, Markup):
        return Markup(DATA_OPEN) + value + Markup(DATA_CLOSE)  # noqa: S704 - constant marks
    return f"{DATA_OPEN}{value}{DATA_CLOSE}"


def split_marks(marked: str) -> MarkedText:
    """Strip the marks; spans are offsets into the clean text. Nested marks use the outermost."""
    # Splitting on the marks gives text, mark, text, ..., text: only the marks (a few per
    # message) are visited, and each mark's offset is the length of the text before it.
    parts = _SPLIT_MARKS.split(marked)
    allowed: list[Span] = []
    data: list[Span] = []
    stack: list[tuple[str, int]] = []
    position = len(parts[0])
    for char, following in zip(parts[1::2], parts[2::2], strict=True):
        if char in (ALLOW_OPEN, DATA_OPEN):
            stack.append((char, position))
        elif stack:
            kind, start = stack.pop()
            if not stack and position > start:
                (allowed if kind == ALLOW_OPEN else data).append((start, position))
            elif stack and kind == ALLOW_OPEN and position > start:
                allowed.append((start, position))  # an allowed value inside data
        position += len(following)
    return MarkedText("".join(parts[::2]), tuple(allowed), tuple(data))


def strip_marks(marked: str) -> str:
    return _ALL_MARKS.sub("", marked)
