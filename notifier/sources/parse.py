"""Pure parsing of ticket exports: text streams into records, records into ``Resolution`` values.

Nothing here touches the file system or the clock. :mod:`notifier.sources.export` opens the files
and decides when to read them; this module only turns what it is given into values or problems.

Two layers:

* stream readers (:func:`iter_csv_records`, :func:`iter_json_records`, :func:`iter_jsonl_records`)
  yield :class:`Record` (one row with the line it starts on) or :class:`BadRecord` without ever
  holding more than one record in memory;
* :func:`row_to_resolution` maps one record onto the ticket fields through a :class:`ColumnMapping`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TextIO

from notifier.errors import InputError
from notifier.model import Resolution
from notifier.sources.addresses import AddressListError, single_address
from notifier.sources.timestamps import load_zone, parse_timestamp

FIELDS = (
    "ticket_id",
    "requester_email",
    "requester_name",
    "title",
    "status",
    "resolved_at",
    "team",
    "resolution_note",
    "language",
    "original_message_id",
    "updated_at",  # when the row last changed: tells a real reopen from an old open row
)
REQUIRED_FIELDS = ("ticket_id", "requester_email")
# Keys of a JSON object that hold the array of records (ServiceNow, Zendesk, generic APIs).
RECORD_KEYS = frozenset(
    {"result", "records", "tickets", "results", "data", "items", "issues", "incidents", "rows"}
)
MAX_RECORD_CHARS = 16 * 1024 * 1024

_EMAIL = re.compile(
    r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
# Bytes that were not UTF-8 arrive as lone surrogates (the stream uses "surrogateescape");
# JSON can also spell a lone surrogate ("\ud800"). Neither is text that can be stored or mailed.
_UNDECODABLE = re.compile("[\ud800-\udfff]")


def _safe(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def normalise_status(value: str) -> str:
    """Status words compare case-insensitively with inner whitespace collapsed."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class ColumnMapping:
    """How one export's columns (or JSON keys) map onto ticket fields.

    ``columns`` maps a field name (see :data:`FIELDS`) to candidate column names, tried in order;
    a JSON candidate may be a dotted path (``requester.email``) and a literal key containing a dot
    (ServiceNow's ``caller_id.email``) is tried before the path. An empty ``resolved_statuses``
    means every row is a resolution (the export is already filtered).
    """

    columns: Mapping[str, tuple[str, ...]]
    resolved_statuses: frozenset[str]
    delimiter: str = ","
    default_timezone: str = "UTC"
    numeric_dates: str = ""  # "dmy" / "mdy" when the product writes all-numeric dates that way

    def candidates(self, name: str) -> tuple[str, ...]:
        return self.columns.get(name, ())

    def is_resolved(self, status: str) -> bool:
        return not self.resolved_statuses or normalise_status(status) in self.resolved_statuses

    def required_fields(self) -> tuple[str, ...]:
        return (*REQUIRED_FIELDS, "status") if self.resolved_statuses else REQUIRED_FIELDS

    def for_header(self, header: Sequence[str]) -> tuple[ColumnMapping, list[str]]:
        """Narrow the candidates to the columns this CSV header has (matched ignoring case and
        surrounding spaces), and list the required fields none of whose columns is present.
        """
        by_key = {" ".join(name.split()).casefold(): name for name in reversed(header)}
        narrowed: dict[str, tuple[str, ...]] = {}
        for name, wanted in self.columns.items():
            present = [
                by_key[k] for k in (" ".join(c.split()).casefold() for c in wanted) if k in by_key
            ]
            narrowed[name] = tuple(dict.fromkeys(present))
        missing = [
            f"{name.replace('_', ' ')} (expected a column named "
            + " or ".join(repr(c) for c in self.candidates(name))
            + ")"
            for name in self.required_fields()
            if not narrowed.get(name)
        ]
        return replace(self, columns=narrowed), missing


# --- one record -> Resolution ---------------------------------------------------------------


