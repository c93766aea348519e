"""Byte streams into records, the layer under the CSV and JSON readers.

A reader yields :class:`Record` (one row with the line it starts on and the :class:`Mark` just
after it) or :class:`BadRecord`, never holding more than one record, of at most
:data:`MAX_RECORD_BYTES`, in memory. A record counts only once its end has been read (a line
break, a closing brace): a stream that stops inside one ends with :class:`Unfinished`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

# --- byte streams -> records ----------------------------------------------------------------

MAX_RECORD_BYTES = 4 * 1024 * 1024  # one record, read through and rejected when larger

_CHUNK = 64 * 1024
_SCAN_CHUNK = 1024 * 1024  # reading through a line too long to keep, or checksumming a prefix
BOM = b"\xef\xbb\xbf"
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


class Progress:
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
    progress = Progress(Mark())
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


class Lines:
    """Physical lines of a binary stream, ending in LF, CRLF or CR (as ``newline=""`` splits).

    Memory is bounded by the caller's cap: a longer line is read through to its end in chunks
    and handed out as its size only. Every byte handed out is counted in ``progress``.
    """

    def __init__(self, stream: BinaryIO, progress: Progress) -> None:
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
            data = piece.removeprefix(BOM)
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


def decode_text(data: bytes) -> str:
    # surrogateescape: a row with bytes that are not UTF-8 is rejected on its own (see
    # row_to_resolution) instead of aborting the whole file.
    return data.decode("utf-8", "surrogateescape")


def too_large(size: int) -> str:
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


class TooLarge(Exception):
    """The record being read passed MAX_RECORD_BYTES."""


class RecordLines:
    """The lines of one CSV record, handed to ``csv.reader`` one by one within the size cap."""

    def __init__(self, lines: Lines) -> None:
        self._lines = lines
        self.size = self.quotes = 0
        self.eof = False
        self.terminated = True

    def start(self) -> None:
        self.size = self.quotes = 0
        self.eof = False
        self.terminated = True

    def __iter__(self) -> RecordLines:
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
            raise TooLarge
        return decode_text(line.data)

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
