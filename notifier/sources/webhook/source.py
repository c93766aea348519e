"""A webhook source: reads the events its receiver committed, oldest first, into the pass.

Each event is followed by a checkpoint (its number), committed with what the event produced,
so an event is read once, however the pass ends. Nothing here touches the network: the
listener is ``server``, started by the daemon.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from notifier.core.model import INBOX_CHECKPOINT, Checkpoint, SourceEvent
from notifier.core.ports import SourceState, WebhookInbox
from notifier.sources.webhook.events import events_of, verdict_of
from notifier.sources.webhook.presets.preset import WebhookPreset

BATCH = 200  # events read from the inbox at a time


class WebhookSource:
    def __init__(
        self, name: str, preset: WebhookPreset, inbox: WebhookInbox, state: SourceState
    ) -> None:
        self.name = name
        self.preset = preset
        self._inbox = inbox
        self._state = state

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        after = int(self._state.checkpoint(self.name, INBOX_CHECKPOINT) or 0)
        while True:
            received = self._inbox.received_after(self.name, after, BATCH)
            for event in received:
                origin = f"webhook event {event.number} ({event.event_id})"
                verdict = verdict_of(
                    self.preset, event.body, source=self.name, origin=origin,
                    received_at=event.received_at,
                )  # fmt: skip
                yield from events_of(verdict, self.preset.product)
                yield Checkpoint(self.name, INBOX_CHECKPOINT, str(event.number))
                after = event.number
            if len(received) < BATCH:
                return

    def committed(self) -> None:
        """Nothing to acknowledge: the checkpoints carry the progress."""

    def watch(self, wake: threading.Event) -> None:
        """The receiver wakes the daemon itself when an event is committed."""

    def close(self) -> None:
        """Nothing is held open."""
