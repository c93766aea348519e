"""Resolution keys: what makes two sightings of a ticket the same resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from notifier.core.model import Resolution


def ticket(**changes: object) -> Resolution:
    values: dict[str, object] = {
        "source": "desk", "ticket_id": "T-1", "requester_email": "a@example.org",
        "title": "Printer", "status": "Resolved", "resolution_note": "Fixed.",
    }  # fmt: skip
    values.update(changes)
    return Resolution(**values)  # type: ignore[arg-type]


def test_key_uses_the_resolved_time_in_utc() -> None:
    """The same moment written in two zones is one resolution; a later one is a new one."""
    moment = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    local = moment.astimezone(timezone(timedelta(hours=1)))
    assert ticket(resolved_at=moment).key == ticket(resolved_at=local).key
    assert ticket(resolved_at=moment).key != ticket(resolved_at=moment + timedelta(days=1)).key


def test_fingerprint_ignores_the_status_word() -> None:
    """Without a resolved time, Resolved then Closed is one resolution (no second notice)."""
    assert ticket(status="Resolved").key == ticket(status="Closed").key
    assert ticket().key != ticket(resolution_note="Fixed again.").key
    assert ticket().key.startswith("desk:T-1:fp-")
