"""Routing and notification rules: pure functions of the ticket, the rules and a clock value.

- :func:`route` decides which team owns a ticket.
- :func:`evaluate` runs the suppression rules in a fixed order and computes when the notice is
  due (the team's hold window, then its working hours). Every rule evaluated is returned as a
  :class:`Step`, so ``notifier explain`` can show why a notice was sent or suppressed.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from notifier.core.model import Resolution

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
    read_field = _field_reader(resolution)
    for rule in routes:
        for field_name, values in rule.match.items():
            value = read_field(field_name)
            if value and value.strip().casefold() in {v.strip().casefold() for v in values}:
                return rule.team
    return DEFAULT_TEAM


def _field_reader(resolution: Resolution) -> Callable[[str], str]:
    """Look fields up by name: the exact name first, else the first one equal but for case.

    The rules ask for a dozen names a ticket mostly does not have: fold the names once.
    """
    fields = resolution.fields
    folded: dict[str, str] = {}
    for key, value in fields.items():
        folded.setdefault(key.casefold(), value)

    def read(name: str) -> str:
        if name == "team":
            return resolution.team_hint
        if name in fields:
            return fields[name]
        return folded.get(name.casefold(), "")

    return read


# -- suppression, hold window, working hours -------------------------------------------------

Verdict = Literal["pass", "suppress", "delay"]


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """When notices may go out, in the team's time zone; outside them they wait."""

    start: time
    end: time
    days: frozenset[int]  # 0 = Monday ... 6 = Sunday
    zone: ZoneInfo


def mailbox_key(address: str) -> tuple[str, str]:
    """``(local part, domain)`` of an address as a mail server routes it: case folded, without
    a ``+tag`` (``helpdesk+42@x`` reaches ``helpdesk@x``), quotes, brackets or a trailing dot,
    the domain in its ASCII (IDNA) form so ``bücher.example`` is ``xn--bcher-kva.example``."""
    local, _, domain = address.strip().strip("<>").strip().casefold().rpartition("@")
    domain = domain.rstrip(".")
    if not domain.isascii():
        with contextlib.suppress(UnicodeError):
            domain = domain.encode("idna").decode("ascii")
    return local.strip('"').split("+", 1)[0], domain


@dataclass(frozen=True, slots=True)
class OwnAddresses:
    """Addresses that never get a notice, each with what makes it ours (for the record).

    ``addresses``: ``local@domain`` keys (:func:`mailbox_key` form) -> what it is.
    ``exact_domains``: every address at exactly this domain (trusted ``@domain`` senders).
    ``domains``: this domain and its subdomains (``never_notify``).
    """

    addresses: Mapping[str, str] = field(default_factory=dict)
    exact_domains: Mapping[str, str] = field(default_factory=dict)
    domains: Mapping[str, str] = field(default_factory=dict)

    def why(self, address: str) -> str | None:
        """What protects ``address``, or None when it may get a notice."""
        local, domain = mailbox_key(address)
        if not domain:
            return None
        found = self.addresses.get(f"{local}@{domain}") or self.exact_domains.get(domain)
        if found:
            return found
        labels = domain.split(".")
        for start in range(len(labels)):
            found = self.domains.get(".".join(labels[start:]))
            if found:
                return found
        return None


@dataclass(frozen=True, slots=True)
class NoticeRules:
    """The rules for one team (the global ones merged with the team's own)."""

    notify: bool = True
    closure_reasons: frozenset[str] = frozenset()
    closure_fields: tuple[str, ...] = ()
    suppress_requesters: tuple[str, ...] = ()  # fnmatch patterns, lower-case
    resolver_fields: tuple[str, ...] = ()
    max_age: timedelta | None = None
    delay: timedelta = timedelta(0)
    working_hours: WorkingHours | None = None
    own_addresses: OwnAddresses = field(default_factory=OwnAddresses)


@dataclass(frozen=True, slots=True)
class Step:
    rule: str
    verdict: Verdict
    detail: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    steps: tuple[Step, ...]
    due_at: datetime

    @property
    def suppressed_by(self) -> Step | None:
        return next((step for step in self.steps if step.verdict == "suppress"), None)


