"""Tools for template authors: lint on the shipped templates, plain on any text, preview."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from notifier.cli.authoring import SAMPLE_TICKETS
from notifier.core.compose import TeamProfile, compose
from notifier.core.render import Renderer
from tests.e2e.cli import ROOT, notifier


def test_shipped_templates_pass_lint() -> None:
    """`notifier lint` renders every shipped team and language with the samples: exit 0."""
    result = notifier("lint")
    assert result.returncode == 0, result.stdout
    for team in ("default", "service-desk", "network", "accounts"):
        assert f"{team} [en]" in result.stdout
    assert "default [fr]" in result.stdout
    # The jargon-heavy sample's findings are reported as ticket data, not blamed on templates.
    assert "ticket data text: [block]" in result.stdout


def test_shipped_templates_are_grade_6_or_lower_with_zero_findings() -> None:
    """With a plain note, every shipped template reads at grade <= 6 with no findings at all."""
    renderer = Renderer.load(ROOT / "templates")
    plain_sample = SAMPLE_TICKETS[0]
    for team in renderer.teams:
        composed = compose(
            plain_sample,
            TeamProfile(team, "IT Help Desk", "", "warn"),
            renderer,
            domain="example.org",
        )
        checked = composed.review
        assert checked.findings == (), (team, checked.findings)
        assert checked.scores.flesch_kincaid_grade <= 6, (team, checked.scores)


def test_lint_fails_on_jargon_in_template_text(tmp_path: Path) -> None:
    """A template whose own words are jargon makes lint exit 1 and name the finding."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "ops").mkdir()
    (templates / "ops" / "resolved.txt.j2").write_text(
        "Hi. We flushed the DNS cache on srv-db-02.corp.example.com.\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(f'[templates]\ndirectory = "{templates}"\n')
    result = notifier("lint", "--config", str(config), "--team", "ops")
    assert result.returncode == 1
    assert "BLOCKED (template text)" in result.stdout and "srv-db-02" in result.stdout


def run_plain(text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notifier", "plain", "-", *args],
        input=text, capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip


def test_plain_checks_any_text_and_exits_1_when_blocked() -> None:
    """`notifier plain` reads stdin, prints findings and scores, exit 1 for jargon, 0 for plain."""
    jargon = run_plain("Flushed the DNS cache, re-provisioned your VPN profile, see KB0012345.")
    assert jargon.returncode == 1 and "KB0012345" in jargon.stdout and "BLOCKED" in jargon.stdout
    plain = run_plain("Your printer works again. You can print from your laptop now.")
    assert plain.returncode == 0, plain.stdout
    as_json = json.loads(run_plain("Please reboot your PC.", "--format", "json").stdout)
    assert {"blocked", "scores", "findings"} <= set(as_json)


def test_preview_shows_findings_and_scores(tmp_path: Path) -> None:
    """`notifier preview` prints the verdict, the scores and each finding beside the message."""
    ticket = tmp_path / "t.json"
    ticket.write_text(json.dumps({
        "ticket_id": "HD-1", "requester_email": "a@example.org", "title": "VPN",
        "resolution_note": "Re-provisioned your VPN profile on PC-4411.",
    }))  # fmt: skip
    result = notifier("preview", str(ticket))
    assert result.returncode == 0, result.stderr
    assert "# plain-language check: would be HELD" in result.stdout
    assert "grade" in result.stdout and "PC-4411" in result.stdout


def test_lint_reports_the_samples_own_jargon_once_not_per_team_and_language() -> None:
    """The jargon-heavy sample's findings are about the sample, not the templates: they were
    repeated for every team and language (about 50 lines saying the same). Each distinct set
    is listed once; later renderings refer to it in one line."""
    result = notifier("lint")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    command = [line for line in lines if "command 'gpupdate /force'" in line]
    # Once with the English word lists, once with the other languages' (their findings differ).
    assert len(command) <= 2, "\n".join(command)
    assert any("same ticket data findings as" in line for line in lines)
    listed = [line for line in lines if line.lstrip().startswith("ticket data ")]
    assert len(listed) <= 16, len(listed)  # two distinct sets of about 7 (it was 128 lines)
