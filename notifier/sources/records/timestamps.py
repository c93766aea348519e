"""Turn the date strings found in ticket exports into aware UTC datetimes.

Pure functions, no clock. Accepted forms, tried in this order:

* epoch seconds or milliseconds (``1709648520``, ``1709648520000``);
* ISO 8601 with ``Z``, an offset or none (``2024-03-05T14:22:00Z``, ``2024-03-05 14:22:00 +0100``,
  ``2024-03-05 14:22``); a trailing ``UTC``/``GMT`` counts as ``Z``;
* Jira's ``05/Mar/24 2:22 PM`` (English month abbreviations, parsed without the C locale);
* ``DD/MM/YYYY HH:MM`` or ``MM/DD/YYYY HH:MM`` (also with ``-`` or ``.``) only when the caller says
  which order the export uses: ``03/05/2024`` alone is ambiguous and is rejected;
* RFC 2822 (``Tue, 05 Mar 2024 14:22:00 +0100``).

A time without a zone is read in ``default_tz`` (the export's configured zone).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NUMERIC_ORDERS = frozenset({"", "dmy", "mdy"})

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_EPOCH = re.compile(r"\d+(?:\.\d+)?")
# Below 1e8 s (1973) a number is far more likely a mis-mapped column than a timestamp.
_EPOCH_MIN = 1e8
_EPOCH_MS_FROM = 1e11
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZULU_WORD = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)
_SPACED_OFFSET = re.compile(r"(?P<base>.*\d)\s+(?P<off>[+-]\d{2}:?\d{2})$")
_TIME = r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp][Mm])?)?"
_JIRA = re.compile(r"(?P<d>\d{1,2})/(?P<mon>[A-Za-z]{3})/(?P<y>\d{4}|\d{2})" + _TIME)
_NUMERIC = re.compile(r"(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})" + _TIME)


def load_zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name such as ``Europe/Paris``, or ``UTC``)."""
    if name.strip().upper() in {"UTC", "Z", "ETC/UTC"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_timestamp(text: str, *, default_tz: tzinfo = UTC, numeric_order: str = "") -> datetime:
    """Parse ``text`` into an aware UTC datetime, or raise ``ValueError`` saying why not.

    ``numeric_order`` is ``"dmy"`` or ``"mdy"`` when the export is known to write all-numeric
    dates in that order, ``""`` when it is not known (then such dates are rejected as ambiguous).
    """
    if numeric_order not in NUMERIC_ORDERS:
        raise ValueError(f"numeric_order must be one of {sorted(NUMERIC_ORDERS)}")
    value = " ".join(text.split())
    if not value:
        raise ValueError("empty date")
    if _EPOCH.fullmatch(value):
        return _from_epoch(value)
    parsed = (
        _from_iso(value)
        or _from_jira(value)
        or _from_numeric(value, numeric_order, text)
        or _from_rfc2822(value)
    )
    if parsed is None:
        raise ValueError(f"unrecognised date {text!r}")
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed.astimezone(UTC)


def _from_epoch(value: str) -> datetime:
    number = float(value)
    if number >= _EPOCH_MS_FROM:
        number /= 1000.0
    if number < _EPOCH_MIN:
        raise ValueError(f"number {value!r} is not a plausible epoch timestamp")
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"epoch timestamp {value!r} is out of range") from exc


def _from_iso(value: str) -> datetime | None:
    if not _ISO_START.match(value):
        return None
    candidate = _ZULU_WORD.sub("+00:00", value)
    spaced = _SPACED_OFFSET.fullmatch(candidate)
    if spaced:
        candidate = spaced["base"] + spaced["off"]
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _clock(match: re.Match[str]) -> tuple[int, int, int]:
    if match["H"] is None:
        return 0, 0, 0
    hour, minute, second = int(match["H"]), int(match["M"]), int(match["S"] or 0)
    ampm = (match["ampm"] or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} is not valid with {ampm.upper()}")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    return hour, minute, second


def _from_jira(value: str) -> datetime | None:
    match = _JIRA.fullmatch(value)
    if not match:
        return None
    month = _MONTHS.get(match["mon"].lower())
    if month is None:
        raise ValueError(f"unknown month {match['mon']!r} in {value!r}")
    year = int(match["y"])
    if year < 100:
        year += 2000  # Jira writes "yy"; tickets before 2000 are not a concern here.
    return datetime(year, month, int(match["d"]), *_clock(match))


def _from_numeric(value: str, order: str, original: str) -> datetime | None:
    match = _NUMERIC.fullmatch(value)
    if not match:
        return None
    if not order:
        raise ValueError(
            f"ambiguous date {original!r}: day/month order is not known for this export"
        )
    first, second = int(match["a"]), int(match["b"])
    day, month = (first, second) if order == "dmy" else (second, first)
    return datetime(int(match["y"]), month, day, *_clock(match))


def _from_rfc2822(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.utcoffset() is None:
        # RFC 2822 "-0000" means UTC with no local zone known.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
