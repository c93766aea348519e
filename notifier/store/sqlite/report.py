"""``notifier report``: are we telling people when their requests are done?

A resolution counts in the period in which notifier first saw it (``notices.queued_at``), and
is counted once, by where it stands now: notified (sent), suppressed (by reason), held (waiting
for review), failed (dead letter), cancelled, or still pending (queued, deferred, sending).
So, per team, ``seen`` is the sum of those. Time to delivery runs from the ticket's resolved
time to the accepted send (``sent_at - resolved_at``, notices without a resolved time are left
out): the median, and the 95th percentile by the nearest-rank method (an observed value).
"Findings" is the share of rendered notices that carried plain-language findings.

"Rejected" counts people never told because their ticket's input could not be used: the tickets
(source and id) with an input row rejected in the period and no notice first seen at or after
that rejection (a fixed row that was read again is counted by its notice instead). It is not
part of ``seen``. Rejected input whose ticket id could not be read is counted apart, for all
teams only. Suppression reasons are grouped by the rule that suppressed, in words a manager
reads (see :func:`reason_words`), never by a ticket's own details.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sqlite3
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from notifier.core.clock import from_stamp, to_stamp
from notifier.core.printable import csv_cell, json_text, printable

_PENDING = frozenset({"queued", "deferred", "sending"})
ALL_TEAMS = "all teams"


@dataclass(frozen=True, slots=True)
class TeamLine:
    team: str
    seen: int
    notified: int
    suppressed: dict[str, int]  # reason -> count
    held: int
    failed: int
    cancelled: int
    pending: int
    delivery_seconds: tuple[float, ...]  # sorted
    rendered: int  # notices with words (the findings share's denominator)
    with_findings: int
    rejected: int = 0  # people never told: their ticket's input was rejected (not in seen)

    @property
    def suppressed_total(self) -> int:
        return sum(self.suppressed.values())

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.delivery_seconds) if self.delivery_seconds else None

    @property
    def p95_seconds(self) -> float | None:
        return percentile(self.delivery_seconds, 95)

    @property
    def findings_share(self) -> float | None:
        return self.with_findings / self.rendered if self.rendered else None

    @property
    def notified_share(self) -> float | None:
        return self.notified / self.seen if self.seen else None


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    teams: tuple[TeamLine, ...]
    rejected_without_ticket: int = 0  # rejected input naming no readable ticket
    total: TeamLine = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", _sum(ALL_TEAMS, self.teams))


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``: the smallest value with pct% at or below."""
    if not values:
        return None
    rank = max(math.ceil(pct / 100 * len(values)), 1)
    return values[rank - 1]


def build(
    connection: sqlite3.Connection,
    *,
    since: datetime | None,
    until: datetime | None,
    team: str | None,
    now: datetime,
) -> Report:
    clauses, params = _window("queued_at", since, until, team)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(
        "SELECT team, state, reason, resolved_at, sent_at, template, findings_json "  # noqa: S608 - fixed columns, bound values
        f"FROM notices {where} ORDER BY team, id",
        params,
    ).fetchall()
    by_team: dict[str, list[tuple[str, ...]]] = {}
    for row in rows:
        by_team.setdefault(str(row[0]), []).append(row)
    never_told, without_ticket = _rejected(connection, since=since, until=until, team=team)
    names = sorted(set(by_team) | set(never_told))
    lines = tuple(
        _line(name, by_team.get(name, []), rejected=never_told.get(name, 0)) for name in names
    )
    return Report(
        since=since,
        until=until,
        generated_at=now,
        teams=lines,
        rejected_without_ticket=without_ticket if team is None else 0,
    )


def _window(
    column: str, since: datetime | None, until: datetime | None, team: str | None
) -> tuple[list[str], list[str]]:
    """SQL conditions (and their values) for the report's period on ``column`` and its team."""
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(to_stamp(since))
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append(to_stamp(until))
    if team is not None:
        clauses.append("team = ?")
        params.append(team)
    return clauses, params


