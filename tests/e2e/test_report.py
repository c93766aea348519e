"""`notifier report` on a seeded scenario: exact numbers in table, json and csv, and HTML in Chromium.

The scenario is written through the real store API with a fixed clock, the way the service
writes it (on SQLite and on PostgreSQL: the ``state_lines`` fixture); the report is read by
the `notifier` command as a subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notifier.core.model import (
    DeliveryOutcome,
    DeliveryResult,
    InputProblem,
    Notice,
    Resolution,
    State,
)
from notifier.core.policy import Decision
from notifier.core.ports import StateStore
from notifier.runtime import bootstrap
from notifier.runtime.config import load_settings
from tests.e2e.cli import notifier

DAY = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # the reported day is 2026-11-02 (UTC)
FINDINGS = json.dumps([{"kind": "acronym", "text": "VPN", "severity": "warn"}])


class Seeder:
    """Writes one resolution's whole story through the Outbox API, at fixed times."""

    def __init__(self, outbox: StateStore) -> None:
        self.outbox = outbox
        self.count = 0

    def resolution(self, team: str, resolved: datetime) -> Resolution:
        self.count += 1
        return Resolution(
            source="desk", ticket_id=f"{team[:3].upper()}-{self.count}",
            requester_email=f"user{self.count}@example.org", resolved_at=resolved,
            origin=f"desk.csv:{self.count}",
        )  # fmt: skip

    def notice(self, item: Resolution, team: str) -> Notice:
        return Notice(
            resolution_key=item.key, ticket_id=item.ticket_id, source=item.source, team=team,
            to_email=item.requester_email, to_name="", subject="Done", text="It works again.\n",
            html=None, message_id=f"<{item.ticket_id}@example.org>", in_reply_to="",
            references=(), reply_to="", template=f"{team}/resolved@v1",
        )  # fmt: skip

    def attempt(self, at: datetime, outcome: DeliveryOutcome, decision: Decision) -> None:
        (claimed,) = self.outbox.claim_due(at, 1)
        code = {DeliveryOutcome.SENT: 250, DeliveryOutcome.TRANSIENT: 451}.get(outcome, 550)
        self.outbox.record_attempt(
            claimed, DeliveryResult(outcome, code, "server says"), decision, at
        )

    def sent(self, team: str, resolved: datetime, after: timedelta, findings: str = "") -> None:
        item = self.resolution(team, resolved)
        seen = resolved + timedelta(seconds=30)
        self.outbox.add(item, team=team, state=State.QUEUED, reason="", now=seen,
                        notice=self.notice(item, team), findings=findings)  # fmt: skip
        self.attempt(resolved + after, DeliveryOutcome.SENT, Decision(State.SENT, None, ""))

    def suppressed(self, team: str, resolved: datetime, reason: str) -> None:
        item = self.resolution(team, resolved)
        self.outbox.add(item, team=team, state=State.SUPPRESSED, reason=reason, now=resolved)

    def held(self, team: str, resolved: datetime, *, rendered: bool) -> Resolution:
        item = self.resolution(team, resolved)
        self.outbox.add(
            item, team=team, state=State.HELD, reason="held for review", now=resolved,
            notice=self.notice(item, team) if rendered else None,
            findings=FINDINGS if rendered else "",
        )  # fmt: skip
        return item

    def failed(self, team: str, resolved: datetime) -> None:
        item = self.resolution(team, resolved)
        self.outbox.add(item, team=team, state=State.QUEUED, reason="", now=resolved,
                        notice=self.notice(item, team))  # fmt: skip
        decision = Decision(State.FAILED, None, "refused permanently: 550 server says")
        self.attempt(resolved + timedelta(minutes=1), DeliveryOutcome.PERMANENT, decision)

    def deferred(self, team: str, resolved: datetime) -> None:
        item = self.resolution(team, resolved)
        self.outbox.add(item, team=team, state=State.QUEUED, reason="", now=resolved,
                        notice=self.notice(item, team))  # fmt: skip
        later = resolved + timedelta(days=30)  # not due again within this scenario
        decision = Decision(State.DEFERRED, later, "will retry: 451 server says")
        self.attempt(resolved + timedelta(minutes=1), DeliveryOutcome.TRANSIENT, decision)


