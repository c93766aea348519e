"""The audit trail's second witness: each committed row mirrored as one structlog event.

Every store calls :func:`emit_committed` after its commit, in commit order, so the journal's
order is the chain's (see the README's event table and docs/audit.md).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from notifier.core.audit import EVENTS, AuditRecord, record_values
from notifier.core.printable import printable, say_to


def emit(record: AuditRecord) -> None:
    """Mirror a committed row as one structlog event (never the message body, never secrets).

    The event carries ``audit_id`` and ``row_hash``: the journal is an independent witness of
    the chain's head (see docs/audit.md).
    """
    fields_ = {
        name: value
        for name, value in record_values(record).items()
        if name not in ("at", "id", "outcome", "findings")
        and value not in ("", None)
        and not (name == "attempt" and value == 0)
    }
    if record.id is not None:
        fields_["audit_id"] = record.id
    logger = events_logger()
    if record.outcome in ("deferred", "rejected"):
        logger.warning(EVENTS[record.outcome], **fields_)
    elif record.outcome == "failed":
        logger.error(EVENTS[record.outcome], **fields_)
    else:
        logger.info(EVENTS[record.outcome], **fields_)


def emit_committed(records: Sequence[AuditRecord]) -> None:
    """Mirror committed rows to the log, in commit order (the log's order is the chain's).

    The rows are written: a log that cannot be written (journald gone, a closed pipe) must
    not look like a failed write to the caller, who would record the same decision again.
    What could not be logged is said on stderr if that still works; the trail has it all.
    """
    for record in records:
        try:
            emit(record)
        except Exception as exc:  # any failure of the log output
            stderr = sys.__stderr__
            if stderr is None:  # print(file=None) would write to the failing stdout
                continue
            with contextlib.suppress(Exception):
                say_to(
                    stderr,
                    f"notifier: audit row {record.id} ({record.outcome}, "
                    f"{printable(record.resolution_key)}) is recorded but could not be logged: "
                    f"{printable(repr(exc))}",
                )


_events_logger: Any = None


def events_logger() -> Any:
    """The logger for the per-notice events (audit rows): the one the runtime configured."""
    return _events_logger if _events_logger is not None else structlog.get_logger()


def use_logger(logger: Any) -> None:
    """Called by the runtime's log set-up: bind the events logger once, not per row."""
    global _events_logger
    _events_logger = logger
