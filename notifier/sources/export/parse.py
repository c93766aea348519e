"""Pure parsing of ticket exports: byte streams into records, records into ``Resolution`` values.

Nothing here touches the file system or the clock. :mod:`notifier.sources.export.source` opens the files
and decides when to read them; this module only turns what it is given into values or problems.

Two layers:

* stream readers (:func:`iter_csv_records`, :func:`iter_json_records`, :func:`iter_jsonl_records`)
  yield :class:`Record` (one row with the line it starts on and the :class:`Mark` just after
  it) or :class:`BadRecord` without ever holding more than one record, of at most
  :data:`MAX_RECORD_BYTES`, in memory. A record counts only once its end has been read (a line
  break, a closing brace): a stream that stops inside one ends with :class:`Unfinished`;
* :func:`row_to_resolution` maps one record onto the ticket fields through a :class:`ColumnMapping`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import BinaryIO

from notifier.core.errors import InputError
from notifier.core.model import Resolution
from notifier.sources.addresses import AddressListError, single_address
from notifier.sources.export.timestamps import load_zone, parse_timestamp

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
# Every record (a CSV row, a JSONL line, a JSON object) and every field has a size cap, so no
# file can take the daemon's memory or time: a larger one is rejected with its file:line.
MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_FIELD_CHARS = 128 * 1024  # also the csv module's own default field limit
MAX_ID_CHARS = 200  # a ticket id: it is part of keys, subjects and Message-IDs

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


@dataclass(frozen=True, slots=True)
class Sideload:
    """Related records a JSON export carries in a top-level array of their own, joined onto
    each record. Zendesk's ``include=users`` puts the requester in ``users[]``: the item whose
    ``id`` (``key``) equals the ticket's ``requester_id`` (``ref``) is read as ``requester``
    (``into``), so ``requester.email`` finds the address."""

    array: str
    key: str
    ref: str
    into: str


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
    sideloads: tuple[Sideload, ...] = ()  # related records a JSON export carries beside them

    def candidates(self, name: str) -> tuple[str, ...]:
        return self.columns.get(name, ())

    @property
    def sideload_arrays(self) -> frozenset[str]:
        return frozenset(sideload.array for sideload in self.sideloads)

    def joined_fields(self, into: str) -> frozenset[str]:
        """The fields of a sideload joined as ``into`` that some candidate reads
        (``requester.email`` -> ``email``): only those are kept from each item."""
        prefix = f"{into}."
        return frozenset(
            column[len(prefix) :].split(".")[0]
            for names in self.columns.values()
            for column in names
            if column.startswith(prefix)
        )

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
        # A requester-name column may hold the address itself (see row_to_resolution).
        satisfied = {name for name, found in narrowed.items() if found}
        if "requester_name" in satisfied:
            satisfied.add("requester_email")
        missing = [
            f"{name.replace('_', ' ')} (expected a column named "
            + " or ".join(repr(c) for c in self.candidates(name))
            + (
                " or a requester name column holding the address"
                if name == "requester_email"
                else ""
            )
            + ")"
            for name in self.required_fields()
            if name not in satisfied
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
        # The header has none of the columns mapped to it (narrowed by for_header).
        return "no column mapped to it is in this file (check the source's [exports.columns])"
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


def _rejected(
    row: Mapping[str, object], mapping: ColumnMapping, origin: str, reason: str
) -> InputError:
    """The error for a resolved row that cannot be used, naming its ticket when the id is readable.

    Only on this path (never for a good row): the id, the team column and the row's fields go
    with the error, so the rejection is recorded for the ticket and counted for its team.
    """
    ticket_id = _pick(row, mapping, "ticket_id")[0]
    if not ticket_id or len(ticket_id) > MAX_ID_CHARS or _UNDECODABLE.search(ticket_id):
        return InputError(origin, reason)
    fields = {k: v for k, v in flatten(row).items() if len(v) <= MAX_FIELD_CHARS}
    team = _pick(row, mapping, "team")[0]
    return InputError(origin, reason, ticket_id=ticket_id, team_hint=team, fields=fields)


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
            raise _rejected(row, mapping, origin, f"missing status: {detail}")
        if not any(mapping.is_resolved(s) for s in _status_values(status_raw) if s):
            return None
    fields = flatten(row)
    for column, value in fields.items():
        if len(value) > MAX_FIELD_CHARS:
            raise _rejected(
                row,
                mapping,
                origin,
                f"field {_safe(column[:80])!r} is {len(value):,} characters long, more than "
                f"the {MAX_FIELD_CHARS:,} allowed",
            )
        if _UNDECODABLE.search(value) or _UNDECODABLE.search(column):
            raise _rejected(
                row,
                mapping,
                origin,
                f"undecodable bytes (not UTF-8) or a lone surrogate in column {_safe(column)!r}",
            )

    ticket_id, id_column, _ = _pick(row, mapping, "ticket_id")
    if not ticket_id:
        raise _rejected(
            row,
            mapping,
            origin,
            f"missing ticket id: {_describe_missing(mapping, 'ticket_id', id_column)}",
        )
    if len(ticket_id) > MAX_ID_CHARS:
        raise _rejected(
            row,
            mapping,
            origin,
            f"ticket id in column {id_column!r} is {len(ticket_id):,} characters long, more "
            f"than the {MAX_ID_CHARS} allowed (is the right column mapped?)",
        )

    name, name_column, _ = _pick(row, mapping, "requester_name")
    raw_email, email_column, _ = _pick(row, mapping, "requester_email")
    if not raw_email and "@" in name:
        # No email column (or an empty one), and the name column holds the address itself:
        # Jira's 'Reporter', GLPI's 'Requester' for users named by their address.
        raw_email, email_column, name = name, name_column, ""
    if not raw_email:
        detail = _describe_missing(mapping, "requester_email", email_column)
        if name:
            detail += f", and column {name_column!r} holds a name, not an address"
        raise _rejected(
            row, mapping, origin, f"missing requester email: {detail}{_unjoined(row, mapping)}"
        )
    # Most exports hold a bare address; only "Name <addr>" forms need the (slow) full parser.
    try:
        display, email = (
            ("", raw_email) if _EMAIL.fullmatch(raw_email) else single_address(raw_email)
        )
    except AddressListError as exc:
        raise _rejected(
            row, mapping, origin, f"requester email in column {email_column!r}: {exc}"
        ) from None
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise _rejected(
            row,
            mapping,
            origin,
            f"invalid requester email {raw_email!r} in column {email_column!r}",
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
            raise _rejected(
                row,
                mapping,
                origin,
                f"unparseable date {resolved_text!r} in column {date_column!r}: {exc}",
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


def _unjoined(row: Mapping[str, object], mapping: ColumnMapping) -> str:
    """Why a sideload that would give the requester's address was not joined, or ""."""
    for sideload in mapping.sideloads:
        wanted = any(
            c.startswith(f"{sideload.into}.") for c in mapping.candidates("requester_email")
        )
        if wanted and sideload.into not in row and sideload.ref in row:
            return (
                f"; {sideload.ref} {_text(row[sideload.ref])} has no entry in the file's "
                f"{sideload.array}[] (export with include={sideload.array})"
            )
    return ""


