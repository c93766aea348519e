"""Hostile team templates end to end (issue 14, defect 8): `notifier once` with a normal team
and teams whose templates try to run for ever or allocate gigabytes. The normal notice is sent,
each hostile one is held naming its template and the bound, and the pass ends with a small
peak memory. The child runs under an address-space limit so a regression cannot sink the
machine (it fails the test instead)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, notifier, write_config
from tests.smtp_server import SmtpServerFactory

# team -> (text template, the bound its reason must name)
HOSTILE = {
    "loops": (
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% set k = j %}"
        "{% endfor %}{% endfor %}",
        "steps",
    ),
    "repeat": ("{{ 'a' * 10**9 }}", "repetition"),
    "listrepeat": ("{{ ([1] * 10**8) | length }}", "repetition"),
    "percent": ("{{ '%999999999s' % ticket.title }}", "width"),
    "format": ("{{ '{:999999999}'.format(ticket.title) }}", "width"),
    "center": ("{{ ticket.title | center(10**9) }}", "width"),
    "indent": ("{{ ticket.title | indent(10**9, true) }}", "width"),
    "rangelist": ("{{ range(10**9) | list }}", "range"),
    "output": ("{% for i in range(100000) %}{{ ticket.title * 1000 }}{% endfor %}", "characters"),
}
PEAK_RSS_LIMIT = 300 * 1024 * 1024  # bytes
ADDRESS_SPACE_LIMIT = 1_500_000_000  # the child's RLIMIT_AS: a regression fails, never OOMs


def _setup(tmp_path: Path, server_factory: SmtpServerFactory) -> tuple[Path, object]:
    server = server_factory()
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    teams = ""
    rows = CSV_HEADER + csv_row("HD-1", "ann@example.org", summary="Printer jams", group="Net")
    for number, (team, (source, _)) in enumerate(sorted(HOSTILE.items()), start=2):
        (templates / team).mkdir()
        (templates / team / "resolved.txt.j2").write_text(source, encoding="utf-8")
        teams += f'[teams.{team}]\nmatch = {{ team = ["{team}"] }}\n'
        rows += csv_row(f"HD-{number}", f"user{number}@example.org", group=team)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(rows, encoding="utf-8")
    extra = (
        f'\n[templates]\ndirectory = "{templates}"\n'
        '[teams.network]\nmatch = { team = ["Net"] }\n' + teams
    )
    return write_config(tmp_path, server, exports, extra=extra), server


# `python -m notifier ARGS` under an address-space limit (set in the child itself: the test
# process has threads, so no preexec_fn).
_LIMITED_NOTIFIER = f"""
import resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_LIMIT}, {ADDRESS_SPACE_LIMIT}))
sys.argv = ["notifier", *sys.argv[1:]]
runpy.run_module("notifier", run_name="__main__", alter_sys=True)
"""


def _run_measured(*args: str, timeout: float = 300) -> tuple[int, str, int]:
    """Run ``notifier ARGS`` in a memory-limited child: (exit status, output, peak RSS bytes)."""
    with subprocess.Popen(
        [sys.executable, "-c", _LIMITED_NOTIFIER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as child:
        assert child.stdout is not None
        os.set_blocking(child.stdout.fileno(), False)
        output = b""
        give_up = time.monotonic() + timeout
        while True:
            output += child.stdout.read() or b""
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > give_up:
                os.kill(child.pid, signal.SIGKILL)
                _, status, usage = os.wait4(child.pid, 0)
                raise AssertionError(f"notifier {args[0]} did not end: {output[-2000:]!r}")
            time.sleep(0.05)
        output += child.stdout.read() or b""
        child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, output.decode(errors="replace"), usage.ru_maxrss * 1024


def test_hostile_templates_are_held_and_the_normal_team_is_sent(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    config, server = _setup(tmp_path, smtp_server)
    code, output, peak = _run_measured("once", "--config", str(config))
    assert code == 1, output  # held notices need attention
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"
    assert [m.rcpt_tos[0] for m in server.messages] == ["ann@example.org"]  # type: ignore[attr-defined]

    audit = notifier("audit", "--config", str(config), "--status", "held", "--format", "json")
    held = {record["team"]: str(record["reason"]) for record in json.loads(audit.stdout)}
    assert set(held) == set(HOSTILE), held
    for team, (_, bound) in HOSTILE.items():
        reason = held[team]
        assert reason.startswith(f"template error: {team}/resolved.txt.j2"), reason
        assert "render limit" in reason and bound in reason, reason


def test_lint_and_preview_report_a_hostile_template_instead_of_hanging(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    config, _ = _setup(tmp_path, smtp_server)
    code, output, peak = _run_measured("lint", "--config", str(config))
    assert code == 1, output
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"
    for team, (_, bound) in HOSTILE.items():
        line = next(x for x in output.splitlines() if x.startswith(f"{team} [en]"))
        assert f"TEMPLATE ERROR: {team}/resolved.txt.j2" in line and bound in line, line
    assert any(x.startswith("network [en]") and x.endswith(": ok") for x in output.splitlines())

    ticket = tmp_path / "ticket.json"
    ticket.write_text(
        json.dumps({"ticket_id": "HD-9", "requester_email": "ann@example.org", "title": "Mouse"}),
        encoding="utf-8",
    )
    code, output, peak = _run_measured(
        "preview", str(ticket), "--config", str(config), "--team", "loops"
    )
    assert code != 0 and peak < PEAK_RSS_LIMIT, output
    assert "loops/resolved.txt.j2" in output and "render limit" in output, output
    assert "Traceback" not in output