def seed(config: Path) -> None:
    """network: 8 seen (3 sent, 3 suppressed, 1 held, 1 failed), 1 never told; accounts: 4 seen;
    2 outside; one rejected row without a ticket. In the state ``config`` names."""
    outbox = bootstrap.open_outbox(load_settings(config))
    try:
        s = Seeder(outbox)
        s.sent("network", DAY - timedelta(days=3), timedelta(minutes=1))  # before the period
        s.sent("network", DAY, timedelta(minutes=5))
        s.sent("network", DAY + timedelta(hours=1), timedelta(minutes=10))
        s.sent("network", DAY + timedelta(hours=2), timedelta(hours=1), findings=FINDINGS)
        # The reasons as the service writes them: "rule <id>: <this ticket's detail>".
        s.suppressed(
            "network", DAY + timedelta(hours=3), "rule closure_reason: Resolution is 'Duplicate'"
        )
        s.suppressed(
            "network",
            DAY + timedelta(hours=3, minutes=5),
            "rule closure_reason: resolution is 'duplicate'",
        )
        s.suppressed(
            "network", DAY + timedelta(hours=3, minutes=9),
            "rule protected_recipient: ticket NET-7: the requester address is the watched "
            "mailbox (imap source 'mail'); never notified",
        )  # fmt: skip
        s.held("network", DAY + timedelta(hours=4), rendered=True)
        s.failed("network", DAY + timedelta(hours=5))
        s.sent("accounts", DAY + timedelta(hours=6), timedelta(minutes=2))
        s.deferred("accounts", DAY + timedelta(hours=7))
        s.held("accounts", DAY + timedelta(hours=8), rendered=False)  # a template error
        cancelled = s.held("accounts", DAY + timedelta(hours=9), rendered=True)
        outbox.cancel(cancelled.key, DAY + timedelta(hours=10), note="not needed")
        s.sent("accounts", DAY + timedelta(days=1, hours=1), timedelta(minutes=1))  # after it
        # One person never told (their row read twice), one row naming no ticket.
        unusable = InputProblem(
            "desk", "desk.csv:40", "missing requester email: column 'Email' is empty",
            ticket_id="NET-40",
        )  # fmt: skip
        outbox.reject(unusable, DAY + timedelta(hours=11), team="network")
        outbox.reject(unusable, DAY + timedelta(hours=12), team="network")
        outbox.reject(
            InputProblem("desk", "desk.csv:41", "missing ticket id: column 'Key' is empty"),
            DAY + timedelta(hours=13),
        )
    finally:
        outbox.close()


def configured(tmp_path: Path, state_lines: str = "") -> Path:
    """A config naming a seeded state; ``state_lines``: the fixture's, each backend in turn."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\ndirectory = "{tmp_path / "state"}"\n{state_lines}\n', encoding="utf-8"
    )
    seed(config)
    return config


PERIOD = ("--since", "2026-11-02T00:00:00Z", "--until", "2026-11-03T00:00:00Z")


def report(config: Path, *args: str) -> str:
    result = notifier("report", "--config", str(config), *PERIOD, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def team(name: str, **values: object) -> dict[str, object]:
    return {"team": name, **values}


EXPECTED_JSON = [
    team("accounts", seen=4, notified=1, suppressed=0, suppressed_by_reason={}, held=1, failed=0,
         cancelled=1, pending=1, rejected=0, delivered_measured=1, median_seconds=120.0, p95_seconds=120.0,
         rendered=3, with_findings=1, findings_share=1 / 3),
    team("network", seen=8, notified=3, suppressed=3,
         suppressed_by_reason={"closed as duplicate": 2, "the requester is one of our own addresses": 1}, held=1, failed=1,
         cancelled=0, pending=0, rejected=1, delivered_measured=3, median_seconds=600.0, p95_seconds=3600.0,
         rendered=5, with_findings=2, findings_share=0.4),
]  # fmt: skip
EXPECTED_TOTAL = team(
    "all teams", seen=12, notified=4, suppressed=3,
    suppressed_by_reason={"closed as duplicate": 2, "the requester is one of our own addresses": 1}, held=2, failed=1,
    cancelled=1, pending=1, rejected=1, delivered_measured=4, median_seconds=450.0, p95_seconds=3600.0,
    rendered=8, with_findings=3, findings_share=3 / 8,
)  # fmt: skip

EXPECTED_TABLE = """\
notifier report: resolutions first seen from 2026-11-02 00:00 UTC to 2026-11-03 00:00 UTC

