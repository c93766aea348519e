"""The README's Quick start is executable: two commands, CI runs the test one, the demo works."""

from __future__ import annotations

import re
import subprocess

from tests.e2e.cli import ROOT


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_quickstart_has_the_demo_and_the_test_command_and_ci_runs_the_latter() -> None:
    """Exactly two commands; .ci/run calls the test command and nothing else."""
    demo, tests = quickstart_commands()
    assert demo == "scripts/demo.sh" and tests == "scripts/test.sh"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line
        for line in ci.splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == [f"exec {tests}"]


def test_the_demo_command_runs_as_written() -> None:
    """The README's demo command sets up (idempotently) and shows delivered notices."""
    demo, _ = quickstart_commands()
    result = subprocess.run(
        ["bash", "-c", demo], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("=== delivered message") >= 3
    assert "=== audit trail" in result.stdout


def test_the_package_install_waits_for_apts_lock() -> None:
    """Another apt holding dpkg's lock (unattended-upgrades on a fresh VM) made the test
    command fail at once with "Could not get lock"; scripts/apt-install.sh waits for it. Here
    the lock is held for 3 s while an installed package is installed again (no network)."""
    import fcntl
    import threading
    import time
    from pathlib import Path

    lock = Path("/var/lib/dpkg/lock-frontend")
    released = threading.Event()
    with lock.open("w") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)  # the kind of lock apt and dpkg take
        threading.Timer(3.0, lambda: (fcntl.lockf(handle, fcntl.LOCK_UN), released.set())).start()
        started = time.monotonic()
        result = subprocess.run(
            [str(ROOT / "scripts" / "apt-install.sh"), "--no-update", "sqlite3"],
            capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APT_LOCK_TIMEOUT": "60"},
        )  # fmt: skip
        waited = time.monotonic() - started
        released.wait(10)
    assert result.returncode == 0, result.stderr
    assert waited >= 2.5, f"it did not wait for the lock ({waited:.1f} s)"
