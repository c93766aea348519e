"""What every live helpdesk fixture does with its server: a free loopback port, start it in a
process group of its own, wait until it answers, stop it and whatever it forked."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class HelpdeskError(RuntimeError):
    """A helpdesk could not be installed, started or driven (the message says which)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loopback_opener(*handlers: Any) -> urllib.request.OpenerDirector:
    """An opener no proxy from the environment can carry elsewhere: loopback stays loopback."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), *handlers)


def serve(
    command: list[str], *, log: Path, url: str, timeout: float = 120, **popen: Any
) -> subprocess.Popen[bytes]:
    """Start ``command`` (its output to ``log``) and return once ``url`` answers at all."""
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, **popen,
        )  # fmt: skip
    opener = loopback_opener()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(url, timeout=5):
                return server
        except urllib.error.HTTPError:
            return server  # an error page is an answer: the server is up
        except OSError as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise HelpdeskError(f"{command[0]} did not come up ({exc}); see {log}") from exc
            time.sleep(0.2)


def stop(server: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the server's process group (the workers it forked too), then SIGKILL."""
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
