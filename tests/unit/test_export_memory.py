"""Export files are streamed: peak memory does not grow with the file's size."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.model import Resolution
from notifier.sources.export.presets import build_mapping
from notifier.sources.export.source import ExportSource

NOW = datetime(2030, 1, 1, tzinfo=UTC)  # every generated file is long settled by then


class NeverSeen:
    def checkpoint(self, source: str, key: str) -> str | None:
        return None


def status(i: int) -> str:
    # One row in ten is resolved: every row is read and checked, a tenth go all the way through.
    return "Resolved" if i % 10 == 0 else "Open"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("ticket_id,requester_email,title,status,resolved_at,resolution_note\r\n")
        for i in range(rows):
            out.write(
                f'T-{i},user{i}@example.org,"Printer, floor {i % 9}",{status(i)},'
                f'2026-11-27 10:{i % 60:02d},"Roller replaced.\r\nPrints again."\r\n'
            )


def write_json(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"result": [\n')
        for i in range(rows):
            record = {
                "ticket_id": f"T-{i}",
                "requester_email": f"user{i}@example.org",
                "status": status(i),
                "resolved_at": "2026-11-27T10:00:00Z",
            }
            out.write(("," if i else "") + json.dumps(record) + "\n")
        out.write("]}\n")


def peak_while_reading(path: Path) -> tuple[int, int]:
    """(resolutions seen, peak traced bytes) while consuming and dropping every event."""
    mapping = build_mapping(None, {}, None, None, "UTC")
    src = ExportSource("bench", str(path), mapping, NeverSeen())
    tracemalloc.start()
    try:
        count = sum(isinstance(event, Resolution) for event in src.poll(NOW))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


@pytest.mark.slow
@pytest.mark.parametrize(
    ("writer", "suffix", "small", "large"),
    [(write_csv, "csv", 20_000, 200_000), (write_json, "json", 10_000, 100_000)],
)
def test_peak_memory_does_not_grow_with_file_size(
    tmp_path: Path, writer: Callable[[Path, int], None], suffix: str, small: int, large: int
) -> None:
    """Reading a file ten times larger must not need notably more memory (ratio, not time)."""
    small_path, large_path = tmp_path / f"small.{suffix}", tmp_path / f"large.{suffix}"
    writer(small_path, small)
    writer(large_path, large)
    assert large_path.stat().st_size > 9 * small_path.stat().st_size

    small_count, small_peak = peak_while_reading(small_path)
    large_count, large_peak = peak_while_reading(large_path)

    assert (small_count, large_count) == (small // 10, large // 10)
    assert large_peak < 3 * 1024 * 1024, f"peak {large_peak} bytes for {large} rows"
    # Loading the file whole would make this ~10; streaming keeps it near 1.
    assert large_peak < 2 * small_peak, f"peaks {small_peak} -> {large_peak}"