# --- sideloads: related records beside the records ------------------------------------------

# What is kept of one file's sideloads, in items and in characters of the fields kept: the
# join must not let a file take the daemon's memory. A Zendesk incremental page holds at most
# 1,000 tickets and their users and metric sets.
MAX_SIDELOAD_ITEMS = 50_000
MAX_SIDELOAD_CHARS = 16 * 1024 * 1024


@dataclass
class SideloadIndex:
    """The sideloaded items of one file: ``into`` -> the item's key as text -> kept fields."""

    items: dict[str, dict[str, Mapping[str, object]]] = field(default_factory=dict)
    overflow: bool = False  # a cap was reached: later items were not kept


def scan_sideloads(
    stream: BinaryIO, mapping: ColumnMapping, chunk_size: int = 64 * 1024
) -> SideloadIndex:
    """Read a JSON export's top-level sideload arrays (item by item, within the caps), before
    its records are read: Zendesk may write ``users[]`` after ``tickets[]``. Anything the
    reading pass will report (malformed or truncated JSON) just ends the scan."""
    index = SideloadIndex()
    wanted: dict[str, tuple[Sideload, frozenset[str]]] = {}
    for sideload in mapping.sideloads:
        used = mapping.joined_fields(sideload.into)
        if used:
            wanted[sideload.array] = (sideload, used)
            index.items[sideload.into] = {}
    if not wanted:
        return index
    cursor = _JsonCursor(stream, chunk_size)
    chars = 0
    try:
        while cursor.peek() == "{":
            cursor.expect("{", "'{'")
            if cursor.peek() == "}":
                cursor.pos += 1
                continue
            while True:
                key = cursor.value()
                cursor.expect(":", "':' after an object key")
                found = wanted.get(key) if isinstance(key, str) else None
                if cursor.peek() != "[":
                    cursor.value()
                else:
                    for item in _array_values(cursor):
                        if found is not None and isinstance(item, dict):
                            chars = _keep(index, *found, item, chars)
                if cursor.expect(",}", "',' or '}' in an object") == "}":
                    break
    except (_Truncated, _Malformed):
        pass
    return index