team       seen  notified  suppressed  held  failed  cancelled  pending  rejected   median     p95  findings
accounts      4         1           0     1       0          1        1         0   2m 00s  2m 00s       33%
network       8         3           3     1       1          0        0         1  10m 00s  1h 00m       40%
------------------------------------------------------------------------------------------------------------
all teams    12         4           3     2       1          1        1         1   7m 30s  1h 00m       38%

suppressed, by reason:
  network: 2 closed as duplicate
  network: 1 the requester is one of our own addresses

1 person was never told: notifier could not use their ticket's data (notifier audit --status rejected):
  network: 1 person

1 more item of input could not be used and named no ticket that could be read
"""


def test_report_json_matches_the_seeded_scenario_exactly(tmp_path: Path, state_lines: str) -> None:
    """Every count, the median, the p95 and the findings share are exactly the scenario's."""
    data = json.loads(report(configured(tmp_path, state_lines), "--format", "json"))
    assert data["since"] == "2026-11-02T00:00:00Z" and data["until"] == "2026-11-03T00:00:00Z"
    assert data["teams"] == EXPECTED_JSON
    assert data["total"] == EXPECTED_TOTAL
    assert data["rejected_without_ticket"] == 1


def test_report_table_matches_the_seeded_scenario_exactly(tmp_path: Path, state_lines: str) -> None:
    """The terminal table shows the same numbers, durations made readable."""
    text = report(configured(tmp_path, state_lines))
    assert text.startswith(EXPECTED_TABLE), text


def test_report_team_filter_csv_and_the_whole_history(tmp_path: Path, state_lines: str) -> None:
    """--team keeps one team; csv has one line per team plus the total; no period means all."""
    config = configured(tmp_path, state_lines)
    lines = report(config, "--team", "network", "--format", "csv").splitlines()
    assert lines[0].startswith(
        "team,seen,notified,suppressed,held,failed,cancelled,pending,rejected,"
    )
    assert lines[1].startswith("network,8,3,3,1,1,0,0,1,3,600.0,3600.0,5,2,0.4,")
    assert lines[1].endswith("closed as duplicate=2; the requester is one of our own addresses=1")
    assert lines[2].startswith("all teams,8,3,3,")
    everything = notifier("report", "--config", str(config), "--format", "json")
    assert json.loads(everything.stdout)["total"]["seen"] == 14


PROBE = """
<script>
// Test probe (not part of the report): list the text that is laid out and visible.
const seen = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, el = node.parentElement, text = node.textContent.trim();
  if (!text || el.closest("script, title, style")) continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  const box = range.getBoundingClientRect(), style = getComputedStyle(el);
  if (box.width > 0 && box.height > 0 && style.visibility === "visible"
      && style.display !== "none" && parseFloat(style.opacity) > 0) seen.push(text);
}
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify(seen);
document.body.appendChild(out);
</script>
"""


def test_html_report_shows_the_numbers_in_headless_chromium(tmp_path: Path) -> None:
    """The self-contained page, opened in Chromium, shows every number of the table and chart."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed: scripts/test.sh installs Debian's chromium"
    config = configured(tmp_path)
    page = tmp_path / "report.html"
    result = notifier(
        "report", "--config", str(config), *PERIOD, "--format", "html", "--output", str(page)
    )
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=|@import|url\(|<script""", html)  # nothing to fetch
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dump = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,2000",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert dump.returncode == 0, dump.stderr
    found = re.search(r'<pre id="probe">(.*?)</pre>', dump.stdout, flags=re.DOTALL)
    assert found, dump.stdout[-2000:]
    visible: list[str] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    def row_shown(cells: list[str]) -> bool:
        return any(visible[i : i + len(cells)] == cells for i in range(len(visible)))

    assert row_shown(
        ["accounts", "4", "1", "0", "1", "0", "1", "1", "0", "2m 00s", "2m 00s", "33%"]
    )
    assert row_shown(
        ["network", "8", "3", "3", "1", "1", "0", "0", "1", "10m 00s", "1h 00m", "40%"]
    )
    assert row_shown(
        ["all teams", "12", "4", "3", "2", "1", "1", "1", "1", "7m 30s", "1h 00m", "38%"]
    )
    # The chart: each bar's total and its labelled parts (network: 3 notified, 3 suppressed).
    assert row_shown(["accounts", "1", "1", "1", "1", "4 seen"])  # notified held cancelled pending
    # notified suppressed held failed, and the one never told
    assert row_shown(["network", "3", "3", "1", "1", "1", "8 seen"])
    assert any("2 closed as duplicate" in text for text in visible)
    assert any("1 person was never told" in text for text in visible)
