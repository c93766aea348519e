"""Where a running daemon spends its CPU: py-spy samples it from outside, and the stacks are
summed by notifier's layers and by function.

py-spy (a sampling profiler, a dev dependency) attaches to a process by pid without stopping
it (``--nonblocking``) and records every thread that is running, not the idle ones, so the
samples share out the process's CPU time. cProfile could not do this job: it sees only the
thread it was started in, while notifier sends from a thread per SMTP session, and it writes
its numbers only when the program ends of its own accord.

    sampler = Sampler(pid, out / "instance.stacks").start()
    ...  # the work measured
    stacks = sampler.stop()
    print(render(summarise(stacks)))
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RATE = 250  # samples a second: enough for a few thousand samples in a 20 s run

# Notifier's layers, by the innermost frame of notifier's own code in a sample: the layer
# that asked for the work (a psycopg call made by the store counts as the store's).
LAYERS = (
    ("state store (SQL and the database driver)", "/notifier/store/"),
    ("SMTP delivery (sessions, building the message)", "/notifier/delivery/"),
    ("composing (templates, plain-language gate, language)", "/notifier/core/"),
    ("reading input (export rows)", "/notifier/sources/"),
    ("logging (JSON lines)", "/notifier/runtime/logs"),
    ("the pass itself (service.py)", "/notifier/service.py"),
    ("the rest of runtime (daemon loop, leases)", "/notifier/runtime/"),
)
OTHER = "outside notifier's code (start-up, interpreter)"


@dataclass
class Profile:
    samples: int = 0
    by_layer: Counter[str] = field(default_factory=Counter)
    by_function: Counter[str] = field(default_factory=Counter)  # the innermost frame


class Sampler:
    """py-spy recording ``pid`` into ``stacks`` (collapsed stacks, one line per stack).

    ``wall=False``: only the thread holding the GIL, i.e. the Python work (a process runs one
    thread of Python at a time). ``wall=True``: every thread, waiting or not, for where the
    delivery sessions' time goes (``sessions``).
    """

    def __init__(self, pid: int, stacks: Path, *, wall: bool = False) -> None:
        self.pid, self.stacks, self.wall = pid, stacks, wall
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Sampler:
        binary = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if binary is None:
            raise SystemExit("py-spy is missing: scripts/setup.sh dev installs it")
        self._process = subprocess.Popen(
            [binary, "record", "--pid", str(self.pid), "--rate", str(RATE), "--nonblocking",
             "--idle" if self.wall else "--gil", "--full-filenames", "--format", "raw",
             "--output", str(self.stacks)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        return self

    def stop(self) -> Path:
        """Stop recording (py-spy writes its file on SIGINT); the file of stacks."""
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)
        try:
            _, errors = self._process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise SystemExit("py-spy did not stop within 30 s") from None
        if not self.stacks.exists():
            raise SystemExit(f"py-spy wrote no samples: {errors.decode(errors='replace')}")
        return self.stacks


def stacks_of(*files: Path) -> Iterator[tuple[list[str], int]]:
    """Each sampled stack (outermost frame first) and how many samples it had."""
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                yield stack.split(";"), int(count)


def summarise(*files: Path) -> Profile:
    """The Python work (``wall=False`` samples) by notifier's layer and by function."""
    profile = Profile()
    for frames, n in stacks_of(*files):
        profile.samples += n
        profile.by_layer[_layer(frames)] += n
        profile.by_function[_short(frames[-1])] += n
    return profile


# What a delivery session's thread is doing, by the innermost frame of a wall-clock sample.
SESSION = "lane (", "/notifier/service.py"
SESSION_STATES = (
    ("waiting for PostgreSQL (a query or commit)", ("Connection.wait (", "/psycopg/")),
    ("waiting for the SMTP server", ("readinto (", "/notifier/netio.py")),
    ("waiting for the instance's group commit", ("Condition.wait (", "threading.py")),
    ("waiting for the instance's writer lock", ("transaction (", "/notifier/store/sql/ledger")),
)
RUNNING = "running (Python, or C code it called)"


def sessions(*files: Path) -> Counter[str]:
    """Samples of the delivery sessions' threads (``wall=True``) by what they were doing."""
    states: Counter[str] = Counter()
    for frames, n in stacks_of(*files):
        if not any(all(part in frame for part in SESSION) for frame in frames):
            continue
        innermost = frames[-1]
        states[
            next(
                (name for name, parts in SESSION_STATES if all(p in innermost for p in parts)),
                RUNNING,
            )
        ] += n
    return states


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, part in LAYERS:
            if part in frame:
                return name
    return OTHER


def _short(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` as ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if "/site-packages/" in path:
        path = path.split("/site-packages/", 1)[1]
    elif "/notifier/" in path:
        path = "notifier/" + path.split("/notifier/", 1)[1]
    elif "/lib/python3" in path:  # the standard library: /usr/lib/python3.11/smtplib.py
        path = path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{name} ({path})"


def render(profile: Profile, top: int = 12) -> str:
    total = max(profile.samples, 1)
    lines = [f"{profile.samples} samples holding the GIL; the Python work by layer:"]
    for name, n in profile.by_layer.most_common():
        lines.append(f"  {100 * n / total:5.1f} %  {name}")
    lines.append(f"the {top} functions most often running (self time):")
    for name, n in profile.by_function.most_common(top):
        lines.append(f"  {100 * n / total:5.1f} %  {name}")
    return "\n".join(lines)


def render_sessions(states: Counter[str]) -> str:
    total = max(sum(states.values()), 1)
    lines = [f"{sum(states.values())} samples of the delivery sessions' threads (wall clock):"]
    for name, n in states.most_common():
        lines.append(f"  {100 * n / total:5.1f} %  {name}")
    return "\n".join(lines)
