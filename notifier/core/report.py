"""What ``notifier report`` counts: per team, the resolutions seen in a period by where they stand.

A resolution counts in the period in which notifier first saw it (``notices.queued_at``), and
is counted once, by where it stands now: notified (sent), suppressed (by reason), held (waiting
for review), failed (dead letter), cancelled, or still pending (queued, deferred, sending).
So, per team, ``seen`` is the sum of those. Time to delivery runs from the ticket's resolved
time to the accepted send (``sent_at - resolved_at``, notices without a resolved time are left
out): the median, and the 95th percentile by the nearest-rank method (an observed value).
"Findings" is the share of rendered notices that carried plain-language findings.

"Rejected" counts people never told because their ticket's input could not be used (each store's
report query says how it finds them). It is not part of ``seen``. Suppression reasons are
grouped by the rule that suppressed, in words a manager reads (see :func:`reason_words`), never by
a ticket's own details.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from notifier.core.clock import from_stamp

_PENDING = frozenset({"queued", "deferred", "sending"})


ALL_TEAMS = "all teams"


@dataclass(frozen=True, slots=True)
class TeamLine:
    team: str
    seen: int
    notified: int
    suppressed: dict[str, int]  # reason -> count
    held: int
    failed: int
    cancelled: int
    pending: int
    delivery_seconds: tuple[float, ...]  # sorted
    rendered: int  # notices with words (the findings share's denominator)
    with_findings: int
    rejected: int = 0  # people never told: their ticket's input was rejected (not in seen)

    @property
    def suppressed_total(self) -> int:
        return sum(self.suppressed.values())

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.delivery_seconds) if self.delivery_seconds else None

    @property
    def p95_seconds(self) -> float | None:
        return percentile(self.delivery_seconds, 95)

    @property
    def findings_share(self) -> float | None:
        return self.with_findings / self.rendered if self.rendered else None

    @property
    def notified_share(self) -> float | None:
        return self.notified / self.seen if self.seen else None


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    teams: tuple[TeamLine, ...]
    rejected_without_ticket: int = 0  # rejected input naming no readable ticket
    total: TeamLine = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", _sum(ALL_TEAMS, self.teams))


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``: the smallest value with pct% at or below."""
    if not values:
        return None
    rank = max(math.ceil(pct / 100 * len(values)), 1)
    return values[rank - 1]


# Each suppressing rule (rules.evaluate's step names) in the words of someone who never saw
# the configuration. A closure reason is said with its value ("closed as duplicate").
_RULE_WORDS = {
    "protected_recipient": "the requester is one of our own addresses",
    "team_opt_out": "the team does not send notices",
    "requester_address": "the requester's address is on the do-not-notify list",
    "resolver_is_requester": "the requester resolved it themselves",
    "max_age": "resolved too long before notifier saw it",
}


_RULE_REASON = re.compile(r"rule (\w+): (.*)", re.DOTALL)


_CLOSURE_VALUE = re.compile(r" is (['\"])(.*)\1\s*$", re.DOTALL)


MAX_REASON_CHARS = 60  # a closure value is configured, but a report line stays a line


def reason_words(reason: str) -> str:
    """A suppression reason (``rule <id>: <this ticket's detail>``) grouped by its rule."""
    found = _RULE_REASON.match(reason)
    if found is None:
        return "another reason" if reason else "(no reason given)"
    rule, detail = found.groups()
    if rule == "closure_reason":
        value = _CLOSURE_VALUE.search(detail)
        if value is not None and value.group(2).strip():
            words = " ".join(value.group(2).casefold().split())
            return f"closed as {words[:MAX_REASON_CHARS]}"
        return "closed with a reason that needs no notice"
    return _RULE_WORDS.get(rule, f"rule {rule}")


def team_line(team: str, rows: list[tuple[str, ...]], *, rejected: int = 0) -> TeamLine:
    """One team's line from its notices' rows: (team, state, reason, resolved_at, sent_at,
    template, findings), times as stored stamps."""
    states = Counter(str(row[1]) for row in rows)
    suppressed = Counter(reason_words(str(row[2])) for row in rows if row[1] == "suppressed")
    delays = sorted(
        (from_stamp(row[4]) - from_stamp(row[3])).total_seconds()
        for row in rows
        if row[1] == "sent" and row[3] and row[4]
    )
    rendered = [row for row in rows if row[5]]
    return TeamLine(
        team=team,
        seen=len(rows),
        notified=states["sent"],
        suppressed=dict(sorted(suppressed.items(), key=lambda item: (-item[1], item[0]))),
        held=states["held"],
        failed=states["failed"],
        cancelled=states["cancelled"],
        pending=sum(count for state, count in states.items() if state in _PENDING),
        delivery_seconds=tuple(delays),
        rendered=len(rendered),
        with_findings=sum(1 for row in rendered if row[6]),
        rejected=rejected,
    )


def _sum(name: str, lines: Sequence[TeamLine]) -> TeamLine:
    suppressed: Counter[str] = Counter()
    for line in lines:
        suppressed.update(line.suppressed)
    return TeamLine(
        team=name,
        seen=sum(line.seen for line in lines),
        notified=sum(line.notified for line in lines),
        suppressed=dict(sorted(suppressed.items(), key=lambda item: (-item[1], item[0]))),
        held=sum(line.held for line in lines),
        failed=sum(line.failed for line in lines),
        cancelled=sum(line.cancelled for line in lines),
        pending=sum(line.pending for line in lines),
        delivery_seconds=tuple(sorted(s for line in lines for s in line.delivery_seconds)),
        rendered=sum(line.rendered for line in lines),
        with_findings=sum(line.with_findings for line in lines),
        rejected=sum(line.rejected for line in lines),
    )
