"""Hostile export files (property-based): the source yields events, never an exception."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.core.model import Checkpoint, InputProblem, Reopened, Resolution
from notifier.sources.export.presets import build_mapping
from notifier.sources.export.source import ExportSource

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HEADER = b"ticket_id,requester_email,title,status,resolved_at\n"


class _NeverSeen:
    def checkpoint(self, source: str, key: str) -> str | None:
        return None


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=2000)
    | st.lists(
        st.lists(st.text(max_size=30), min_size=0, max_size=7).map(
            lambda cells: ",".join(cells).encode("utf-8", "surrogatepass")
        ),
        max_size=20,
    ).map(lambda lines: b"\n".join(lines)),
    suffix=st.sampled_from([".csv", ".json", ".jsonl"]),
)
def test_any_bytes_in_an_export_give_events_not_exceptions(
    tmp_path_factory: object, body: bytes, suffix: str
) -> None:
    """Random bytes or random cells under a valid header: only resolutions, reopen events,
    problems naming the file, and a checkpoint come out; nothing raises."""
    folder = Path(tmp_path_factory.mktemp("exports"))  # type: ignore[attr-defined]
    path = folder / f"export{suffix}"
    path.write_bytes((HEADER if suffix == ".csv" else b"") + body)
    os.utime(path, (NOW.timestamp() - 600,) * 2)
    source = ExportSource(
        "x", str(folder), build_mapping(None, {}, None, None, "UTC"), _NeverSeen()
    )
    events = list(source.poll(NOW))
    for event in events:
        assert isinstance(event, Resolution | Reopened | InputProblem | Checkpoint)
        if isinstance(event, InputProblem):
            assert "export" in event.origin and event.reason
