"""The roles of an instance sharing a PostgreSQL state, kept by renewing its leases.

A thread renews this instance and the leases of its polled sources every third of the lease
period (``[state] lease``). Each renewal that succeeds makes the roles valid until
``VALID_FOR`` of the period after the renewal was *sent*: before the server could let the
lease go to another instance, this one has stopped reading and sending. A renewal that fails
(the database is down, the network cut) changes nothing, so the roles lapse on their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable
from datetime import timedelta
from typing import Protocol

import structlog

from notifier.core.errors import StateError
from notifier.core.roles import source_lease

log = structlog.get_logger("notifier.roles")

# How much of a lease period the roles stay valid after the renewal was sent (the rest is the
# margin for the renewal's own round trip and for the clocks' rates).
VALID_FOR = 0.8


class Membership(Protocol):
    """This instance's row and leases in the shared state (``store/postgres/leases.py``)."""

    instance: str

    def renew(self, wanted: Collection[str], period: timedelta) -> set[str]: ...

    def leave(self) -> None: ...

    def close(self) -> None: ...


class LeaseKeeper:
    """``notifier.core.ports.Roles`` for one instance of several sharing a state."""

    shared = True

    def __init__(
        self,
        membership: Membership,
        period: timedelta,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.membership = membership
        self.period = period
        self._monotonic = monotonic
        self._wanted: frozenset[str] = frozenset()
        self._held: frozenset[str] = frozenset()
        self._valid_until = float("-inf")
        self._failing = False
        self._stop = threading.Event()
        self._soon = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def instance(self) -> str:
        return self.membership.instance

    @property
    def held(self) -> frozenset[str]:
        return self._held if self._valid() else frozenset()

    def want(self, sources: Iterable[str]) -> None:
        """Read these sources (after a reload: others are let go at the next renewal)."""
        self._wanted = frozenset(source_lease(name) for name in sources)
        self._soon.set()

    def start(self) -> None:
        """Renew once now (so the first pass knows its roles), then keep renewing."""
        self.renew()
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
        self._thread.start()

    def may_read(self, source: str) -> bool:
        return self._valid() and source_lease(source) in self._held

    def may_send(self) -> bool:
        return self._valid()

    def _valid(self) -> bool:
        return self._monotonic() < self._valid_until

    def _loop(self) -> None:
        interval = self.period.total_seconds() / 3
        while not self._stop.is_set():
            self._soon.wait(interval)
            self._soon.clear()
            if not self._stop.is_set():
                self.renew()

    def renew(self) -> None:
        sent = self._monotonic()
        try:
            held = frozenset(self.membership.renew(self._wanted, self.period))
        except StateError as exc:
            if not self._failing:
                log.error("lease_renewal_failed", instance=self.instance, error=str(exc))
            self._failing = True
            return
        if self._failing:
            log.info("lease_renewed", instance=self.instance)
        self._failing = False
        before = self.held
        self._held = held
        self._valid_until = sent + self.period.total_seconds() * VALID_FOR
        for lease in sorted(held - before):
            log.info("lease_acquired", instance=self.instance, lease=lease)
        for lease in sorted(before - held):
            log.warning("lease_lost", instance=self.instance, lease=lease)

    def close(self) -> None:
        """Stop renewing and give the leases up, so the others take over at once."""
        self._stop.set()
        self._soon.set()
        if self._thread is not None:
            self._thread.join(timeout=self.period.total_seconds())
        self._valid_until = float("-inf")
        try:
            self.membership.leave()
        except StateError as exc:
            log.warning("lease_release_failed", instance=self.instance, error=str(exc))
        self.membership.close()
