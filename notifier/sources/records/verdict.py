"""One ticket record's verdict: a resolution, an open ticket (a reopen check), or a problem.

Shared by the sources that get one record per ticket event (webhooks, API answers): the record
is mapped with :func:`~notifier.sources.records.rows.row_to_resolution`; a record that is not
resolved becomes a :class:`Reopened` for its ticket, which cancels a notice still waiting when
it is newer than the resolution (``announced`` when its status is one of ``reopen_statuses``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from notifier.core.errors import InputError
from notifier.core.model import InputProblem, Reopened, Resolution
from notifier.sources.records.mapping import ColumnMapping, normalise_status
from notifier.sources.records.rows import open_ticket, row_to_resolution

RecordVerdict = Resolution | Reopened | InputProblem


def record_verdict(
    record: Mapping[str, object],
    mapping: ColumnMapping,
    *,
    reopen_statuses: frozenset[str],
    source: str,
    origin: str,
    seen_at: datetime,
    what: str = "record",
) -> RecordVerdict:
    """The verdict on ``record`` (``what`` names it in a problem: "record", "payload")."""
    try:
        resolution = row_to_resolution(record, mapping, source=source, origin=origin)
    except InputError as exc:
        return InputProblem(
            source, origin, exc.reason, ticket_id=exc.ticket_id, team_hint=exc.team_hint,
            fields=exc.fields,
        )  # fmt: skip
    if resolution is not None:
        return resolution
    still_open = open_ticket(record, mapping)
    if still_open is None:
        return InputProblem(source, origin, f"no ticket id in the {what}")
    ticket_id, status, updated = still_open
    return Reopened(
        source, ticket_id, origin, status or "not resolved",
        announced=normalise_status(status) in reopen_statuses, seen_at=updated or seen_at,
    )  # fmt: skip
