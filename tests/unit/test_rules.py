"""Routing: the first matching team wins, else default."""

from __future__ import annotations

import pytest

from notifier.core.model import Resolution
from notifier.core.rules import TeamRoute, route

ROUTES = [
    TeamRoute("network", {"team": ("Network", "Network Operations")}),
    TeamRoute("apps", {"Component/s": ("Outlook",), "queue": ("apps",)}),
    TeamRoute("catch-network", {"team": ("network",)}),
]


def ticket(team: str = "", **fields: str) -> Resolution:
    return Resolution(
        source="s", ticket_id="1", requester_email="a@example.org", team_hint=team, fields=fields
    )


@pytest.mark.parametrize(
    ("resolution", "team"),
    [
        (ticket("Network"), "network"),
        (ticket("  network operations "), "network"),
        (ticket("Desktop"), "default"),
        (ticket("", **{"Component/s": "outlook"}), "apps"),
        (ticket("", QUEUE="Apps"), "apps"),
        (ticket(""), "default"),
    ],
)
def test_route_table(resolution: Resolution, team: str) -> None:
    """Matching is case-insensitive on group and raw columns; order decides between rules."""
    assert route(resolution, ROUTES) == team
