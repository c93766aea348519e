"""The report's arithmetic: nearest-rank percentiles, medians and readable durations."""

from __future__ import annotations

import pytest

from notifier.cli.report_words import human_duration, percent
from notifier.core.report import percentile


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 95, None),
        ([7.0], 95, 7.0),
        ([1.0, 2.0, 3.0], 95, 3.0),
        ([1.0, 2.0, 3.0], 50, 2.0),
        ([float(n) for n in range(1, 21)], 95, 19.0),  # ceil(0.95 * 20) = 19th value
        ([float(n) for n in range(1, 101)], 95, 95.0),
        ([float(n) for n in range(1, 101)], 100, 100.0),
    ],
)
def test_percentile_is_the_nearest_rank_an_observed_value(
    values: list[float], pct: float, expected: float | None
) -> None:
    """p95 is always one of the measured delays, never an interpolation."""
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (45, "45s"),
        (59.6, "1m 00s"),
        (605, "10m 05s"),
        (3600, "1h 00m"),
        (3 * 3600 + 7 * 60 + 20, "3h 07m"),
        (2 * 86400 + 4 * 3600, "2d 04h"),
    ],
)
def test_durations_read_like_a_person_would_say_them(seconds: float | None, text: str) -> None:
    """Durations in the table and the HTML page: two units at most, zero-padded second unit."""
    assert human_duration(seconds) == text


def test_shares_are_whole_percent_or_a_dash() -> None:
    """No notices rendered means no share, not 0%."""
    assert (percent(None), percent(0.0), percent(0.4), percent(1 / 3)) == ("-", "0%", "40%", "33%")