def _keep(
    index: SideloadIndex,
    sideload: Sideload,
    fields: frozenset[str],
    item: Mapping[str, object],
    chars: int,
) -> int:
    """Keep the used ``fields`` of one sideloaded item, within the caps; the characters kept."""
    item_key = _text(item.get(sideload.key))
    if not item_key:
        return chars
    kept = {name: item[name] for name in fields if name in item}
    size = len(item_key) + sum(len(_text(value)) for value in kept.values())
    if (
        sum(len(items) for items in index.items.values()) >= MAX_SIDELOAD_ITEMS
        or chars + size > MAX_SIDELOAD_CHARS
    ):
        index.overflow = True
        return chars
    index.items[sideload.into][item_key] = kept
    return chars + size


def join_sideloads(
    row: Mapping[str, object], mapping: ColumnMapping, index: SideloadIndex
) -> Mapping[str, object]:
    """``row`` with each sideloaded item it refers to under its ``into`` name (a record that
    already embeds one, as the Tickets API with ``include=users`` can, keeps its own)."""
    joined: dict[str, object] | None = None
    for sideload in mapping.sideloads:
        if sideload.into in row or sideload.ref not in row:
            continue
        item = index.items.get(sideload.into, {}).get(_text(row[sideload.ref]))
        if item is not None:
            joined = joined if joined is not None else dict(row)
            joined[sideload.into] = item
    return joined if joined is not None else row


# --- byte streams -> records ----------------------------------------------------------------

