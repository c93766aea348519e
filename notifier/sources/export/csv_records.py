"""CSV exports record by record (see :mod:`notifier.sources.export.streams`)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

from notifier.sources.export.streams import (
    BadRecord,
    CsvHeader,
    CsvItem,
    Lines,
    Mark,
    Progress,
    Record,
    RecordLines,
    TooLarge,
    Unfinished,
    too_large,
)
from notifier.sources.records.mapping import MAX_FIELD_CHARS


def iter_csv_records(
    stream: BinaryIO, delimiter: str = ",", resume: Mark | None = None
) -> Iterator[CsvItem]:
    """Yield the header, then each row as a :class:`Record` keyed by column name.

    Lines end in LF, CRLF or CR; quoted fields may hold line breaks. A row whose field count
    differs from the header's is a :class:`BadRecord`; so is a row larger than
    :data:`MAX_RECORD_BYTES` (read through, never held) or with a field longer than
    :data:`MAX_FIELD_CHARS`. Blank lines are skipped. Repeated column names (Jira writes one
    ``Labels`` column per label) are joined with newlines. A last row without its line break
    is :class:`Unfinished`, never a record. With ``resume`` (a row boundary of this stream),
    the header is read from the start and the rows from ``resume`` on.
    """
    header: CsvHeader | None = None
    if resume is not None and resume.offset > 0:
        stream.seek(0)
        first = next(_csv_items(stream, delimiter, Mark(), None), None)
        if isinstance(first, CsvHeader):
            header = first
            stream.seek(resume.offset)
        else:
            resume = None
            stream.seek(0)
    yield from _csv_items(stream, delimiter, resume or Mark(), header)


def _csv_items(
    stream: BinaryIO, delimiter: str, start: Mark, header: CsvHeader | None
) -> Iterator[CsvItem]:
    lines = Lines(stream, Progress(start))
    feed = RecordLines(lines)
    # strict: a file cut inside a quoted field is an error, not a silently shortened row.
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    duplicated = False
    if header is not None:
        duplicated = len(set(header.names)) != len(header.names)
        yield header
    while True:
        begin = lines.progress.mark()
        feed.start()
        try:
            row = next(reader)
        except StopIteration:
            return
        except TooLarge:
            feed.finish()
            if not feed.terminated:
                yield Unfinished(begin.line, begin, too_large(feed.size))
                return
            yield BadRecord(begin.line, too_large(feed.size), lines.progress.mark())
            continue
        except csv.Error as exc:
            if feed.eof:
                yield Unfinished(begin.line, begin, "the file ends inside a quoted field")
                return
            reason = str(exc)
            if reason.startswith("field larger than field limit"):
                reason = f"a field is longer than {MAX_FIELD_CHARS:,} characters"
            feed.finish()
            yield BadRecord(begin.line, f"unreadable CSV row: {reason}", lines.progress.mark())
            continue
        blank = not row or (len(row) == 1 and not row[0].strip())
        if not feed.terminated:
            if not blank:
                yield Unfinished(begin.line, begin, "the last row does not end with a line break")
            return
        if blank:
            continue
        end = lines.progress.mark()
        if header is None:
            header = CsvHeader(tuple(name.strip() for name in row))
            duplicated = len(set(header.names)) != len(header.names)
            yield header
            continue
        names = header.names
        if len(row) != len(names):
            yield BadRecord(
                begin.line, f"expected {len(names)} fields as in the header, found {len(row)}", end
            )
            continue
        if not duplicated:
            yield Record(begin.line, dict(zip(names, row, strict=True)), end)
            continue
        joined: dict[str, str] = {}
        for name, value in zip(names, row, strict=True):
            if name in joined and value:
                joined[name] = f"{joined[name]}\n{value}" if joined[name] else value
            else:
                joined.setdefault(name, value)
        yield Record(begin.line, joined, end)
