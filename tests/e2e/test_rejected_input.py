"""Rejected input keeps its ticket: audit --ticket, explain and report find it (issue 16 item 2).

A row whose ticket id is readable but whose other fields cannot be used (no requester address, an
invalid one, a date nobody can read) is rejected. The operator looking for that ticket, and the
manager reading the report, must still see it: nobody told that person their request is done.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.smtp_server import SmtpServerFactory

TEAMS = (
    '[teams.network]\nmatch = { team = ["Network"] }\n'
    '[teams.accounts]\nmatch = { team = ["Accounts"] }\n'
)


def rejected_rows(tmp_path: Path, smtp_server: SmtpServerFactory) -> Path:
    """One good row, three rejected rows with readable ids, one without an id; returns the config."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "monday.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", group="Network")
        + csv_row("HD-2", "bob at example dot org", group="Network")  # invalid address
        + csv_row("HD-3", "", name="Cat Jones", group="Network")  # no address at all
        + csv_row("HD-4", "dan@example.org", resolved="next tuesday", group="Accounts")
        + csv_row("", "eve@example.org", group="Accounts"),  # no ticket id
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports, extra=TEAMS)
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr  # rejected input: attention
    assert [m.rcpt_tos[0] for m in server.messages] == ["ann@example.org"]
    return config


def test_audit_ticket_finds_a_rejected_row_with_its_team(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    config = rejected_rows(tmp_path, smtp_server)
    found = notifier("audit", "--config", str(config), "--ticket", "HD-2", "--format", "json")
    assert found.returncode == 0, found.stderr
    (record,) = json.loads(found.stdout)
    assert (record["outcome"], record["ticket_id"], record["source"], record["team"]) == (
        "rejected", "HD-2", "desk", "network",
    )  # fmt: skip
    assert str(record["origin"]).endswith("monday.csv:3")
    assert "invalid requester email" in record["reason"]
    dated = notifier("audit", "--config", str(config), "--ticket", "HD-4", "--format", "json")
    (record,) = json.loads(dated.stdout)
    assert (record["team"], record["outcome"]) == ("accounts", "rejected")
    everything = json.loads(
        notifier(
            "audit", "--config", str(config), "--status", "rejected", "--format", "json"
        ).stdout
    )
    assert sorted(r["ticket_id"] for r in everything) == ["", "HD-2", "HD-3", "HD-4"]


def test_explain_explains_a_rejected_ticket_from_its_audit_rows(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    config = rejected_rows(tmp_path, smtp_server)
    explained = notifier("explain", "--config", str(config), "HD-3")
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert "ticket HD-3" in text and "desk" in text
    assert "REJECTED" in text and "never told" in text
    assert "monday.csv:4" in text and "missing requester email" in text
    assert "team network" in text
    unknown = notifier("explain", "--config", str(config), "HD-404")
    assert unknown.returncode == 1 and "HD-404" in unknown.stderr


def test_report_counts_rejected_input_per_team_in_every_format(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    config = rejected_rows(tmp_path, smtp_server)

    def report(fmt: str) -> str:
        result = notifier("report", "--config", str(config), "--format", fmt)
        assert result.returncode == 0, result.stderr
        return result.stdout

    data = json.loads(report("json"))
    teams = {line["team"]: line for line in data["teams"]}
    assert (teams["network"]["seen"], teams["network"]["notified"]) == (1, 1)
    assert teams["network"]["rejected"] == 2
    assert (teams["accounts"]["seen"], teams["accounts"]["rejected"]) == (0, 1)
    assert data["total"]["rejected"] == 3
    assert data["rejected_without_ticket"] == 1

    table = report("table")
    assert "3 people were never told" in table
    assert "network: 2 people" in table and "accounts: 1 person" in table
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.strip()}
    header = rows["team"]
    assert rows["network"][header.index("rejected")] == "2"

    csv_lines = report("csv").splitlines()
    columns = csv_lines[0].split(",")
    network = next(line.split(",") for line in csv_lines if line.startswith("network,"))
    assert network[columns.index("rejected")] == "2"

    html = report("html")
    assert "3 people were never told" in html
    assert "<td>2</td>" in html.split('<tr class="team"><td>network</td>')[1].split("</tr>")[0]
