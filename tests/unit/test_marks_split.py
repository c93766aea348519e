"""split_marks gives exactly what the plain per-character reading of the marks gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from notifier.core.marks import (
    ALLOW_CLOSE,
    ALLOW_OPEN,
    DATA_CLOSE,
    DATA_OPEN,
    MarkedText,
    Span,
    split_marks,
)


def reference(marked: str) -> MarkedText:
    """The specification: read one character at a time, marks on a stack."""
    out: list[str] = []
    allowed: list[Span] = []
    data: list[Span] = []
    stack: list[tuple[str, int]] = []
    for char in marked:
        if char in (ALLOW_OPEN, DATA_OPEN):
            stack.append((char, len(out)))
        elif char in (ALLOW_CLOSE, DATA_CLOSE):
            if stack:
                kind, start = stack.pop()
                if not stack and len(out) > start:
                    (allowed if kind == ALLOW_OPEN else data).append((start, len(out)))
                elif stack and kind == ALLOW_OPEN and len(out) > start:
                    allowed.append((start, len(out)))
        else:
            out.append(char)
    return MarkedText("".join(out), tuple(allowed), tuple(data))


MARKED = st.text(
    alphabet=st.sampled_from([ALLOW_OPEN, ALLOW_CLOSE, DATA_OPEN, DATA_CLOSE, "a", " ", "é", "\n"])
)


@settings(max_examples=500, deadline=None)
@given(MARKED)
def test_split_marks_matches_the_per_character_reading(marked: str) -> None:
    """Nested, unbalanced, empty and adjacent marks alike."""
    assert split_marks(marked) == reference(marked)


def test_nested_allowed_value_inside_data_and_plain_text() -> None:
    marked = f"Hi {DATA_OPEN}Sam {ALLOW_OPEN}P-1{ALLOW_CLOSE}{DATA_CLOSE}!"
    assert split_marks(marked) == MarkedText("Hi Sam P-1!", ((7, 10),), ((3, 10),))
    assert split_marks("no marks") == MarkedText("no marks", (), ())
    assert split_marks("") == MarkedText("", (), ())


def test_markup_input_gives_plain_text() -> None:
    """An HTML-safe string in gives a plain ``str`` out, as before."""
    split = split_marks(Markup(f"{DATA_OPEN}<b>x</b>{DATA_CLOSE}"))  # noqa: S704 - constant
    assert type(split.text) is str
    assert split == MarkedText("<b>x</b>", (), ((0, 8),))
    assert type(split_marks(Markup("no marks")).text) is str
