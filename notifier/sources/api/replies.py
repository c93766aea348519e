"""The note of a resolution read from a product's replies: the newest public reply made up to
the resolution. The products that keep replies apart from the ticket (Jira's comments,
Freshdesk's conversations, Zammad's articles) filter them to the public ones of an agent;
this picks the one to tell.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from notifier.sources.records.timestamps import parse_timestamp

# A reply saved with the resolution (a transition screen's comment, a reply sent with the
# status change) may carry a time a little after the resolution's own.
GRACE = timedelta(minutes=1)


def newest_reply(replies: Iterable[tuple[object, str]], resolved: object) -> str:
    """The text of the newest of ``replies`` (their creation time, their text) made up to
    ``resolved`` (a date, or anything unreadable for "no limit"); "" when there is none."""
    try:
        latest = parse_timestamp(str(resolved)) + GRACE
    except ValueError:
        latest = datetime.max.replace(tzinfo=UTC)
    best: tuple[datetime, str] | None = None
    for created, text in replies:
        try:
            at = parse_timestamp(str(created or ""))
        except ValueError:
            continue
        if at <= latest and (best is None or at >= best[0]):
            best = (at, text)
    return best[1] if best else ""
