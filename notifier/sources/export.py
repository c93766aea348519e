"""The export-file source: watch a directory or glob and turn ticket exports into resolutions.

This module owns the file system side only: which files to read and when, opening them, and
wrapping each record's outcome as a :data:`~notifier.model.SourceEvent`. Parsing is in
:mod:`notifier.sources.parse`.

A file is read when its name is not a temporary one, its mtime is at least ``settle_seconds``
old, and its size and mtime did not change since the previous poll that saw it. After its last
record a :class:`~notifier.model.Checkpoint` carries the ``size:mtime_ns`` signature; the store
remembers it (see :class:`SourceState`) so an unchanged file is not read twice, and a file that
changes later is read again (the outbox deduplicates the resolutions).
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol, TextIO

from notifier.errors import ConfigError, InputError, SourceError
from notifier.model import Checkpoint, InputProblem, Reopened, SourceEvent
from notifier.sources.parse import (
    BadRecord,
    ColumnMapping,
    CsvHeader,
    Record,
    iter_csv_records,
    iter_json_records,
    iter_jsonl_records,
    open_ticket,
    row_to_resolution,
)

FORMATS = frozenset({"auto", "csv", "json", "jsonl"})
_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# Names browsers, rsync, editors and export tools give files they are still writing.
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")


class SourceState(Protocol):
    """Reads back a source's committed checkpoints (the outbox store implements it)."""

    def checkpoint(self, source: str, key: str) -> str | None: ...


def is_temporary(name: str) -> bool:
    """True for names of files that are still being written or are hidden."""
    lowered = name.lower()
    return name.startswith(".") or lowered.endswith(_TEMP_SUFFIXES)


