"""The export-file source: watch a directory or glob and turn ticket exports into resolutions.

This module owns the file system side only: which files to read and when, opening them, and
wrapping each record's outcome as a :data:`~notifier.core.model.SourceEvent`. Reading records is
:mod:`~notifier.sources.export.streams` (with ``csv_records`` and ``json_records``), turning one
into a resolution :mod:`~notifier.sources.records.rows`.

A file is read when its name is not a temporary one, its mtime is at least ``settle_seconds``
old (or further in the future than :data:`MTIME_FUTURE_TOLERANCE`), and its size and mtime did
not change since the previous poll that saw it. Only complete records are used: a record whose
end (line break, closing brace) is not in the file yet is left for later. Progress is a
:class:`~notifier.core.model.Checkpoint` whose value is a :class:`FileMark` (the file's size and
mtime, the record boundary reached, a checksum of the bytes before it), committed with the
events before it; the store remembers it (see :class:`notifier.core.ports.SourceState`). An unchanged file is not
read twice; a file that grew is read on from its last complete record; a rewritten one (the
bytes before that record changed) is read again from the start, and the outbox deduplicates.

Input rejected because of the configuration must not stay lost once the operator fixes it: the
mark of a file that had rejected records carries a fingerprint of the settings that read it
(:func:`reading_fingerprint`), and a file marked under other settings is read again from the
start. Each rejected record is recorded once, ever (a ``reported:`` checkpoint per problem):
a file written again, or read again under the same settings, does not repeat it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import structlog

from notifier.core.errors import ConfigError, InputError, SourceError
from notifier.core.model import Checkpoint, InputProblem, Reopened, SourceEvent
from notifier.core.ports import SourceState
from notifier.sources.export.csv_records import iter_csv_records
from notifier.sources.export.json_records import iter_json_records, iter_jsonl_records
from notifier.sources.export.sideloads import (
    MAX_SIDELOAD_CHARS,
    MAX_SIDELOAD_ITEMS,
    SideloadIndex,
    join_sideloads,
    scan_sideloads,
)
from notifier.sources.export.streams import (
    BadRecord,
    CsvHeader,
    CsvItem,
    Mark,
    Record,
    Unfinished,
    prefix_digest,
)
from notifier.sources.records.mapping import ColumnMapping
from notifier.sources.records.rows import open_ticket, row_to_resolution

FORMATS = frozenset({"auto", "csv", "json", "jsonl"})
_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# Names browsers, rsync, editors and export tools give files they are still writing.
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")
# A modification time up to this far ahead of the clock is taken as "now" (the clocks of file
# servers and writers differ a little). Further ahead, the age of the file says nothing (the
# clock was set back, a writer's clock is wrong): the file counts as settled once it held
# still between two polls, instead of as being written for ever.
MTIME_FUTURE_TOLERANCE = timedelta(seconds=2)
# Records between two progress marks inside one file (there is also one after every rejected
# record): a restart goes on from the last one committed instead of from the start.
MARK_EVERY = 200

# How long a file with an unfinished last record may still be being written (a writer pausing
# between two rows): its last record is reported only once the file is older. The default,
# unless ``young_file_seconds`` is set: the longer of this and ten times ``settle_seconds``.
YOUNG_FILE_SECONDS = 60.0
# Key prefix of the checkpoints that remember one reported problem each.
REPORTED = "reported:"

END, MORE, TAIL, TOLD = "end", "more", "tail", "told"

log = structlog.get_logger()


def is_temporary(name: str) -> bool:
    """True for names of files that are still being written or are hidden."""
    lowered = name.lower()
    return name.startswith(".") or lowered.endswith(_TEMP_SUFFIXES)


def display(path: str) -> str:
    """A path as text that can be stored and logged (undecodable bytes shown as U+FFFD)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def signature_of(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def reading_fingerprint(mapping: ColumnMapping, file_format: str) -> str:
    """What decides which records of a file are rejected: the columns (a preset's included),
    resolved statuses, delimiter, date order, sideloads and format, as 16 hex digits.

    Not the time zone: it changes the resolution key of every naive time, so reading again
    under another one would tell requesters twice (``notifier reread`` does it on purpose).
    """
    text = json.dumps(
        [
            sorted((name, list(names)) for name, names in mapping.columns.items()),
            sorted(mapping.resolved_statuses),
            mapping.delimiter,
            mapping.numeric_dates,
            [repr(sideload) for sideload in mapping.sideloads],
            file_format,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FileMark:
    """What the store remembers of one file: the value of its :class:`Checkpoint`.

    ``size`` and ``mtime_ns`` are the file's when it was read; ``at`` is the record boundary
    reading reached (None in a mark of an older notifier, ``size:mtime_ns``: read to its end,
    where its records end is not known). ``state`` says what lies at ``at``: ``end`` the end
    of the file, ``more`` more records (reading stopped there), ``tail`` an unfinished last
    record the writer may still be writing, ``told`` such a record that was reported.
    ``settings`` is the :func:`reading_fingerprint` a file with rejected records was read
    under (None: nothing in it was rejected).
    """

    size: int
    mtime_ns: int
    at: Mark | None
    state: str
    settings: str | None = None

    def value(self) -> str:
        signature = f"{self.size}:{self.mtime_ns}"
        if self.at is not None:
            signature += f" {self.at.offset} {self.at.line} {self.at.digest} {self.state}"
        return signature if self.settings is None else f"{signature} settings={self.settings}"

    @classmethod
    def parse(cls, value: str | None) -> FileMark | None:
        """The mark a checkpoint value holds; None for no value or one that cannot be read."""
        if value is None:
            return None
        try:
            signature, *rest = value.split(" ")
            size, mtime_ns = (int(part) for part in signature.split(":"))
            settings = None
            if rest and rest[-1].startswith("settings="):
                settings = rest.pop()[len("settings=") :]
            if not rest:
                return cls(size, mtime_ns, None, END, settings)
            offset, line, digest, state = rest
            int(digest, 16)
            if len(digest) != 16 or state not in (END, MORE, TAIL, TOLD):
                return None
            return cls(size, mtime_ns, Mark(int(offset), int(line), digest), state, settings)
        except ValueError:
            return None

    def read_under_other_settings(self, fingerprint: str) -> bool:
        """True when records of this file were rejected under other settings (or under unknown
        ones: a file rejected whole by a notifier that kept no fingerprint)."""
        if self.settings is None:
            return self.at is None
        return self.settings != fingerprint


@dataclass(frozen=True, slots=True)
class _HeaderUnusable:
    """The CSV header lacks a required column: the rest of this version is not read."""


@dataclass(frozen=True, slots=True)
class _Rejection:
    """A record (or the file) rejected: ``identity`` tells it from any other problem."""

    problem: InputProblem
    identity: tuple[object, ...]


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
        young_file_seconds: float | None = None,
    ) -> None:
        if file_format not in FORMATS:
            raise ConfigError(
                f"file format {file_format!r} is not one of {', '.join(sorted(FORMATS))}"
            )
        if settle_seconds < 0:
            raise ConfigError("settle_seconds must not be negative")
        if young_file_seconds is None:
            young_file_seconds = max(YOUNG_FILE_SECONDS, 10 * settle_seconds)
        if young_file_seconds < settle_seconds:
            raise ConfigError("young_file_seconds must not be less than settle_seconds")
        self.name = name
        self.pattern = pattern
        self.mapping = mapping
        self._seen = seen
        self._format = file_format
        self._settle_ns = int(settle_seconds * 1e9)
        # A file this recent may still be written to after a pause: an unfinished last record
        # is reported only once the file is older than this (see _read).
        self._young_ns = int(young_file_seconds * 1e9)
        self.fingerprint = reading_fingerprint(mapping, file_format)
        self._tolerance_ns = int(MTIME_FUTURE_TOLERANCE.total_seconds() * 1e9)
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
            previous = self._previous.get(path)
            if previous is not None and previous != state:
                continue  # still being written: look again next poll
            age = now_ns - stat.st_mtime_ns
            future = age < -self._tolerance_ns
            # A time in the future tells nothing: held still since the previous poll is enough.
            if previous is None if future else age < self._settle_ns:
                continue
            signature = signature_of(stat)
            if self._unreadable.get(path) == signature:
                continue
            yield from self._poll_file(path, state, signature, old=future or age >= self._young_ns)
        self._previous = current

    def _poll_file(
        self, path: str, state: tuple[int, int], signature: str, *, old: bool
    ) -> Iterator[SourceEvent]:
        """Read the file from where the last reading stopped, if anything is left to read."""
        mark = FileMark.parse(self._seen.checkpoint(self.name, path))
        if mark is not None and mark.read_under_other_settings(self.fingerprint):
            # Rejected under other settings: the operator may have fixed what rejected it.
            log.info("export_read_again", source=self.name, file=display(path), why="settings")
            mark = None
        start: Mark | None = None
        if mark is not None and (mark.size, mark.mtime_ns) == state:
            if mark.state in (END, TOLD) or (mark.state == TAIL and not old):
                return  # read as far as it can be; an unfinished last record waits for a change
            start = mark.at  # more to read, or an unfinished record to report now it is old
        elif mark is not None and mark.at is not None and mark.at.offset <= state[0]:
            # Changed since: go on from the last complete record if every byte before it is
            # the same (the file grew); read it from the start if it was rewritten.
            try:
                with Path(path).open("rb") as fh:
                    same = prefix_digest(fh, mark.at.offset) == mark.at.digest
            except OSError:
                same = False
            start = mark.at if same else None
        # Reading on from a mark: records before it that were rejected still count.
        rejected = start is not None and mark is not None and mark.settings is not None
        yield from self._read(path, state, signature, start, old=old, rejected=rejected)

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

    def _read(
        self,
        path: str,
        state: tuple[int, int],
        signature: str,
        start: Mark | None,
        *,
        old: bool,
        rejected: bool = False,
    ) -> Iterator[SourceEvent]:
        """The events of one file from ``start`` on, with progress marks, then its last mark.

        Only complete records are used. A file that ends inside a record (no line break, no
        closing bracket yet) keeps that record for a later reading, once the file changed; it
        is reported only when the file is old and still unfinished. ``rejected``: records
        before ``start`` were rejected (the marks keep the settings they were read under).
        """
        size, mtime_ns = state

        def checkpoint(at: Mark | None, what: str) -> Checkpoint:
            settings = self.fingerprint if rejected else None
            return Checkpoint(self.name, path, FileMark(size, mtime_ns, at, what, settings).value())

        file_format = self._format_of(path)
        if file_format is None:
            rejected = True
            reason = "unknown export format: name it .csv, .json or .jsonl, or configure the source's format"
            yield from self._once(InputProblem(self.name, display(path), reason), path, reason)
            yield checkpoint(None, END)
            return
        last = start or Mark()
        tail: Unfinished | None = None
        header_unusable = False
        try:
            with Path(path).open("rb") as fh:
                since_mark = 0
                for event in self._events(path, fh, file_format, start):
                    if isinstance(event, Mark):
                        last = event
                        since_mark += 1
                        if since_mark >= MARK_EVERY:
                            since_mark = 0
                            yield checkpoint(last, MORE)
                    elif isinstance(event, Unfinished):
                        tail = event
                    elif isinstance(event, _HeaderUnusable):
                        header_unusable = True
                    elif isinstance(event, _Rejection):
                        rejected = True
                        since_mark = MARK_EVERY  # the mark after it: never read twice
                        yield from self._once(event.problem, path, *event.identity)
                    else:
                        yield event
        except OSError as exc:
            self._unreadable[path] = signature
            yield InputProblem(self.name, display(path), f"cannot read file: {exc.strerror or exc}")
            return
        except (ValueError, RecursionError, MemoryError) as exc:
            # The reader itself gave up (nesting too deep, a number too long...). What came
            # before is kept; the rest of this version of the file is not retried every poll.
            reason = (
                f"stopped reading: {type(exc).__name__}: {exc}; the rest of the file was not read"
            )
            rejected = True
            yield from self._once(InputProblem(self.name, display(path), reason), path, reason)
        try:
            unchanged = signature_of(Path(path).stat()) == signature
        except OSError:
            unchanged = False
        if not unchanged:
            # It changed while being read: the next poll goes on from the last complete record.
            yield checkpoint(last, MORE)
        elif header_unusable:
            yield checkpoint(None, END)
        elif tail is None:
            yield checkpoint(last, END)
        else:
            if old:
                reason = (
                    f"{tail.reason}: not used; it is read when the file changes (a writer "
                    "still writing it, or a file that should end with a line break)"
                )
                origin = f"{display(path)}:{tail.line}"
                problem = InputProblem(self.name, origin, reason)
                yield from self._once(problem, path, tail.start.digest, tail.line, reason)
            yield checkpoint(tail.start, TOLD if old else TAIL)

    def _once(self, problem: InputProblem, path: str, *identity: object) -> Iterator[SourceEvent]:
        """The problem and a checkpoint remembering it, unless it was reported before (under
        these settings): a file written again, or read again, does not repeat its problems."""
        text = json.dumps([self.fingerprint, path, *identity], default=str, sort_keys=True)
        key = REPORTED + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        if self._seen.checkpoint(self.name, key) is None:
            yield problem
            yield Checkpoint(self.name, key, display(path))

    def _events(
        self, path: str, fh: BinaryIO, file_format: str, start: Mark | None
    ) -> Iterator[SourceEvent | Mark | Unfinished | _HeaderUnusable | _Rejection]:
        """Each record's event (if any) and the Mark after it; then an Unfinished record or a
        _HeaderUnusable, when there is one."""
        items: Iterator[CsvItem]
        index: SideloadIndex | None = None
        if file_format == "csv":
            items = iter_csv_records(fh, self.mapping.delimiter, start)
        elif file_format == "jsonl":
            items = iter_jsonl_records(fh, start)
        else:
            if self.mapping.sideloads:
                # Sideloads may follow the records (Zendesk writes users[] after tickets[]):
                # read them first, then the records from the start.
                index = scan_sideloads(fh, self.mapping)
                fh.seek(0)
                if index.overflow:
                    reason = (
                        f"{display(path)}: more sideloaded items than the {MAX_SIDELOAD_ITEMS:,} "
                        f"(or {MAX_SIDELOAD_CHARS:,} characters) kept per file: tickets whose "
                        "requester or metric set came later are not joined"
                    )
                    problem = InputProblem(self.name, display(path), reason)
                    yield _Rejection(problem, (reason,))
            items = iter_json_records(fh, skip=self.mapping.sideload_arrays)
        mapping = self.mapping
        for item in items:
            if isinstance(item, CsvHeader):
                mapping, missing = self.mapping.for_header(item.names)
                if missing:
                    reason = f"{path}: header lacks required column(s): {'; '.join(missing)}"
                    yield _Rejection(InputProblem(self.name, f"{path}:1", reason), (reason,))
                    yield _HeaderUnusable()
                    return
            elif isinstance(item, Unfinished):
                yield item
                return
            elif start is None or item.end.offset > start.offset:
                # (A JSON file is parsed from its start: records before ``start`` were read.)
                event = self._event(path, item, mapping, index)
                if isinstance(event, InputProblem):
                    # The same problem in the same record is the same problem on any line.
                    content = item.data if isinstance(item, Record) else item.line
                    yield _Rejection(event, (event.reason, content))
                elif event is not None:
                    yield event
                yield item.end

    def _event(
        self,
        path: str,
        item: Record | BadRecord,
        mapping: ColumnMapping,
        index: SideloadIndex | None = None,
    ) -> SourceEvent | None:
        """The event for one record: a resolution, a problem, or Reopened for a row not resolved."""
        origin = f"{display(path)}:{item.line}"
        if isinstance(item, BadRecord):
            return InputProblem(self.name, origin, item.reason)
        data = item.data if index is None else join_sideloads(item.data, mapping, index)
        try:
            resolution = row_to_resolution(data, mapping, source=self.name, origin=origin)
            if resolution is not None:
                return resolution
            # Not resolved (any more): a notice for this ticket still in its hold window must
            # not go out. The service cancels it, or ignores this when nothing is waiting.
            still_open = open_ticket(data, mapping)
            if still_open is None:
                return None
            ticket_id, status, updated = still_open
            return Reopened(self.name, ticket_id, origin, status, seen_at=updated)
        except InputError as exc:
            return InputProblem(
                self.name, exc.origin, exc.reason,
                ticket_id=exc.ticket_id, team_hint=exc.team_hint, fields=exc.fields,
            )  # fmt: skip
        except Exception as exc:  # one odd record must never stop the file or the source
            return InputProblem(
                self.name, origin, f"cannot use this record: {type(exc).__name__}: {exc}"
            )
