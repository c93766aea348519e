"""The small interfaces between the core and its adapters.

Tests fake these (and only these); the real adapters are built in ``bootstrap``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from notifier.core.model import DeliveryResult, Notice, SourceEvent


class Source(Protocol):
    """Turns raw input into source events. Never sends, never renders."""

    name: str

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        """Yield what is new since the last committed checkpoints."""
        ...

    def committed(self) -> None:
        """Everything the last poll yielded is committed (an IMAP source may now flag/move)."""
        ...

    def watch(self, wake: threading.Event) -> None:
        """Start watching for new input between passes, setting ``wake`` when some arrives."""
        ...

    def close(self) -> None:
        """Release connections and stop watching."""
        ...


class SendSession(Protocol):
    def send(self, notice: Notice) -> DeliveryResult: ...


class Sender(Protocol):
    """Owns the mail transport. A session may reuse one connection for many notices."""

    def session(
        self, stop: threading.Event | None = None
    ) -> contextlib.AbstractContextManager[SendSession]:
        """Once ``stop`` is set, ``send`` starts no new command and raises SendInterrupted for
        a message it did not hand over; the answer in flight is still awaited."""
        ...
