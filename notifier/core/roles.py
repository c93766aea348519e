"""The roles of an instance that has its state to itself (SQLite): it does everything."""

from __future__ import annotations

from collections.abc import Iterable


class SoleInstance:
    """``notifier.core.ports.Roles`` for a state no other instance shares."""

    shared = False

    def may_read(self, source: str) -> bool:
        return True

    def may_send(self) -> bool:
        return True

    def want(self, sources: Iterable[str]) -> None:
        """Nothing to take: every source is this instance's."""

    def start(self) -> None:
        """Nothing to renew."""

    def close(self) -> None:
        """Nothing to give up."""