def display(path: str) -> str:
    """A path as text that can be stored and logged (undecodable bytes shown as U+FFFD)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ends_with_newline(path: str) -> bool:
    try:
        with Path(path).open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) in (b"\n", b"\r")
    except OSError:
        return True


def signature_of(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class ExportSource:
    """Ticket export files under ``pattern`` (a directory, or a glob such as ``/srv/out/*.csv``)."""

    def __init__(
        self,
        name: str,
        pattern: str,
        mapping: ColumnMapping,
        seen: SourceState,
        *,
        file_format: str = "auto",
        settle_seconds: float = 5.0,
    ) -> None:
        if file_format not in FORMATS:
            raise ConfigError(
                f"file format {file_format!r} is not one of {', '.join(sorted(FORMATS))}"
            )
        if settle_seconds < 0:
            raise ConfigError("settle_seconds must not be negative")
        self.name = name
        self.pattern = pattern
        self.mapping = mapping
        self._seen = seen
        self._format = file_format
        self._settle_ns = int(settle_seconds * 1e9)
        # A file this recent may still be written to after a pause: see _read.
        self._young_ns = int(max(60.0, 10 * settle_seconds) * 1e9)
        # (size, mtime_ns) of each file at the previous poll: a file must hold still to be read.
        self._previous: dict[str, tuple[int, int]] = {}
        # Files that could not be opened, by signature: reported once, not on every poll.
        self._unreadable: dict[str, str] = {}

    def watch(self, wake: threading.Event) -> None:
        """Files are found by polling; there is nothing to watch between passes."""

    def committed(self) -> None:
        """Nothing to do after a commit: the checkpoints already record what was read."""

    def close(self) -> None:
        """No connection is held between passes."""

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        """Everything new since the last poll, file by file in name order.

        Never raises for bad input; raises :class:`SourceError` when the directory or glob itself
        cannot be listed.
        """
        now_ns = int(now.timestamp() * 1e9)
        current: dict[str, tuple[int, int]] = {}
        for path in self._list():
            try:
                stat = Path(path).stat()
            except OSError as exc:
                if self._unreadable.get(path) != "stat":
                    self._unreadable[path] = "stat"
                    yield InputProblem(
                        self.name, display(path), f"cannot read file: {exc.strerror or exc}"
                    )
                continue
            state = (stat.st_size, stat.st_mtime_ns)
            current[path] = state
            changed = self._previous.get(path, state) != state
            if changed or now_ns - stat.st_mtime_ns < self._settle_ns:
                continue  # still being written: look again next poll
            signature = signature_of(stat)
            if self._seen.checkpoint(self.name, path) == signature:
                continue
            if self._unreadable.get(path) == signature:
                continue
            young = now_ns - stat.st_mtime_ns < self._young_ns
            yield from self._read(path, signature, young=young)
        self._previous = current

    def _list(self) -> list[str]:
        base = Path(self.pattern)
        try:
            if base.is_dir():
                paths = [
                    str(entry)
                    for entry in base.iterdir()
                    if entry.suffix.lower() in _EXTENSIONS and entry.is_file()
                ]
            elif glob.has_magic(self.pattern):
                # Path.glob takes no absolute patterns; glob.glob does.
                paths = [p for p in glob.glob(self.pattern) if Path(p).is_file()]  # noqa: PTH207
            elif base.is_file():
                paths = [self.pattern]
            else:
                raise SourceError(f"export path {self.pattern!r} does not exist")
        except OSError as exc:
            raise SourceError(f"cannot list export path {self.pattern!r}: {exc}") from exc
        return sorted(p for p in paths if not is_temporary(Path(p).name))

    def _format_of(self, path: str) -> str | None:
        if self._format != "auto":
            return self._format
        return _EXTENSIONS.get(Path(path).suffix.lower())

    def _read(self, path: str, signature: str, *, young: bool) -> Iterator[SourceEvent]:
        """All events of one file, then its Checkpoint.

        A problem in the very last record of a young file that does not end with a line break
        is held back, and the file is not checkpointed: the writer probably paused mid-row,
        and the next poll reads the finished file instead of rejecting a half-written row.
        """
        held: InputProblem | None = None
        for event in self._events(path, signature):
            if held is not None and not isinstance(event, Checkpoint):
                yield held
                held = None
            if isinstance(event, InputProblem):
                held = event
            elif isinstance(event, Checkpoint):
                if held is not None and young and not _ends_with_newline(path):
                    return  # read again once the writer is done
                if held is not None:
                    yield held
                    held = None
                yield event
            else:
                yield event
        if held is not None:
            yield held

    def _events(self, path: str, signature: str) -> Iterator[SourceEvent]:
        file_format = self._format_of(path)
        if file_format is None:
            yield InputProblem(
                self.name,
                display(path),
                "unknown export format: name it .csv, .json or .jsonl, or configure the source's format",
            )
            yield Checkpoint(self.name, path, signature)
            return
        try:
            # surrogateescape: a row with bytes that are not UTF-8 is rejected on its own
            # (see row_to_resolution) instead of aborting the whole file.
            with Path(path).open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
                if file_format == "csv":
                    yield from self._csv_events(path, fh)
                else:
                    records = (
                        iter_json_records(fh) if file_format == "json" else iter_jsonl_records(fh)
                    )
                    for item in records:
                        event = self._event(path, item, self.mapping)
                        if event is not None:
                            yield event
        except OSError as exc:
            self._unreadable[path] = signature
            yield InputProblem(self.name, display(path), f"cannot read file: {exc.strerror or exc}")
            return
        except (ValueError, RecursionError, MemoryError) as exc:
            # The reader itself gave up (nesting too deep, a number too long...). What came
            # before is kept; the rest of this version of the file is not retried every poll.
            yield InputProblem(
                self.name,
                display(path),
                f"stopped reading: {type(exc).__name__}: {exc}; the rest of the file was not read",
            )
        try:
            unchanged = signature_of(Path(path).stat()) == signature
        except OSError:
            unchanged = False
        if unchanged:
            yield Checkpoint(self.name, path, signature)
        # else: it changed while being read; the next poll reads the new version.

    def _csv_events(self, path: str, fh: TextIO) -> Iterator[SourceEvent]:
        mapping = self.mapping
        for item in iter_csv_records(fh, mapping.delimiter):
            if isinstance(item, CsvHeader):
                mapping, missing = self.mapping.for_header(item.names)
                if missing:
                    yield InputProblem(
                        self.name,
                        f"{path}:1",
                        f"{path}: header lacks required column(s): {'; '.join(missing)}",
                    )
                    return
                continue
            event = self._event(path, item, mapping)
            if event is not None:
                yield event

    def _event(
        self, path: str, item: Record | BadRecord, mapping: ColumnMapping
    ) -> SourceEvent | None:
        """The event for one record: a resolution, a problem, or Reopened for a row not resolved."""
        origin = f"{display(path)}:{item.line}"
        if isinstance(item, BadRecord):
            return InputProblem(self.name, origin, item.reason)
        try:
            resolution = row_to_resolution(item.data, mapping, source=self.name, origin=origin)
            if resolution is not None:
                return resolution
            # Not resolved (any more): a notice for this ticket still in its hold window must
            # not go out. The service cancels it, or ignores this when nothing is waiting.
            still_open = open_ticket(item.data, mapping)
            if still_open is None:
                return None
            ticket_id, status, updated = still_open
            return Reopened(self.name, ticket_id, origin, status, seen_at=updated)
        except InputError as exc:
            return InputProblem(self.name, exc.origin, exc.reason)
        except Exception as exc:  # one odd record must never stop the file or the source
            return InputProblem(
                self.name, origin, f"cannot use this record: {type(exc).__name__}: {exc}"
            )
