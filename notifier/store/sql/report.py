"""The report's queries: the notices first seen in a period, and the people never told.

"Rejected" here: the tickets (source and id) with an input row rejected in the period and no
notice first seen at or after that rejection (a fixed row that was read again is counted by its
notice instead). Rejected input whose ticket id could not be read is counted apart, for all
teams only. What the numbers mean is :mod:`notifier.core.report`'s docstring.
"""

from __future__ import annotations

from datetime import datetime

from notifier.core.clock import to_stamp
from notifier.core.report import Report, team_line
from notifier.store.sql.database import Database


def build(
    connection: Database,
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
        team_line(name, by_team.get(name, []), rejected=never_told.get(name, 0)) for name in names
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
    connection: Database,
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
