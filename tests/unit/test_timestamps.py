"""Date strings from ticket exports become aware UTC datetimes, or a specific ValueError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.sources.records.timestamps import load_zone, parse_timestamp

PARIS = "Europe/Paris"
NY = "America/New_York"

# (text, default zone, numeric order, expected UTC instant)
GOOD = [
    ("2024-03-05T14:22:00Z", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05T14:22:00.250Z", "UTC", "", datetime(2024, 3, 5, 14, 22, 0, 250000, tzinfo=UTC)),
    ("2024-03-05T15:22:00+01:00", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05T09:22:00-0500", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05 15:22:00 +0100", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05 14:22:00 UTC", PARIS, "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05 14:22", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05 15:22:00", PARIS, "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-07-05 16:22", PARIS, "", datetime(2024, 7, 5, 14, 22, tzinfo=UTC)),  # summer time
    ("  2024-03-05   14:22  ", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("2024-03-05", "UTC", "", datetime(2024, 3, 5, tzinfo=UTC)),
    ("05/Mar/24 2:22 PM", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("05/Mar/24 12:05 AM", "UTC", "", datetime(2024, 3, 5, 0, 5, tzinfo=UTC)),
    ("05/mar/2024 12:05 pm", "UTC", "", datetime(2024, 3, 5, 12, 5, tzinfo=UTC)),
    ("05/Mar/24 9:22 AM", NY, "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("05/03/2024 14:22", "UTC", "dmy", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("05-03-2024 14:22", "UTC", "dmy", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("03/05/2024 2:22 PM", "UTC", "mdy", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("Tue, 05 Mar 2024 15:22:00 +0100", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("Tue, 05 Mar 2024 14:22:00 -0000", PARIS, "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("1709648520", PARIS, "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("1709648520000", "UTC", "", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
    ("1709648520.5", "UTC", "", datetime(2024, 3, 5, 14, 22, 0, 500000, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "zone", "order", "expected"), GOOD)
def test_known_formats_parse_to_the_same_utc_instant(
    text: str, zone: str, order: str, expected: datetime
) -> None:
    """Every supported export date form yields the right instant, aware and in UTC."""
    parsed = parse_timestamp(text, default_tz=load_zone(zone), numeric_order=order)
    assert parsed == expected
    assert parsed.tzinfo is UTC


BAD = [
    ("", "empty date"),
    ("   ", "empty date"),
    ("yesterday", "unrecognised date"),
    ("05/03/2024 14:22", "ambiguous date"),  # no order known: refuse to guess
    ("05/Mrz/24 2:22 PM", "unknown month"),
    ("31/Feb/24 2:22 PM", "day is out of range"),
    ("05/Mar/24 13:22 PM", "not valid with PM"),
    ("6", "not a plausible epoch"),
    ("2024-13-05 10:00", "unrecognised date"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_unusable_dates_raise_a_specific_error(text: str, message: str) -> None:
    """Unparseable, ambiguous or implausible dates are refused with a reason, never guessed."""
    with pytest.raises(ValueError, match=message):
        parse_timestamp(text)


def test_unknown_time_zone_is_named() -> None:
    """A misspelt zone name is reported by name so the config error can point at it."""
    with pytest.raises(ValueError, match="Europe/Pariss"):
        load_zone("Europe/Pariss")
