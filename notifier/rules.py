"""Routing: which team owns a resolved ticket. Pure functions of the ticket and the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from notifier.model import Resolution

DEFAULT_TEAM = "default"


@dataclass(frozen=True, slots=True)
class TeamRoute:
    """``team`` owns a ticket when any ``field`` has any of its ``values`` (case-insensitive).

    The field ``team`` means the export's group/team column (``Resolution.team_hint``); any
    other name is a raw column of the ticket (``Resolution.fields``), for example ``queue`` or
    ``Component/s``.
    """

    team: str
    match: Mapping[str, tuple[str, ...]]


def route(resolution: Resolution, routes: Sequence[TeamRoute]) -> str:
    """The first team whose rule matches, in configuration order; else ``default``."""
    for rule in routes:
        for field_name, values in rule.match.items():
            value = _field(resolution, field_name)
            if value and value.strip().casefold() in {v.strip().casefold() for v in values}:
                return rule.team
    return DEFAULT_TEAM


def _field(resolution: Resolution, name: str) -> str:
    if name == "team":
        return resolution.team_hint
    if name in resolution.fields:
        return resolution.fields[name]
    wanted = name.casefold()
    for key, value in resolution.fields.items():
        if key.casefold() == wanted:
            return value
    return ""
