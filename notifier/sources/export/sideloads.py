"""An export file's sideloads: the related records (users, organizations, metric sets) a JSON
export writes beside its tickets, read first and joined into each ticket record before it is
mapped (Zendesk may write ``users[]`` after ``tickets[]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from notifier.sources.export.json_records import JsonCursor, Malformed, Truncated, array_values
from notifier.sources.records.mapping import ColumnMapping, Sideload
from notifier.sources.records.rows import text_of

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
    cursor = JsonCursor(stream, chunk_size)
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
                    for item in array_values(cursor):
                        if found is not None and isinstance(item, dict):
                            chars = _keep(index, *found, item, chars)
                if cursor.expect(",}", "',' or '}' in an object") == "}":
                    break
    except (Truncated, Malformed):
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
    item_key = text_of(item.get(sideload.key))
    if not item_key:
        return chars
    kept = {name: item[name] for name in fields if name in item}
    size = len(item_key) + sum(len(text_of(value)) for value in kept.values())
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
        item = index.items.get(sideload.into, {}).get(text_of(row[sideload.ref]))
        if item is not None:
            joined = joined if joined is not None else dict(row)
            joined[sideload.into] = item
    return joined if joined is not None else row