def evaluate(
    resolution: Resolution,
    team: str,
    rules: NoticeRules,
    now: datetime,
    *,
    backfill_since: datetime | None = None,
) -> Evaluation:
    """Every rule in order; the first suppression wins, but all are recorded for explain.

    ``backfill_since``: the source's own answer to "how old may a resolution be" (an IMAP
    source's ``backfill_since``); see :func:`_backfill_guard`.
    """
    read_field = _field_reader(resolution)
    steps = [
        _protected_recipient(resolution, rules),
        _team_opt_out(team, rules),
        _closure_reason(read_field, rules),
        _requester_pattern(resolution, rules),
        _resolver_is_requester(resolution, read_field, rules),
        _backfill_guard(resolution, rules, now, backfill_since),
    ]
    due = now + rules.delay
    if rules.delay > timedelta(0):
        steps.append(
            Step(
                "hold_window",
                "delay",
                f"wait {_human(rules.delay)} for a reopen or a newer resolution",
            )
        )
    else:
        steps.append(Step("hold_window", "pass", "no hold window"))
    if rules.working_hours is not None:
        allowed = next_working_time(due, rules.working_hours)
        if allowed > due:
            local = allowed.astimezone(rules.working_hours.zone)
            steps.append(
                Step(
                    "working_hours",
                    "delay",
                    f"outside working hours; goes out {local:%a %Y-%m-%d %H:%M %Z}",
                )
            )
            due = allowed
        else:
            steps.append(Step("working_hours", "pass", "within working hours"))
    return Evaluation(tuple(steps), due)


def _protected_recipient(resolution: Resolution, rules: NoticeRules) -> Step:
    """The last line: whatever a source read, never the helpdesk's own addresses. First, so
    the record names it even when another rule would also suppress."""
    why = rules.own_addresses.why(resolution.requester_email)
    if why is not None:
        # Names the protected entry, not the requester (a domain entry covers people).
        return Step(
            "protected_recipient",
            "suppress",
            f"ticket {resolution.ticket_id}: the requester address is {why}; never notified",
        )
    return Step("protected_recipient", "pass", "not one of our own addresses")


def _team_opt_out(team: str, rules: NoticeRules) -> Step:
    if not rules.notify:
        return Step(
            "team_opt_out", "suppress", f"team {team!r} does not send notices (notify = false)"
        )
    return Step("team_opt_out", "pass", f"team {team!r} sends notices")


def _closure_reason(read_field: Callable[[str], str], rules: NoticeRules) -> Step:
    for name in rules.closure_fields:
        value = read_field(name).strip()
        if value and value.casefold() in rules.closure_reasons:
            return Step("closure_reason", "suppress", f"{name} is {value!r}")
    return Step("closure_reason", "pass", "no suppressing closure reason")


def _requester_pattern(resolution: Resolution, rules: NoticeRules) -> Step:
    address = resolution.requester_email.strip().lower()
    for pattern in rules.suppress_requesters:
        if fnmatch.fnmatchcase(address, pattern):
            return Step("requester_address", "suppress", f"{address} matches {pattern!r}")
    return Step("requester_address", "pass", "requester address is not excluded")


def _resolver_is_requester(
    resolution: Resolution, read_field: Callable[[str], str], rules: NoticeRules
) -> Step:
    mine = {
        resolution.requester_email.strip().casefold(),
        resolution.requester_name.strip().casefold(),
    } - {""}
    for name in rules.resolver_fields:
        value = read_field(name).strip()
        if value and value.casefold() in mine:
            return Step("resolver_is_requester", "suppress", f"{name} {value!r} is the requester")
    return Step("resolver_is_requester", "pass", "resolved by someone else")


def _backfill_guard(
    resolution: Resolution, rules: NoticeRules, now: datetime, since: datetime | None
) -> Step:
    """One decision on old resolutions: a resolution passes when it is within ``max_age`` or,
    for a source with ``backfill_since``, resolved since that date (the user asked for that
    mail). So backfill_since only ever lets more through, and every verdict names its knob."""
    limit = rules.max_age
    resolved = resolution.resolved_at
    if limit is None and since is None:
        return Step("max_age", "pass", "no age limit")
    if resolved is None:
        return Step("max_age", "pass", "resolution time unknown")
    age = now - resolved
    if since is not None and resolved >= since:
        return Step(
            "max_age",
            "pass",
            f"resolved {_human(max(age, timedelta(0)))} ago, since this source's backfill_since "
            f"{since:%Y-%m-%d} (which replaces max_age for the mail it asks for)",
        )
    if limit is not None and age > limit:
        before = f"before this source's backfill_since {since:%Y-%m-%d} and " if since else ""
        return Step(
            "max_age",
            "suppress",
            f"resolved {_human(age)} ago, {before}over the {_human(limit)} limit ([rules] "
            "max_age, the backfill guard; raise it, or set an IMAP source's backfill_since, "
            "to notify older resolutions)",
        )
    return Step("max_age", "pass", f"resolved {_human(max(age, timedelta(0)))} ago")


def next_working_time(moment: datetime, hours: WorkingHours) -> datetime:
    """``moment`` if it is inside working hours, else the start of the next working period."""
    local = moment.astimezone(hours.zone)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in hours.days:
            continue
        start = datetime.combine(day, hours.start, hours.zone)
        end = datetime.combine(day, hours.end, hours.zone)
        if offset == 0 and start <= local < end:
            return moment
        if local < start:
            return start.astimezone(moment.tzinfo)
    return moment  # no working day configured: never hold back forever


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    if seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
