"""The systemd notify protocol of notifier/runtime/sdnotify.py, against real datagram sockets."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from notifier.runtime.sdnotify import Notifier, monotonic_usec, socket_address, watchdog_interval


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"@notifier-unit-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(socket_address(name))
    sock.settimeout(2)
    try:
        yield name, sock
    finally:
        sock.close()


def test_abstract_socket_name_starting_with_at_receives_one_datagram_per_call(
    abstract_socket: tuple[str, socket.socket],
) -> None:
    """`@name` is the abstract namespace; READY and STATUS travel together in one datagram."""
    name, sock = abstract_socket
    notifier = Notifier(name)
    assert notifier.ready("running: 1 source(s) OK")
    assert sock.recv(4096) == b"READY=1\nSTATUS=running: 1 source(s) OK"


def test_path_socket_receives_messages_and_newlines_in_a_value_cannot_add_fields(
    tmp_path: Path,
) -> None:
    """A filesystem socket works too; a newline in STATUS text cannot smuggle in READY=1."""
    path = tmp_path / "n.sock"
    if len(str(path)) > 100:  # sun_path is 108 bytes
        path = Path("/tmp") / f"n-{uuid.uuid4().hex[:8]}.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        try:
            Notifier.from_environment({"NOTIFY_SOCKET": str(path)}).status("bad\nREADY=1")
            assert sock.recv(4096) == b"STATUS=bad READY=1"
        finally:
            path.unlink()


def test_reloading_carries_monotonic_usec_from_the_same_clock_as_systemd(
    abstract_socket: tuple[str, socket.socket],
) -> None:
    """RELOADING=1 comes with MONOTONIC_USEC= read from CLOCK_MONOTONIC at the time it is sent."""
    name, sock = abstract_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier(name).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    fields = dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines())
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after
    assert monotonic_usec() >= after


def test_without_notify_socket_every_call_is_a_silent_no_op() -> None:
    """Run by hand (no $NOTIFY_SOCKET), notifier sends nothing and says so."""
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog() and not notifier.stopping()


def test_a_vanished_socket_never_raises() -> None:
    """systemd gone (or a stale NOTIFY_SOCKET) must not crash the daemon: send returns False."""
    notifier = Notifier(f"@notifier-nobody-listens-{uuid.uuid4().hex}")
    assert notifier.enabled
    assert notifier.watchdog() is False
    assert notifier.watchdog() is False  # and again, without a second warning


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "2000000"}, timedelta(seconds=2)),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, timedelta(seconds=2)),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_is_on_only_for_this_process_with_a_positive_interval(
    environ: dict[str, str], expected: timedelta | None
) -> None:
    """WATCHDOG_USEC enables the watchdog unless WATCHDOG_PID names another process."""
    assert watchdog_interval(environ) == expected
