"""Socket reads and writes with an overall deadline, for the SMTP and IMAP adapters.

A socket timeout bounds one ``recv``: a peer that sends one byte a second restarts it with
every byte and can hold a command for ever. Here every read and write of one step (a command
and its whole answer) shares one deadline on :func:`time.monotonic`: before each ``recv`` or
``send`` the socket timeout is shrunk to the time left, and once it is gone the step raises
:class:`TimeoutError` (an ``OSError``, like the socket timeout it replaces).

:class:`StepClock` holds the deadlines of one connection: the step's own (started by
:meth:`StepClock.start`, ``seconds`` long, optionally lengthened by what the step received so
that a big but steady transfer is not cut) and an optional overall one over several steps
(:meth:`StepClock.limit`, a whole SMTP transaction). :class:`DeadlineReader` is the file object
the protocol libraries read answers from; :func:`send_all` writes; :class:`BoundedTLS` keeps a
TLS handshake within the step.
"""

from __future__ import annotations

import io
import socket
import ssl
import time
from typing import Any

__all__ = ["BoundedTLS", "DeadlineReader", "ReadLimitExceeded", "StepClock", "send_all"]

_SEND_CHUNK = 64 * 1024


class ReadLimitExceeded(Exception):
    """One step received more bytes than its cap: a runaway answer, not a slow one."""


class StepClock:
    """The deadlines of one connection's current step.

    ``seconds``: how long one step may take. ``bytes_per_second``: when set, each byte a step
    receives lengthens it by ``1 / bytes_per_second`` seconds, counting at most
    ``counted_bytes``, so a large answer arriving at least that fast is never cut, while a drip
    gains almost nothing. ``max_step_bytes``: when set, a step receiving more raises
    :class:`ReadLimitExceeded`.
    """

    def __init__(
        self,
        seconds: float,
        *,
        bytes_per_second: float | None = None,
        counted_bytes: int = 0,
        max_step_bytes: int | None = None,
    ) -> None:
        self.seconds = seconds
        self.bytes_per_second = bytes_per_second
        self.counted_bytes = counted_bytes
        self.max_step_bytes = max_step_bytes
        self._started: float | None = None
        self._received = 0
        self._overall: float | None = None

    def start(self) -> None:
        """A new step begins now (a command is about to be written, or a greeting read)."""
        self._started = time.monotonic()
        self._received = 0

    def stop(self) -> None:
        """No step deadline until the next :meth:`start` (a client waiting in IMAP IDLE)."""
        self._started = None

    def limit(self, seconds: float | None) -> None:
        """An overall deadline ``seconds`` from now over every step until cleared with None."""
        self._overall = None if seconds is None else time.monotonic() + seconds

    @property
    def overall_expired(self) -> bool:
        """Whether the overall deadline has passed (after a timeout: it was the one that hit)."""
        return self._overall is not None and time.monotonic() >= self._overall

    @property
    def active(self) -> bool:
        return self._started is not None

    def received(self, count: int) -> None:
        self._received += count
        if self.max_step_bytes is not None and self._received > self.max_step_bytes:
            raise ReadLimitExceeded(f"more than {self.max_step_bytes} bytes in one answer")

    def remaining(self) -> float | None:
        """Seconds left for the step (None: no deadline); TimeoutError once none are left."""
        if self._started is None:
            return None
        deadline = self._started + self.seconds
        if self.bytes_per_second:
            deadline += min(self._received, self.counted_bytes) / self.bytes_per_second
        if self._overall is not None:
            deadline = min(deadline, self._overall)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


class DeadlineReader(io.RawIOBase):
    """A raw, readable file over ``sock`` whose reads keep to ``clock``'s deadlines.

    Wrap it in :class:`io.BufferedReader` for ``readline``. Outside a step (``clock`` not
    active) it reads with the socket as it is, so a caller may set it non-blocking.
    """

    def __init__(self, sock: socket.socket, clock: StepClock, base_timeout: float | None) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock
        self._base_timeout = base_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int | None:  # type: ignore[override]
        left = self._clock.remaining()
        try:
            if left is not None:
                base = self._base_timeout
                self._sock.settimeout(left if base is None else min(left, base))
            count = self._sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return None  # a non-blocking socket with nothing to read (IMAP IDLE polling)
        finally:
            if left is not None:
                self._sock.settimeout(self._base_timeout)
        self._clock.received(count)
        return count

    def fileno(self) -> int:
        return self._sock.fileno()


def send_all(sock: socket.socket, data: bytes, clock: StepClock, base: float | None) -> None:
    """``sock.sendall(data)`` within ``clock``'s deadlines (TimeoutError when they pass)."""
    view = memoryview(data)
    try:
        while view:
            left = clock.remaining()
            if left is not None:
                sock.settimeout(left if base is None else min(left, base))
            sent = sock.send(view[:_SEND_CHUNK])
            view = view[sent:]
    finally:
        sock.settimeout(base)


class BoundedTLS:
    """An :class:`ssl.SSLContext` stand-in whose ``wrap_socket`` keeps ``clock``'s deadline.

    smtplib and imaplib only call ``context.wrap_socket(sock, server_hostname=...)``; the
    handshake then runs with the socket timeout set to the step's time left (since Python 3.5
    that bounds the whole handshake, not each read of it).
    """

    def __init__(self, context: ssl.SSLContext, clock: StepClock, base: float | None) -> None:
        self.context = context
        self._clock = clock
        self._base = base

    def wrap_socket(self, sock: socket.socket, **kwargs: Any) -> ssl.SSLSocket:
        left = self._clock.remaining()
        if left is not None:
            sock.settimeout(left if self._base is None else min(left, self._base))
        tls = self.context.wrap_socket(sock, **kwargs)
        tls.settimeout(self._base)
        return tls

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)
