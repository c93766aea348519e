"""The lease keeper's fencing: roles last 0.8 of a period after the renewal was sent, a
failed renewal changes nothing, and a lease another instance holds is never this one's."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from notifier.core.errors import StateError
from notifier.runtime.roles import LeaseKeeper


class FakeMembership:
    """The project's own small interface (``runtime.roles.Membership``), faked."""

    instance = "a-1"

    def __init__(self) -> None:
        self.taken_by_others: set[str] = set()
        self.down = False
        self.left = False

    def renew(self, wanted: Collection[str], period: timedelta) -> set[str]:
        if self.down:
            raise StateError("db: cannot connect")
        return set(wanted) - self.taken_by_others

    def leave(self) -> None:
        self.left = True

    def close(self) -> None:
        pass


def test_roles_lapse_before_the_lease_can_expire_when_renewals_fail() -> None:
    clock = [100.0]
    member = FakeMembership()
    keeper = LeaseKeeper(member, timedelta(seconds=10), monotonic=lambda: clock[0])
    keeper.want(["desk", "mail"])
    member.taken_by_others = {"source:mail"}
    keeper.renew()
    assert keeper.may_send() and keeper.may_read("desk") and not keeper.may_read("mail")
    member.down = True
    clock[0] += 5
    keeper.renew()  # fails: nothing changes, the roles run out on their own
    assert keeper.may_send()
    clock[0] = 100.0 + 8.0  # 0.8 of the period after the last renewal was sent
    assert not keeper.may_send() and not keeper.may_read("desk")
    member.down = False
    keeper.renew()
    assert keeper.may_send() and keeper.may_read("desk")


def test_closing_gives_the_leases_up_and_ends_the_roles() -> None:
    member = FakeMembership()
    keeper = LeaseKeeper(member, timedelta(seconds=10))
    keeper.want(["desk"])
    keeper.start()
    assert keeper.may_read("desk")
    keeper.close()
    assert member.left and not keeper.may_send()
