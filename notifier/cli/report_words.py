"""The report's numbers in words and cells, shared by the text, CSV and HTML outputs."""

from __future__ import annotations

from notifier.core.printable import printable
from notifier.core.report import Report, TeamLine


def human_duration(seconds: float | None) -> str:
    """``45s``, ``12m 05s``, ``3h 07m``, ``2d 04h``; ``-`` when there is nothing to measure."""
    if seconds is None:
        return "-"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def period(report: Report) -> str:
    start = f"{report.since:%Y-%m-%d %H:%M} UTC" if report.since else "the beginning"
    end = f"{report.until:%Y-%m-%d %H:%M} UTC" if report.until else "now"
    return f"resolutions first seen from {start} to {end}"


def people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def never_told(report: Report) -> str:
    """The headline of rejected input: "3 people were never told ..." ("" when none)."""
    count = report.total.rejected
    if not count:
        return ""
    verb = "was" if count == 1 else "were"
    return f"{people(count)} {verb} never told: notifier could not use their ticket's data"


def unnamed_input(report: Report) -> str:
    count = report.rejected_without_ticket
    if not count:
        return ""
    items = "1 more item" if count == 1 else f"{count} more items"
    return f"{items} of input could not be used and named no ticket that could be read"


COLUMNS = (
    "team", "seen", "notified", "suppressed", "held", "failed", "cancelled", "pending",
    "rejected", "median", "p95", "findings",
)  # fmt: skip


def table_cells(line: TeamLine) -> tuple[str, ...]:
    return (
        printable(line.team),
        str(line.seen),
        str(line.notified),
        str(line.suppressed_total),
        str(line.held),
        str(line.failed),
        str(line.cancelled),
        str(line.pending),
        str(line.rejected),
        human_duration(line.median_seconds),
        human_duration(line.p95_seconds),
        percent(line.findings_share),
    )
