"""The systemd notify protocol, in a few lines of our own (see ``sd_notify(3)``).

A message is one datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace. Without the
variable (not started by systemd with ``Type=notify``) every call does nothing. Sending never
raises: a daemon must not die because its supervisor went away.

The watchdog is on when ``$WATCHDOG_USEC`` is set and ``$WATCHDOG_PID`` is unset or names this
process; systemd then expects ``WATCHDOG=1`` at least every ``WATCHDOG_USEC`` microseconds, and
``sd_watchdog_enabled(3)`` advises sending it at half that interval.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from datetime import timedelta

import structlog

log = structlog.get_logger()

# A stuck supervisor must not stall the daemon: give up on a datagram after this long.
_SEND_TIMEOUT_SECONDS = 2.0


def socket_address(name: str) -> str | bytes:
    """The address to send to: a path, or for ``@name`` the abstract name ``\\0name``."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as ``MONOTONIC_USEC=`` wants it with ``RELOADING=1``."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def watchdog_interval(
    environ: Mapping[str, str] | None = None, pid: int | None = None
) -> timedelta | None:
    """systemd's watchdog timeout for this process, or None when the watchdog is off."""
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC", "")
    if not usec_text:
        return None
    pid_text = env.get("WATCHDOG_PID", "")
    if pid_text and pid_text != str(os.getpid() if pid is None else pid):
        return None  # meant for another process (for example our parent)
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    return timedelta(microseconds=usec) if usec > 0 else None


class Notifier:
    """Sends state changes to systemd; a no-op when there is no ``$NOTIFY_SOCKET``."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``) as one datagram; True if sent."""
        if self.address is None:
            return False
        payload = "\n".join(field.replace("\n", " ") for field in fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(_SEND_TIMEOUT_SECONDS)
                sock.sendto(payload, socket_address(self.address))
        except OSError as exc:
            if not self._warned:  # once: a vanished socket would otherwise flood the log
                self._warned = True
                log.warning("sd_notify_failed", socket=self.address, error=str(exc))
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def extend_timeout(self, extra: timedelta) -> bool:
        """Ask for more time to start or stop (systemd >= 236 honours it)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={int(extra.total_seconds() * 1_000_000)}")
