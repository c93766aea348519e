"""Shared plumbing for the benchmark scripts: paths, the machine, a notifier subprocess, stats.

Importing this module puts the repository root on ``sys.path``, so a script started as
``.venv/bin/python bench/<name>.py`` can import ``tests.*`` (the real Dovecot and aiosmtpd
helpers) as well as ``notifier``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# The notifier code under test: this checkout, or a snapshot of it (for example `git archive
# HEAD` unpacked somewhere) when the working tree is in the middle of someone's edit.
TREE = Path(os.environ.get("BENCH_NOTIFIER_TREE") or ROOT).resolve()
for entry in (ROOT, TREE):  # TREE ends up first: its `notifier` (and `tests`) win
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine(dovecot_binary: Path | None = None) -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    dovecot = "unknown"
    if dovecot_binary is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            dovecot = subprocess.run(
                [str(dovecot_binary), "--version"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dovecot": dovecot,
        # Other work on the machine skews both latency and CPU numbers; record how busy it was.
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def code_version() -> dict[str, Any]:
    """Which notifier was measured: the tree, its commit and whether notifier/ was edited."""
    info: dict[str, Any] = {"tree": str(TREE)}
    git = ["git", "-C", str(ROOT)]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        if TREE != ROOT:  # a snapshot knows no commit of its own: the caller says which
            info["commit"] = os.environ.get("BENCH_NOTIFIER_COMMIT", "unknown")
            return info
        head = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        info["commit"] = head.stdout.strip()
        # Read-only: `git diff --quiet` exits 1 when notifier/ differs from HEAD.
        diff = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "notifier"], timeout=10)
        info["uncommitted_changes_in_notifier"] = diff.returncode != 0
    return info


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    data = {**data, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: p99 of 200 samples is the 198th smallest, a real sample."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
        "mean": sum(values) / len(values) if values else math.nan,
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


# -- a `notifier run` subprocess -------------------------------------------------------------


def write_config(
    path: Path,
    *,
    state: Path,
    smtp: tuple[str, int],
    imap: tuple[str, int, str],
    password_file: Path,
    folder: str,
    idle: bool,
    poll_interval: str | None = None,
) -> Path:
    """A config for one IMAP folder in folder mode; ``poll_interval=None`` keeps the default."""
    run = f'[run]\npoll_interval = "{poll_interval}"\n' if poll_interval else ""
    path.write_text(
        f"""
[state]
directory = "{state}"
[smtp]
host = "{smtp[0]}"
port = {smtp[1]}
security = "plain"
from_address = "it-helpdesk@example.org"
[delivery]
# The default (120 a minute) would throttle a 10-a-second burst; this measures the pipeline.
rate_limit_per_minute = 100000
{run}[log]
format = "json"
[[imap]]
name = "mail"
host = "{imap[0]}"
port = {imap[1]}
security = "plain"
username = "{imap[2]}"
password_file = "{password_file}"
timeout = "10s"
folder = "{folder}"
mode = "folder"
idle = {"true" if idle else "false"}
""",
        encoding="utf-8",
    )
    return path


def start_notifier(
    config: Path, log: Path, *, profile: Path | None = None
) -> subprocess.Popen[bytes]:
    """``python -m notifier run --config CONFIG``, JSON log lines going to ``log``.

    ``profile``: run it under cProfile, which writes its stats there when the daemon exits.
    """
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(TREE), str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *profiler, "-m", "notifier", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=TREE,
            env=env,
        )


def stop_notifier(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the daemon drains and exits 0), SIGKILL if it does not within 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(10)


def events(log: Path) -> list[dict[str, Any]]:
    found = []
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
    return found


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    log: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll ``condition``; fail at once if ``process`` exits, quoting the end of ``log``."""
    deadline = time.monotonic() + timeout
    problem = f"timed out after {timeout} s"
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            problem = f"notifier exited with status {process.returncode}"
            break
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
    raise RuntimeError(f"{problem} waiting for {what}\n{tail}")


def event_time(event: dict[str, Any]) -> float:
    """The wall-clock time (epoch seconds) structlog stamped on an event."""
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (fields 14 and 15 of /proc/PID/stat), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # comm may hold spaces; fields[0] is field 3
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_seconds_fine(pid: int) -> float:
    """CPU time of a process's live threads in nanosecond units (/proc/PID/task/*/schedstat).

    utime + stime count 10 ms ticks, too coarse for a daemon that sleeps for a minute; the
    scheduler's own run-time counter is exact. Threads that exited are not counted.
    """
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[0])
    return total / 1e9


def rss_kib() -> int:
    """This process's resident set size (VmRSS) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")