def _lookup(row: Mapping[str, object], name: str) -> tuple[bool, object]:
    if name in row:
        return True, row[name]
    if "." not in name:
        return False, None
    node: object = row
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


_REF_KEYS = frozenset({"value", "display_value", "link"})


def _is_ref(value: object) -> bool:
    """A ServiceNow reference: ``{"display_value": .., "value": .., "link": ..}`` (with
    ``sysparm_display_value=all``) or ``{"link": .., "value": ..}`` (plain reference fields).
    """
    return isinstance(value, Mapping) and "value" in value and set(value) <= _REF_KEYS


def _text(value: object, *, machine: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping) and _is_ref(value):
        first, second = ("value", "display_value") if machine else ("display_value", "value")
        return _text(value.get(first)) or _text(value.get(second))
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t)
    return json.dumps(value, ensure_ascii=False, default=str)


def _pick(
    row: Mapping[str, object], mapping: ColumnMapping, name: str, *, machine: bool = False
) -> tuple[str, str, object]:
    """(text, column it came from, raw value) for the first candidate with a value."""
    found_column = ""
    for column in mapping.candidates(name):
        found, raw = _lookup(row, column)
        if not found:
            continue
        found_column = found_column or column
        text = _text(raw, machine=machine)
        if text:
            return text, column, raw
    return "", found_column, None


def _describe_missing(mapping: ColumnMapping, name: str, column: str) -> str:
    if column:
        return f"column {column!r} is empty"
    wanted = mapping.candidates(name)
    if not wanted:
        return "no column is mapped to it"
    return "no column " + " or ".join(repr(c) for c in wanted)


