"""The sample exports shipped under examples/exports parse cleanly with their presets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.model import Checkpoint, InputProblem, Resolution
from notifier.sources.export.presets import build_mapping
from notifier.sources.export.source import ExportSource

EXPORTS = Path(__file__).resolve().parents[2] / "examples" / "exports"
NOW = datetime(2100, 1, 1, tzinfo=UTC)

# file -> (preset, number of resolved tickets in it)
EXPECTED = {
    "jira-2026-11-27.csv": ("jira", 4),
    "servicenow-incidents.json": ("servicenow", 2),
    "zendesk-tickets.csv": ("zendesk", 2),
}


class NeverSeen:
    def checkpoint(self, source: str, key: str) -> str | None:
        return None


def test_every_example_file_is_covered() -> None:
    """No example export is shipped without a test saying which preset reads it."""
    assert sorted(p.name for p in EXPORTS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_example_parses_without_problems(name: str, expected: tuple[str, int]) -> None:
    """Each example gives its resolved tickets, no InputProblem, distinct example.org requesters."""
    preset, count = expected
    src = ExportSource(
        preset, str(EXPORTS / name), build_mapping(preset, {}, None, None, "UTC"), NeverSeen()
    )
    events = list(src.poll(NOW))
    assert [e for e in events if isinstance(e, InputProblem)] == []
    found = [e for e in events if isinstance(e, Resolution)]
    assert len(found) == count
    emails = [r.requester_email for r in found]
    assert len(set(emails)) == count
    assert all(e.endswith("@example.org") for e in emails)
    assert all(r.resolved_at is not None and r.resolution_note and r.title for r in found)
    assert isinstance(events[-1], Checkpoint)