def _rejected(
    connection: sqlite3.Connection,
    *,
    since: datetime | None,
    until: datetime | None,
    team: str | None,
) -> tuple[dict[str, int], int]:
    """People never told, per team, and the rejected items that name no ticket."""
    clauses, params = _window("at", since, until, team)
    clauses += ["outcome = 'rejected'", "resolution_key = ''"]
    rows = connection.execute(
        "SELECT team, source, ticket_id, origin FROM audit AS a "  # noqa: S608 - fixed clauses, bound values
        f"WHERE {' AND '.join(clauses)} AND NOT (ticket_id != '' AND EXISTS ("
        "SELECT 1 FROM notices AS n WHERE n.source = a.source AND n.ticket_id = a.ticket_id "
        "AND n.queued_at >= a.at))",
        params,
    ).fetchall()
    tickets: dict[str, set[tuple[str, str]]] = {}
    unnamed: set[tuple[str, str]] = set()
    for team_name, source, ticket_id, origin in rows:
        if ticket_id:
            tickets.setdefault(str(team_name), set()).add((str(source), str(ticket_id)))
        else:
            unnamed.add((str(source), str(origin)))
    return {name: len(found) for name, found in tickets.items()}, len(unnamed)


# Each suppressing rule (rules.evaluate's step names) in the words of someone who never saw
# the configuration. A closure reason is said with its value ("closed as duplicate").
_RULE_WORDS = {
    "protected_recipient": "the requester is one of our own addresses",
    "team_opt_out": "the team does not send notices",
    "requester_address": "the requester's address is on the do-not-notify list",
    "resolver_is_requester": "the requester resolved it themselves",
    "max_age": "resolved too long before notifier saw it",
}
_RULE_REASON = re.compile(r"rule (\w+): (.*)", re.DOTALL)
_CLOSURE_VALUE = re.compile(r" is (['\"])(.*)\1\s*$", re.DOTALL)
MAX_REASON_CHARS = 60  # a closure value is configured, but a report line stays a line


def reason_words(reason: str) -> str:
    """A suppression reason (``rule <id>: <this ticket's detail>``) grouped by its rule."""
    found = _RULE_REASON.match(reason)
    if found is None:
        return "another reason" if reason else "(no reason given)"
    rule, detail = found.groups()
    if rule == "closure_reason":
        value = _CLOSURE_VALUE.search(detail)
        if value is not None and value.group(2).strip():
            words = " ".join(value.group(2).casefold().split())
            return f"closed as {words[:MAX_REASON_CHARS]}"
        return "closed with a reason that needs no notice"
    return _RULE_WORDS.get(rule, f"rule {rule}")


def _line(team: str, rows: list[tuple[str, ...]], *, rejected: int = 0) -> TeamLine:
    states = Counter(str(row[1]) for row in rows)
    suppressed = Counter(reason_words(str(row[2])) for row in rows if row[1] == "suppressed")
    delays = sorted(
        (from_stamp(row[4]) - from_stamp(row[3])).total_seconds()
        for row in rows
        if row[1] == "sent" and row[3] and row[4]
    )
    rendered = [row for row in rows if row[5]]
    return TeamLine(
        team=team,
        seen=len(rows),
        notified=states["sent"],
        suppressed=dict(sorted(suppressed.items(), key=lambda item: (-item[1], item[0]))),
        held=states["held"],
        failed=states["failed"],
        cancelled=states["cancelled"],
        pending=sum(count for state, count in states.items() if state in _PENDING),
        delivery_seconds=tuple(delays),
        rendered=len(rendered),
        with_findings=sum(1 for row in rendered if row[6]),
        rejected=rejected,
    )


def _sum(name: str, lines: Sequence[TeamLine]) -> TeamLine:
    suppressed: Counter[str] = Counter()
    for line in lines:
        suppressed.update(line.suppressed)
    return TeamLine(
        team=name,
        seen=sum(line.seen for line in lines),
        notified=sum(line.notified for line in lines),
        suppressed=dict(sorted(suppressed.items(), key=lambda item: (-item[1], item[0]))),
        held=sum(line.held for line in lines),
        failed=sum(line.failed for line in lines),
        cancelled=sum(line.cancelled for line in lines),
        pending=sum(line.pending for line in lines),
        delivery_seconds=tuple(sorted(s for line in lines for s in line.delivery_seconds)),
        rendered=sum(line.rendered for line in lines),
        with_findings=sum(line.with_findings for line in lines),
        rejected=sum(line.rejected for line in lines),
    )


# -- output --------------------------------------------------------------------------------------


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
