"""systemd/notifier.service: `systemd-analyze verify` passes, `systemd-analyze security` rates
its exposure at 2.0 or lower, and its command lines are ones notifier understands.

`systemd-analyze` comes with Debian's systemd package (scripts/test.sh installs it when missing);
without it these tests fail, they never skip.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notifier.cli.commands.run import run_command
from notifier.cli.main import _parser
from tests.e2e.cli import ROOT

UNIT = ROOT / "systemd" / "notifier.service"
INSTALLED_BINARY = "/opt/notifier/.venv/bin/notifier"  # where docs/operations.md installs it
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: run scripts/test.sh (installs Debian's systemd)")
    return found


def unit_values(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def installed_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as it would be installed, but running this checkout's real `notifier` script.

    `verify` checks that ExecStart's program exists and is executable: only the install
    prefix changes, so every other word of the command line is the unit's own.
    """
    source = UNIT.read_text(encoding="utf-8") if text is None else text
    assert INSTALLED_BINARY in source
    binary = Path(sys.executable).parent / "notifier"
    assert binary.is_file(), f"{binary}: run scripts/setup.sh to install the notifier script"
    path = tmp_path / "notifier.service"
    path.write_text(source.replace(INSTALLED_BINARY, str(binary)), encoding="utf-8")
    return path


def verify_problems(unit: Path) -> list[str]:
    """What `systemd-analyze verify` says about this unit (it exits 0 for ignored bad lines)."""
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    if result.returncode != 0:
        problems.append(f"exit status {result.returncode}: {result.stderr.strip()}")
    return problems


def exposure(unit: Path) -> float:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert found, f"no exposure level in: {result.stdout[-500:]} {result.stderr[-500:]}"
    return float(found.group(1))


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` reports nothing about the unit: every key is known and valid."""
    assert verify_problems(installed_copy(tmp_path)) == []


def test_verify_check_catches_a_misspelt_key_and_a_bad_value(tmp_path: Path) -> None:
    """The verify check above can fail: a typo'd key and an invalid Type= are reported."""
    text = UNIT.read_text(encoding="utf-8")
    broken = text.replace("Type=notify", "Type=notfy").replace("UMask=", "Umask=")
    problems = verify_problems(installed_copy(tmp_path, broken))
    assert any("notfy" in problem for problem in problems), problems
    assert any("Umask" in problem for problem in problems), problems


def test_unit_exposure_is_two_or_lower(tmp_path: Path) -> None:
    """`systemd-analyze security` rates the hardened unit's exposure at 2.0 or lower."""
    score = exposure(installed_copy(tmp_path))
    print(f"systemd-analyze security exposure: {score}")
    assert score <= MAX_EXPOSURE


def test_exposure_check_sees_hardening_removed(tmp_path: Path) -> None:
    """The score responds to the unit: without its hardening lines it rises above 2.0."""
    keep = ("ExecStart=", "Type=", "[", "Description=")
    bare = "\n".join(
        line for line in UNIT.read_text(encoding="utf-8").splitlines() if line.startswith(keep)
    )
    assert exposure(installed_copy(tmp_path, bare)) > MAX_EXPOSURE


def test_unit_runs_notifier_the_way_the_daemon_expects() -> None:
    """Type=notify with a watchdog, reload by SIGHUP, secrets as credentials, and command lines
    that notifier's own parser accepts as `run` with a config file."""
    values = unit_values(UNIT.read_text(encoding="utf-8"))
    assert values["Type"] == ["notify"]
    assert values["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert values["WatchdogSec"] and values["TimeoutStopSec"]
    assert values["DynamicUser"] == ["yes"] and values["StateDirectory"] == ["notifier"]
    assert values["CapabilityBoundingSet"] == [""]
    assert values["SystemCallFilter"][0] == "@system-service"
    # From the credential store, so that it is optional (a relay without AUTH needs none).
    assert values["LoadCredential"] == ["smtp-password"]
    program, *arguments = shlex.split(values["ExecStart"][0])
    assert program == INSTALLED_BINARY
    args = _parser().parse_args(arguments)
    assert args.handler is run_command and args.config == Path("/etc/notifier/config.toml")
