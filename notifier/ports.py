"""The small interfaces between the core and its adapters.

Tests fake these (and only these); the real adapters are built in ``bootstrap``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from notifier.model import DeliveryResult, Notice, SourceEvent


class Source(Protocol):
    """Turns raw input into source events. Never sends, never renders."""

    name: str

    def poll(self, now: datetime) -> Iterator[SourceEvent]: ...


class SendSession(Protocol):
    def send(self, notice: Notice) -> DeliveryResult: ...


class Sender(Protocol):
    """Owns the mail transport. A session may reuse one connection for many notices."""

    def session(self) -> contextlib.AbstractContextManager[SendSession]: ...
