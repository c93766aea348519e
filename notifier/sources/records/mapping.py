"""The ticket fields an export can fill, and how one team's columns map onto them
(:class:`ColumnMapping`; the products' presets are :mod:`notifier.sources.export.presets`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from notifier.core.errors import ConfigError

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
MAX_FIELD_CHARS = 128 * 1024  # also the csv module's own default field limit
MAX_ID_CHARS = 200  # a ticket id: it is part of keys, subjects and Message-IDs

EMAIL = re.compile(
    r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
# Bytes that were not UTF-8 arrive as lone surrogates (the stream uses "surrogateescape");
# JSON can also spell a lone surrogate ("\ud800"). Neither is text that can be stored or mailed.
UNDECODABLE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
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


def mapping_of(
    columns: Mapping[str, str | Sequence[str]],
    resolved: Sequence[str],
    *,
    timezone: str = "UTC",
) -> ColumnMapping:
    """A record mapping from each field's dotted path(s) (webhook payloads, API records)."""
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown ticket field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}"
        )
    paths = {
        name: (value,) if isinstance(value, str) else tuple(value)
        for name, value in columns.items()
    }
    return ColumnMapping(
        columns=MappingProxyType({name: paths.get(name, ()) for name in FIELDS}),
        resolved_statuses=frozenset(normalise_status(s) for s in resolved if s.strip()),
        default_timezone=timezone,
    )


def statuses(*words: str) -> frozenset[str]:
    return frozenset(normalise_status(word) for word in words)
