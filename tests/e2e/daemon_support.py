"""Running ``notifier run`` the way systemd does: a notify socket, a watchdog, signals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.e2e.cli import ROOT


@dataclass(frozen=True)
class Datagram:
    """One notify message as systemd would receive it."""

    at: float  # time.monotonic() when it arrived
    fields: dict[str, str]

    @property
    def kind(self) -> str:
        for key in ("READY", "RELOADING", "STOPPING", "WATCHDOG"):
            if self.fields.get(key) == "1":
                return key
        return "STATUS" if "STATUS" in self.fields else "OTHER"


class NotifyListener:
    """A datagram socket in the abstract namespace standing in for systemd's notify socket."""

    def __init__(self) -> None:
        self.name = f"@notifier-test-{uuid.uuid4().hex}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(b"\0" + self.name[1:].encode())
        self._sock.settimeout(0.2)
        self._received: list[Datagram] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)

    def __enter__(self) -> NotifyListener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._changed:
                self._received.append(Datagram(time.monotonic(), fields))
                self._changed.notify_all()

    @property
    def received(self) -> list[Datagram]:
        with self._changed:
            return list(self._received)

    def kinds(self) -> list[str]:
        return [d.kind for d in self.received if d.kind != "STATUS"]

    def wait_for(
        self, condition: Callable[[list[Datagram]], bool], timeout: float, what: str
    ) -> list[Datagram]:
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self._received), timeout):
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; got {self.kinds()}"
                )
            return list(self._received)

    def wait_count(self, kind: str, count: int, timeout: float = 30) -> list[Datagram]:
        return self.wait_for(
            lambda got: sum(d.kind == kind for d in got) >= count, timeout, f"{count}x {kind}"
        )


def start_daemon(
    *args: str, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``python -m notifier ARGS`` in the background with extra environment, output to ``log``."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "notifier", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


def events(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def in_order(sequence: list[str], wanted: list[str]) -> bool:
    """Whether ``wanted`` appears in ``sequence`` in this order (other items may come between)."""
    position = 0
    for item in sequence:
        if position < len(wanted) and item == wanted[position]:
            position += 1
    return position == len(wanted)