_CHUNK = 64 * 1024
_SCAN_CHUNK = 1024 * 1024  # reading through a line too long to keep, or checksumming a prefix
_BOM = b"\xef\xbb\xbf"
_EOL = re.compile(rb"\r\n?|\n")
_EMPTY_DIGEST = f"{0:08x}{1:08x}"  # crc32 and adler32 of no bytes


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in a stream between two records: the byte offset, the number of the line that
    starts there, and a checksum of every byte before it (so a file that was rewritten can be
    told from one that only grew)."""

    offset: int = 0
    line: int = 1
    digest: str = _EMPTY_DIGEST


class _Progress:
    """The bytes of a stream handed out so far: counted, with their lines, and checksummed."""

    __slots__ = ("_adler", "_crc", "line", "offset")

    def __init__(self, start: Mark) -> None:
        self.offset, self.line = start.offset, start.line
        self._crc, self._adler = int(start.digest[:8], 16), int(start.digest[8:], 16)

    def consume(self, data: bytes, lines: int) -> None:
        self.offset += len(data)
        self.line += lines
        self._crc = zlib.crc32(data, self._crc)
        self._adler = zlib.adler32(data, self._adler)

    def mark(self) -> Mark:
        return Mark(self.offset, self.line, f"{self._crc:08x}{self._adler:08x}")


def prefix_digest(stream: BinaryIO, length: int) -> str | None:
    """The checksum :class:`Mark` keeps for the first ``length`` bytes of ``stream`` (read from
    where it stands), or None when the stream is shorter."""
    progress = _Progress(Mark())
    while progress.offset < length:
        chunk = stream.read(min(_SCAN_CHUNK, length - progress.offset))
        if not chunk:
            return None
        progress.consume(chunk, 0)
    return progress.mark().digest


@dataclass(frozen=True, slots=True)
class _Line:
    data: bytes  # the line with its terminator (a BOM at the start of the stream removed)
    size: int  # its length in the stream
    terminated: bool  # False: the stream ended first
    kept: bool  # False: longer than the caller's cap, read through but not kept (data is b"")
    quotes: int  # '"' characters in it, kept or not (to find the end of a quoted CSV field)


class _Lines:
    """Physical lines of a binary stream, ending in LF, CRLF or CR (as ``newline=""`` splits).

    Memory is bounded by the caller's cap: a longer line is read through to its end in chunks
    and handed out as its size only. Every byte handed out is counted in ``progress``.
    """

    def __init__(self, stream: BinaryIO, progress: _Progress) -> None:
        self._stream = stream
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._bom = progress.offset == 0
        self.progress = progress

    def _fill(self, size: int = _CHUNK) -> bool:
        if self._eof:
            return False
        chunk = self._stream.read(size)
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def _eol(self, start: int) -> int:
        """End of the first line terminator in the buffer at or after ``start``, or -1."""
        while True:
            match = _EOL.search(self._buf, start)
            if match is None:
                return -1
            if match.end() == len(self._buf) and match.group() == b"\r":
                before = match.start() - self._pos
                if self._fill():  # a CR at the end of the buffer may be the start of CRLF
                    start = self._pos + before
                    continue
            return match.end()

    def _hand_out(self, end: int, *, terminated: bool, keep: bool) -> _Line:
        piece = self._buf[self._pos : end]
        self._pos = end
        self.progress.consume(piece, 1 if terminated else 0)
        data = piece
        if self._bom:
            self._bom = False
            data = piece.removeprefix(_BOM)
        return _Line(data if keep else b"", len(piece), terminated, keep, piece.count(b'"'))

    def next(self, cap: int) -> _Line | None:
        """The next line (None at the end of the stream), kept when it is at most ``cap`` bytes."""
        searched = self._pos
        while True:
            end = self._eol(searched)
            if end >= 0:
                return self._hand_out(end, terminated=True, keep=end - self._pos <= cap)
            if len(self._buf) - self._pos > cap:
                return self._read_through()
            searched = len(self._buf) - self._pos
            if not self._fill():
                if self._pos == len(self._buf):
                    return None
                return self._hand_out(len(self._buf), terminated=False, keep=True)
            # _fill moved the unread bytes to the start of the buffer: searched stays right

    def _read_through(self) -> _Line:
        """The rest of a line too long to keep: counted and checksummed, never held whole."""
        size = quotes = 0
        while True:
            end = self._eol(self._pos)
            stop = end if end >= 0 else len(self._buf)
            part = self._hand_out(stop, terminated=end >= 0, keep=False)
            size, quotes = size + part.size, quotes + part.quotes
            if end >= 0 or not self._fill(_SCAN_CHUNK):
                return _Line(b"", size, end >= 0, False, quotes)


def _decode(data: bytes) -> str:
    # surrogateescape: a row with bytes that are not UTF-8 is rejected on its own (see
    # row_to_resolution) instead of aborting the whole file.
    return data.decode("utf-8", "surrogateescape")


def _too_large(size: int) -> str:
    return f"record is larger than {MAX_RECORD_BYTES:,} bytes ({size:,} bytes); skipped"


@dataclass(frozen=True, slots=True)
class Record:
    """One row or JSON object, with the line it starts on and the place just after it."""

    line: int
    data: Mapping[str, object]
    end: Mark = field(default=Mark(), compare=False)


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A row or part of the stream that cannot be read; ``line`` is where it starts."""

    line: int
    reason: str
    end: Mark = field(default=Mark(), compare=False)


@dataclass(frozen=True, slots=True)
class Unfinished:
    """The stream ends inside a record (no line break, no closing bracket yet): the writer may
    still be writing it. Nothing after ``start`` was used; ``reason`` says what is missing."""

    line: int
    start: Mark
    reason: str


@dataclass(frozen=True, slots=True)
class CsvHeader:
    """The header row of a CSV stream, yielded before its rows."""

    names: tuple[str, ...]


CsvItem = CsvHeader | Record | BadRecord | Unfinished
JsonItem = Record | BadRecord | Unfinished


class _TooLarge(Exception):
    """The record being read passed MAX_RECORD_BYTES."""


