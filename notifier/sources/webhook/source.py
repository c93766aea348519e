"""A webhook source: reads the events its receiver committed, oldest first, into the pass.

Each event is followed by a checkpoint (its number), committed with what the event produced,
so an event is read once, however the pass ends. Nothing here touches the network: the
listener is ``server``, started by the daemon.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from notifier.core.model import (
    INBOX_CHECKPOINT,
    Checkpoint,
    Ignored,
    InputProblem,
    Resolution,
    SourceEvent,
)
from notifier.core.ports import SourceState, WebhookInbox
from notifier.sources.webhook.events import WebhookVerdict, events_of, verdict_of
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
        states: dict[str, str] = {}  # this poll's ticket states, ahead of their commit
        while True:
            received = self._inbox.received_after(self.name, after, BATCH)
            for event in received:
                origin = f"webhook event {event.number} ({event.event_id})"
                verdict = verdict_of(
                    self.preset, event.body, source=self.name, origin=origin,
                    received_at=event.received_at,
                )  # fmt: skip
                if self.preset.told_until_reopened:
                    yield from self._once_until_reopened(verdict, states)
                else:
                    yield from events_of(verdict, self.preset.product)
                yield Checkpoint(self.name, INBOX_CHECKPOINT, str(event.number))
                after = event.number
            if len(received) < BATCH:
                return

    def _once_until_reopened(
        self, verdict: WebhookVerdict, states: dict[str, str]
    ) -> Iterator[SourceEvent]:
        """A resolution only when the ticket was not resolved already; the ticket's state is
        a checkpoint of its own (``ticket-state:<id>``), committed with the event."""
        if isinstance(verdict, InputProblem):
            yield verdict
            return
        key = f"ticket-state:{verdict.ticket_id}"
        last = states.get(key) or self._state.checkpoint(self.name, key)
        if isinstance(verdict, Resolution):
            if last == "resolved":
                yield Ignored(
                    self.name, verdict.origin,
                    f"update: {self.preset.product} ticket {verdict.ticket_id} is still "
                    "resolved; told once until it is reopened",
                    verdict.ticket_id,
                )  # fmt: skip
                return
            states[key] = "resolved"
            yield verdict
        else:
            states[key] = "open"
            yield from events_of(verdict, self.preset.product)
        yield Checkpoint(self.name, key, states[key])

    def committed(self) -> None:
        """Nothing to acknowledge: the checkpoints carry the progress."""

    def watch(self, wake: threading.Event) -> None:
        """The receiver wakes the daemon itself when an event is committed."""

    def close(self) -> None:
        """Nothing is held open."""
