"""The roles of instances: one that has its state to itself (SQLite) does everything; the
instances sharing a state, as ``notifier status`` shows them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

_SOURCE = "source:"


def source_lease(source: str) -> str:
    """The name of the lease whose holder reads ``source`` (the ``leases`` table's)."""
    return _SOURCE + source


def leased_source(lease: str) -> str:
    """The source a lease is for: ``source_lease`` undone."""
    return lease.removeprefix(_SOURCE)


class SoleInstance:
    """``notifier.core.ports.Roles`` for a state no other instance shares (and, for the same
    reason, ``bootstrap.Wakeups``: no other instance to be woken by)."""

    shared = False

    def may_read(self, source: str) -> bool:
        return True

    def may_send(self) -> bool:
        return True

    def want(self, sources: Iterable[str]) -> None:
        """Nothing to take: every source is this instance's."""

    def start(self) -> None:
        """Nothing to renew or listen to."""

    def close(self) -> None:
        """Nothing to give up or stop."""


@dataclass(frozen=True)
class InstanceView:
    """One instance, as ``notifier status`` shows it."""

    id: str
    name: str
    pid: int
    started_at: datetime
    renewed_at: datetime
    alive: bool
    leases: tuple[str, ...]