def flatten(row: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """All fields of a record as strings, nested keys joined with dots (``requester.email``)."""
    out: dict[str, str] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if _is_ref(value):
                out[name] = _text(value)
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = _text(value)
    return out


def _status_values(raw: object) -> list[str]:
    if isinstance(raw, Mapping) and _is_ref(raw):
        return [_text(raw.get("display_value")), _text(raw.get("value"))]
    return [_text(raw)]


def open_ticket(
    row: Mapping[str, object], mapping: ColumnMapping
) -> tuple[str, str, datetime | None] | None:
    """(ticket id, status, last-updated time) of a row that is not resolved.

    The updated time lets the service cancel a waiting notice only when the row is newer than
    the resolution: re-reading an older open row must not count as a reopen.
    """
    ticket_id, _, _ = _pick(row, mapping, "ticket_id")  # as row_to_resolution reads it
    status, _, _ = _pick(row, mapping, "status")
    if not ticket_id or _UNDECODABLE.search(ticket_id):
        return None
    updated_text, _, _ = _pick(row, mapping, "updated_at")
    updated: datetime | None = None
    if updated_text:
        try:
            updated = parse_timestamp(
                updated_text,
                default_tz=load_zone(mapping.default_timezone),
                numeric_order=mapping.numeric_dates,
            )
        except ValueError:
            updated = None
    return ticket_id, status, updated


def row_to_resolution(
    row: Mapping[str, object], mapping: ColumnMapping, *, source: str, origin: str
) -> Resolution | None:
    """The resolution one export row describes, or ``None`` when the row is not resolved.

    Raises :class:`InputError` naming ``origin`` and the field or column when the row is resolved
    but unusable (no ticket id, no or invalid requester email, unparseable date, bad bytes).
    """
    status, status_column, status_raw = _pick(row, mapping, "status")
    if mapping.resolved_statuses:
        if not status_column:
            # A status field that is absent (not merely empty) would hide every ticket.
            detail = _describe_missing(mapping, "status", "")
            raise InputError(origin, f"missing status: {detail}")
        if not any(mapping.is_resolved(s) for s in _status_values(status_raw) if s):
            return None
    fields = flatten(row)
    for column, value in fields.items():
        if _UNDECODABLE.search(value) or _UNDECODABLE.search(column):
            raise InputError(
                origin,
                f"undecodable bytes (not UTF-8) or a lone surrogate in column {_safe(column)!r}",
            )

    ticket_id, id_column, _ = _pick(row, mapping, "ticket_id")
    if not ticket_id:
        raise InputError(
            origin, f"missing ticket id: {_describe_missing(mapping, 'ticket_id', id_column)}"
        )

    name, _, _ = _pick(row, mapping, "requester_name")
    raw_email, email_column, _ = _pick(row, mapping, "requester_email")
    if not raw_email:
        detail = _describe_missing(mapping, "requester_email", email_column)
        raise InputError(origin, f"missing requester email: {detail}")
    # Most exports hold a bare address; only "Name <addr>" forms need the (slow) full parser.
    try:
        display, email = (
            ("", raw_email) if _EMAIL.fullmatch(raw_email) else single_address(raw_email)
        )
    except AddressListError as exc:
        raise InputError(origin, f"requester email in column {email_column!r}: {exc}") from None
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise InputError(
            origin, f"invalid requester email {raw_email!r} in column {email_column!r}"
        )

    resolved_text, date_column, _ = _pick(row, mapping, "resolved_at", machine=True)
    resolved_at = None
    if resolved_text:
        try:
            resolved_at = parse_timestamp(
                resolved_text,
                default_tz=load_zone(mapping.default_timezone),
                numeric_order=mapping.numeric_dates,
            )
        except ValueError as exc:
            raise InputError(
                origin, f"unparseable date {resolved_text!r} in column {date_column!r}: {exc}"
            ) from exc

    def text(name: str) -> str:
        return _pick(row, mapping, name)[0]

    return Resolution(
        source=source,
        ticket_id=ticket_id,
        requester_email=email,
        requester_name=name or display,
        title=text("title"),
        status=status,
        resolved_at=resolved_at,
        team_hint=text("team"),
        resolution_note=text("resolution_note"),
        language=text("language"),
        original_message_id=text("original_message_id"),
        origin=origin,
        fields=fields,
    )


# --- text streams -> records ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One row or JSON object, with the line it starts on."""

    line: int
    data: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A row or part of the stream that cannot be read; ``line`` is where it starts."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class CsvHeader:
    """The header row of a CSV stream, yielded before its rows."""

    names: tuple[str, ...]


CsvItem = CsvHeader | Record | BadRecord
JsonItem = Record | BadRecord


def iter_csv_records(stream: TextIO, delimiter: str = ",") -> Iterator[CsvItem]:
    """Yield the header, then each row as a :class:`Record` keyed by column name.

    The stream must be opened with ``newline=""`` so quoted fields may hold line breaks. A row
    whose field count differs from the header's is a :class:`BadRecord`; blank lines are skipped.
    Repeated column names (Jira writes one ``Labels`` column per label) are joined with newlines.
    """
    # strict: a file cut inside a quoted field is an error, not a silently shortened row.
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    header: tuple[str, ...] | None = None
    duplicated = False
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            last_line = reader.line_num
            yield BadRecord(start, f"unreadable CSV row: {exc}")
            continue
        last_line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = tuple(name.strip() for name in row)
            duplicated = len(set(header)) != len(header)
            yield CsvHeader(header)
            continue
        if len(row) != len(header):
            yield BadRecord(
                start, f"expected {len(header)} fields as in the header, found {len(row)}"
            )
            continue
        if not duplicated:
            yield Record(start, dict(zip(header, row, strict=True)))
            continue
        joined: dict[str, str] = {}
        for name, value in zip(header, row, strict=True):
            if name in joined and value:
                joined[name] = f"{joined[name]}\n{value}" if joined[name] else value
            else:
                joined.setdefault(name, value)
        yield Record(start, joined)


def iter_jsonl_records(stream: TextIO) -> Iterator[JsonItem]:
    """One JSON object per line; a bad line is a :class:`BadRecord` and the next line goes on."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRecord(number, f"bad JSON line: {exc.msg} at column {exc.colno}")
            continue
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, absurd nesting
            yield BadRecord(number, f"unusable JSON line: {type(exc).__name__}: {exc}")
            continue
        if isinstance(value, dict):
            yield Record(number, value)
        else:
            yield BadRecord(number, f"JSON line is {_kind(value)}, not an object")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


class _Truncated(Exception):
    """The stream ended inside a JSON value."""


class _Malformed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _JsonCursor:
    """A window over a text stream for incremental ``raw_decode``: keeps only unread text."""

    def __init__(self, stream: TextIO, chunk_size: int) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1
        self._line_pos = 0
        self.record_line = 1  # where the record being read starts, for problem reports

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
            self.buf = self.buf[self.pos :]
            self._line_pos -= self.pos
            self.pos = 0
        chunk = self._stream.read(self._chunk_size)
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
            raise _Truncated
        if char not in chars:
            raise _Malformed(f"expected {what}, found {char!r}")
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
                    raise _Malformed(f"{exc.msg} at line {at}") from exc
                self._grow()
                continue
            if end >= len(self.buf) and not self.eof:
                # A number at the end of the buffer may continue in the next chunk.
                self._grow()
                continue
            self.pos = end
            return value

    def _grow(self) -> None:
        if len(self.buf) - self.pos > MAX_RECORD_CHARS:
            raise _Malformed(f"JSON value larger than {MAX_RECORD_CHARS} characters")
        if not self._fill():
            raise _Truncated


def iter_json_records(stream: TextIO, chunk_size: int = 64 * 1024) -> Iterator[JsonItem]:
    """Stream the records of a JSON export without loading the whole file.

    Accepted shapes: an array of objects; an object holding such an array under one of
    :data:`RECORD_KEYS` (``{"result": [...]}``, ``{"tickets": [...]}``); a single object; or
    objects one after another (Zendesk's full JSON export is newline-delimited). Records are
    yielded as they complete; a truncated or malformed stream ends with one :class:`BadRecord`
    at the line where the unreadable part starts (records after it cannot be found reliably).
    """
    cursor = _JsonCursor(stream, chunk_size)
    try:
        first = cursor.peek()
        if first == "":
            return
        if first == "[":
            yield from _array(cursor)
        elif first == "{":
            yield from _objects(cursor)
        else:
            raise _Malformed(f"expected '[' or '{{' at the start, found {first!r}")
        cursor.record_line = cursor.line()
        if cursor.peek() != "":
            raise _Malformed("unexpected data after the end of the JSON document")
    except _Truncated:
        yield BadRecord(cursor.record_line, _TRUNCATED)
    except _Malformed as exc:
        yield BadRecord(
            cursor.record_line, f"malformed JSON: {exc.reason}; the rest of the file was not read"
        )


_TRUNCATED = "truncated JSON: the file ends in the middle of a record or before the closing bracket"


def _array(cursor: _JsonCursor) -> Iterator[JsonItem]:
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
            yield Record(line, value)
        else:
            yield BadRecord(line, f"array item is {_kind(value)}, not an object")
        cursor.peek()
        cursor.record_line = cursor.line()
        if cursor.expect(",]", "',' or ']' after a record") == "]":
            return


def _objects(cursor: _JsonCursor) -> Iterator[JsonItem]:
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
                raise _Malformed("object key is not a string")
            cursor.expect(":", "':' after an object key")
            if key in RECORD_KEYS and cursor.peek() == "[":
                wrapper = True
                yield from _array(cursor)
            else:
                head[key] = cursor.value()
            cursor.peek()
            cursor.record_line = cursor.line()
            if cursor.expect(",}", "',' or '}' in an object") == "}":
                break
        if not wrapper:
            yield Record(line, head)
        elif cursor.peek() != "":
            raise _Malformed("unexpected data after the end of the JSON document")
