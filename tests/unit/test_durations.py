"""Durations in configuration accept seconds and s/m/h/d/w units, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notifier.core.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [(30, timedelta(seconds=30)), ("30", timedelta(seconds=30)), ("10m", timedelta(minutes=10)),
     ("1.5h", timedelta(minutes=90)), ("3d", timedelta(days=3)), (" 2w ", timedelta(weeks=2))],
)  # fmt: skip
def test_valid(text: object, expected: timedelta) -> None:
    """Each accepted form gives the duration it names."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "10 minutes", "-5", True, "", None])
def test_invalid(text: object) -> None:
    """Anything else is a ValueError that shows the accepted forms."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
