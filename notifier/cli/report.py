"""What ``notifier report`` prints: a table, JSON or CSV (HTML in :mod:`notifier.cli.report_html`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from notifier.cli.report_words import (
    COLUMNS,
    never_told,
    people,
    period,
    table_cells,
    unnamed_input,
)
from notifier.core.printable import csv_cell, json_text, printable
from notifier.core.report import Report, TeamLine


def format_report(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json_text(_as_dict(report), indent=2)
    if fmt == "csv":
        return _csv(report)
    if fmt == "html":
        from notifier.cli.report_html import render_html

        return render_html(report)
    return _table(report)


def _table(report: Report) -> str:
    cells = [table_cells(line) for line in (*report.teams, report.total)]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]

    def row(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [f"notifier report: {period(report)}", "", row(COLUMNS)]
    out += [row(c) for c in cells[:-1]]
    out += ["-" * len(row(COLUMNS)), row(cells[-1])]
    reasons = [(line.team, line.suppressed) for line in report.teams if line.suppressed]
    if reasons:
        out += ["", "suppressed, by reason:"]
        for team, counts in reasons:
            out += [
                f"  {printable(team)}: {count} {printable(reason)}"
                for reason, count in counts.items()
            ]
    headline = never_told(report)
    if headline:
        out += ["", f"{headline} (notifier audit --status rejected):"]
        out += [
            f"  {printable(line.team)}: {people(line.rejected)}"
            for line in report.teams
            if line.rejected
        ]
    if report.rejected_without_ticket:
        out += ["", unnamed_input(report)]
    out += [
        "",
        "seen = notified + suppressed + held + failed + cancelled + pending, by where each stands now",
        "rejected: people never told because their ticket's data could not be used (not in seen)",
        "median, p95: from the ticket's resolved time to delivery (95th percentile, nearest rank)",
        "findings: share of rendered notices that had plain-language findings",
    ]
    return "\n".join(out)


def _line_dict(line: TeamLine) -> dict[str, object]:
    return {
        "team": line.team,
        "seen": line.seen,
        "notified": line.notified,
        "suppressed": line.suppressed_total,
        "suppressed_by_reason": line.suppressed,
        "held": line.held,
        "failed": line.failed,
        "cancelled": line.cancelled,
        "pending": line.pending,
        "rejected": line.rejected,
        "delivered_measured": len(line.delivery_seconds),
        "median_seconds": line.median_seconds,
        "p95_seconds": line.p95_seconds,
        "rendered": line.rendered,
        "with_findings": line.with_findings,
        "findings_share": line.findings_share,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _as_dict(report: Report) -> dict[str, object]:
    return {
        "since": _iso(report.since),
        "until": _iso(report.until),
        "generated_at": _iso(report.generated_at),
        "teams": [_line_dict(line) for line in report.teams],
        "total": _line_dict(report.total),
        "rejected_without_ticket": report.rejected_without_ticket,
    }


def _csv(report: Report) -> str:
    buffer = io.StringIO()
    names = [
        "team", "seen", "notified", "suppressed", "held", "failed", "cancelled", "pending",
        "rejected", "delivered_measured", "median_seconds", "p95_seconds", "rendered", "with_findings",
        "findings_share", "suppressed_by_reason",
    ]  # fmt: skip
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for line in (*report.teams, report.total):
        values = _line_dict(line)
        values["suppressed_by_reason"] = "; ".join(
            f"{reason}={count}" for reason, count in line.suppressed.items()
        )
        writer.writerow({k: "" if v is None else csv_cell(v) for k, v in values.items()})
    return buffer.getvalue().rstrip("\n")
