"""JSON and JSON Lines exports record by record, streamed: a JSON array or an object
holding one is read value by value, never as a whole (see :mod:`notifier.sources.export.streams`).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import BinaryIO

from notifier.sources.export.streams import (
    BOM,
    MAX_RECORD_BYTES,
    BadRecord,
    JsonItem,
    Lines,
    Mark,
    Progress,
    Record,
    Unfinished,
    decode_text,
    too_large,
)
from notifier.sources.records.mapping import RECORD_KEYS


def iter_jsonl_records(stream: BinaryIO, resume: Mark | None = None) -> Iterator[JsonItem]:
    """One JSON object per line; a bad line is a :class:`BadRecord` and the next line goes on.

    A line larger than :data:`MAX_RECORD_BYTES` is read through and rejected. A last line
    without its line break counts only when it is a whole JSON object (its closing brace is
    then its end); otherwise it is :class:`Unfinished`. ``resume`` starts at a line boundary.
    """
    if resume is not None:
        stream.seek(resume.offset)
    lines = Lines(stream, Progress(resume or Mark()))
    while True:
        begin = lines.progress.mark()
        line = lines.next(MAX_RECORD_BYTES)
        if line is None:
            return
        end = lines.progress.mark()
        if not line.kept:
            if not line.terminated:
                yield Unfinished(begin.line, begin, too_large(line.size))
                return
            yield BadRecord(begin.line, too_large(line.size), end)
            continue
        text = decode_text(line.data)
        if not text.strip():
            if not line.terminated:
                return
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, absurd nesting
            if not line.terminated:
                yield Unfinished(begin.line, begin, _UNFINISHED_LINE)
                return
            if isinstance(exc, json.JSONDecodeError):
                reason = f"bad JSON line: {exc.msg} at column {exc.colno}"
            else:
                reason = f"unusable JSON line: {type(exc).__name__}: {exc}"
            yield BadRecord(begin.line, reason, end)
            continue
        if isinstance(value, dict):
            yield Record(begin.line, value, end)
        elif not line.terminated:
            yield Unfinished(begin.line, begin, _UNFINISHED_LINE)  # "12" may become "123"
            return
        else:
            yield BadRecord(begin.line, f"JSON line is {_kind(value)}, not an object", end)


_UNFINISHED_LINE = "the last line does not end with a line break and is not a whole JSON object"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


class Truncated(Exception):
    """The stream ended inside a JSON value."""


class Malformed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JsonCursor:
    """A window over a byte stream for incremental ``raw_decode``: keeps only unread text.

    The bytes of the text read so far are counted and checksummed (see :class:`Mark`) as the
    position moves past them, so each record can say where it ends in the stream.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._decoder = json.JSONDecoder()
        self._bytes = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._progress = Progress(Mark())
        self._counted = 0  # buf[:_counted] is in _progress
        self._started = False
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1
        self._line_pos = 0
        self.record_line = 1  # where the record being read starts, for problem reports
        self.last_end = Mark()  # just after the last record handed out

    def _count(self) -> None:
        data = self.buf[self._counted : self.pos].encode("utf-8", "surrogateescape")
        self._progress.consume(data, data.count(b"\n"))
        self._counted = self.pos

    def mark(self) -> Mark:
        """The place in the stream just after the record or value read last."""
        self._count()
        self.last_end = self._progress.mark()
        return self.last_end

    def _read(self) -> str:
        raw = self._stream.read(self._chunk_size)
        if not self._started:
            self._started = True
            while len(raw) < len(BOM) and raw and BOM.startswith(raw):
                more = self._stream.read(self._chunk_size)
                if not more:
                    break
                raw += more
            if raw.startswith(BOM):
                self._progress.consume(BOM, 0)
                raw = raw[len(BOM) :]
        text = self._bytes.decode(raw, final=not raw)
        if not raw:
            return text
        return text or self._read()  # a chunk that only began a multi-byte character

    def line(self) -> int:
        """Line number of the current position (counted incrementally, never rescanned)."""
        self._line += self.buf.count("\n", self._line_pos, self.pos)
        self._line_pos = self.pos
        return self._line

    def _fill(self) -> bool:
        if self.eof:
            return False
        if self.pos > self._chunk_size:
            self.line()
            self._count()
            self.buf = self.buf[self.pos :]
            self._line_pos -= self.pos
            self._counted -= self.pos
            self.pos = 0
        chunk = self._read()
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end of the stream)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, chars: str, what: str) -> str:
        char = self.peek()
        if char == "":
            raise Truncated
        if char not in chars:
            raise Malformed(f"expected {what}, found {char!r}")
        self.pos += 1
        return char

    def value(self) -> object:
        """Decode the next JSON value, reading more text until it is complete."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # An error close to the end of the buffer may only mean the value goes on in
                # the next chunk (a cut literal, escape or string); anything else is malformed.
                near_end = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated")
                if not near_end:
                    at = self.line() + self.buf.count("\n", self.pos, exc.pos)
                    raise Malformed(f"{exc.msg} at line {at}") from exc
                self._grow()
                continue
            if end >= len(self.buf) and not self.eof:
                # A number at the end of the buffer may continue in the next chunk.
                self._grow()
                continue
            self.pos = end
            return value

    def _grow(self) -> None:
        if len(self.buf) - self.pos > MAX_RECORD_BYTES:
            raise Malformed(f"a record is larger than {MAX_RECORD_BYTES:,} characters")
        if not self._fill():
            raise Truncated


def iter_json_records(
    stream: BinaryIO, chunk_size: int = 64 * 1024, *, skip: frozenset[str] = frozenset()
) -> Iterator[JsonItem]:
    """Stream the records of a JSON export without loading the whole file.

    Accepted shapes: an array of objects; an object holding such an array under one of
    :data:`RECORD_KEYS` (``{"result": [...]}``, ``{"tickets": [...]}``); a single object; or
    objects one after another (Zendesk's full JSON export is newline-delimited). Records are
    yielded as their closing brace is read; a malformed stream ends with one :class:`BadRecord`
    at the line where the unreadable part starts (records after it cannot be found reliably),
    a stream cut before its end with one :class:`Unfinished`. A record larger than
    :data:`MAX_RECORD_BYTES` characters is malformed. Top-level arrays under a ``skip`` key
    (sideloads, see :func:`scan_sideloads`) are read through item by item and not kept.
    """
    cursor = JsonCursor(stream, chunk_size)
    try:
        first = cursor.peek()
        if first == "":
            return
        if first == "[":
            yield from _array(cursor)
        elif first == "{":
            yield from _objects(cursor, skip)
        else:
            raise Malformed(f"expected '[' or '{{' at the start, found {first!r}")
        cursor.record_line = cursor.line()
        if cursor.peek() != "":
            raise Malformed("unexpected data after the end of the JSON document")
    except Truncated:
        yield Unfinished(cursor.record_line, cursor.last_end, _TRUNCATED)
    except Malformed as exc:
        yield BadRecord(
            cursor.record_line,
            f"malformed JSON: {exc.reason}; the rest of the file was not read",
            cursor.mark(),
        )


_TRUNCATED = "truncated JSON: the file ends in the middle of a record or before the closing bracket"


def array_values(cursor: JsonCursor) -> Iterator[object]:
    """The values of the array at the cursor, one at a time (never the whole array)."""
    cursor.expect("[", "'['")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    while True:
        yield cursor.value()
        if cursor.expect(",]", "',' or ']' after an array item") == "]":
            return


def _array(cursor: JsonCursor) -> Iterator[JsonItem]:
    cursor.expect("[", "'['")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    while True:
        cursor.peek()
        line = cursor.line()
        cursor.record_line = line
        value = cursor.value()
        if isinstance(value, dict):
            yield Record(line, value, cursor.mark())
        else:
            yield BadRecord(line, f"array item is {_kind(value)}, not an object", cursor.mark())
        cursor.peek()
        cursor.record_line = cursor.line()
        if cursor.expect(",]", "',' or ']' after a record") == "]":
            return


def _objects(cursor: JsonCursor, skip: frozenset[str]) -> Iterator[JsonItem]:
    """Top-level objects: a wrapper holding the record array, or records themselves."""
    while cursor.peek() == "{":
        line = cursor.line()
        cursor.record_line = line
        cursor.expect("{", "'{'")
        head: dict[str, object] = {}
        wrapper = False
        if cursor.peek() == "}":
            cursor.pos += 1
            continue
        while True:
            key = cursor.value()
            if not isinstance(key, str):
                raise Malformed("object key is not a string")
            cursor.expect(":", "':' after an object key")
            if key in RECORD_KEYS and cursor.peek() == "[":
                wrapper = True
                yield from _array(cursor)
            elif key in skip and cursor.peek() == "[":
                for _ in array_values(cursor):  # a sideload: scan_sideloads keeps what is used
                    pass
            else:
                head[key] = cursor.value()
            cursor.peek()
            cursor.record_line = cursor.line()
            if cursor.expect(",}", "',' or '}' in an object") == "}":
                break
        if not wrapper:
            yield Record(line, head, cursor.mark())
        elif cursor.peek() != "":
            raise Malformed("unexpected data after the end of the JSON document")