class _RecordLines:
    """The lines of one CSV record, handed to ``csv.reader`` one by one within the size cap."""

    def __init__(self, lines: _Lines) -> None:
        self._lines = lines
        self.size = self.quotes = 0
        self.eof = False
        self.terminated = True

    def start(self) -> None:
        self.size = self.quotes = 0
        self.eof = False
        self.terminated = True

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._lines.next(max(MAX_RECORD_BYTES - self.size, 0))
        if line is None:
            self.eof = True
            raise StopIteration
        self.size += line.size
        self.quotes += line.quotes
        self.terminated = line.terminated
        if not line.kept:
            raise _TooLarge
        return _decode(line.data)

    def finish(self) -> None:
        """Skip the rest of a record that could not be read: up to the line break that is not
        inside quotes (the quote count is even), so the next record starts where it should."""
        while self.quotes % 2 and not self.eof:
            line = self._lines.next(0)
            if line is None:
                self.eof = True
                return
            self.size += line.size
            self.quotes += line.quotes
            self.terminated = line.terminated


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
    lines = _Lines(stream, _Progress(start))
    feed = _RecordLines(lines)
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
        except _TooLarge:
            feed.finish()
            if not feed.terminated:
                yield Unfinished(begin.line, begin, _too_large(feed.size))
                return
            yield BadRecord(begin.line, _too_large(feed.size), lines.progress.mark())
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


def iter_jsonl_records(stream: BinaryIO, resume: Mark | None = None) -> Iterator[JsonItem]:
    """One JSON object per line; a bad line is a :class:`BadRecord` and the next line goes on.

    A line larger than :data:`MAX_RECORD_BYTES` is read through and rejected. A last line
    without its line break counts only when it is a whole JSON object (its closing brace is
    then its end); otherwise it is :class:`Unfinished`. ``resume`` starts at a line boundary.
    """
    if resume is not None:
        stream.seek(resume.offset)
    lines = _Lines(stream, _Progress(resume or Mark()))
    while True:
        begin = lines.progress.mark()
        line = lines.next(MAX_RECORD_BYTES)
        if line is None:
            return
        end = lines.progress.mark()
        if not line.kept:
            if not line.terminated:
                yield Unfinished(begin.line, begin, _too_large(line.size))
                return
            yield BadRecord(begin.line, _too_large(line.size), end)
            continue
        text = _decode(line.data)
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


class _Truncated(Exception):
    """The stream ended inside a JSON value."""


class _Malformed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _JsonCursor:
    """A window over a byte stream for incremental ``raw_decode``: keeps only unread text.

    The bytes of the text read so far are counted and checksummed (see :class:`Mark`) as the
    position moves past them, so each record can say where it ends in the stream.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._decoder = json.JSONDecoder()
        self._bytes = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._progress = _Progress(Mark())
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
            while len(raw) < len(_BOM) and raw and _BOM.startswith(raw):
                more = self._stream.read(self._chunk_size)
                if not more:
                    break
                raw += more
            if raw.startswith(_BOM):
                self._progress.consume(_BOM, 0)
                raw = raw[len(_BOM) :]
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
        if len(self.buf) - self.pos > MAX_RECORD_BYTES:
            raise _Malformed(f"a record is larger than {MAX_RECORD_BYTES:,} characters")
        if not self._fill():
            raise _Truncated


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
    cursor = _JsonCursor(stream, chunk_size)
    try:
        first = cursor.peek()
        if first == "":
            return
        if first == "[":
            yield from _array(cursor)
        elif first == "{":
            yield from _objects(cursor, skip)
        else:
            raise _Malformed(f"expected '[' or '{{' at the start, found {first!r}")
        cursor.record_line = cursor.line()
        if cursor.peek() != "":
            raise _Malformed("unexpected data after the end of the JSON document")
    except _Truncated:
        yield Unfinished(cursor.record_line, cursor.last_end, _TRUNCATED)
    except _Malformed as exc:
        yield BadRecord(
            cursor.record_line,
            f"malformed JSON: {exc.reason}; the rest of the file was not read",
            cursor.mark(),
        )


_TRUNCATED = "truncated JSON: the file ends in the middle of a record or before the closing bracket"


def _array_values(cursor: _JsonCursor) -> Iterator[object]:
    """The values of the array at the cursor, one at a time (never the whole array)."""
    cursor.expect("[", "'['")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    while True:
        yield cursor.value()
        if cursor.expect(",]", "',' or ']' after an array item") == "]":
            return


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
            yield Record(line, value, cursor.mark())
        else:
            yield BadRecord(line, f"array item is {_kind(value)}, not an object", cursor.mark())
        cursor.peek()
        cursor.record_line = cursor.line()
        if cursor.expect(",]", "',' or ']' after a record") == "]":
            return


def _objects(cursor: _JsonCursor, skip: frozenset[str]) -> Iterator[JsonItem]:
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
            elif key in skip and cursor.peek() == "[":
                for _ in _array_values(cursor):  # a sideload: scan_sideloads keeps what is used
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
            raise _Malformed("unexpected data after the end of the JSON document")
