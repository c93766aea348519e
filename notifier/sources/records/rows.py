"""One record into a ``Resolution``, or the reason it is none: :func:`row_to_resolution`
maps a record's fields through a :class:`ColumnMapping` (an export's sideloads, users and
organizations, are joined in before: ``export.sideloads``). Pure: no files, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from notifier.core.errors import InputError
from notifier.core.model import Resolution
from notifier.sources.addresses import AddressListError, single_address
from notifier.sources.records.mapping import (
    EMAIL,
    MAX_FIELD_CHARS,
    MAX_ID_CHARS,
    UNDECODABLE,
    ColumnMapping,
    safe_text,
)
from notifier.sources.records.timestamps import load_zone, parse_timestamp

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


def value_at(node: object, *path: str) -> object:
    """The value at ``path`` in nested JSON objects (``"fields", "status", "name"``); None when
    a step is missing or not an object."""
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


_REF_KEYS = frozenset({"value", "display_value", "link"})


def _is_ref(value: object) -> bool:
    """A ServiceNow reference: ``{"display_value": .., "value": .., "link": ..}`` (with
    ``sysparm_display_value=all``) or ``{"link": .., "value": ..}`` (plain reference fields).
    """
    return isinstance(value, Mapping) and "value" in value and set(value) <= _REF_KEYS


def text_of(value: object, *, machine: bool = False) -> str:
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
        return text_of(value.get(first)) or text_of(value.get(second))
    if isinstance(value, list):
        return ", ".join(t for t in (text_of(v) for v in value) if t)
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
        text = text_of(raw, machine=machine)
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
                out[name] = text_of(value)
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = text_of(value)
    return out


def _status_values(raw: object) -> list[str]:
    if isinstance(raw, Mapping) and _is_ref(raw):
        return [text_of(raw.get("display_value")), text_of(raw.get("value"))]
    return [text_of(raw)]


def open_ticket(
    row: Mapping[str, object], mapping: ColumnMapping
) -> tuple[str, str, datetime | None] | None:
    """(ticket id, status, last-updated time) of a row that is not resolved.

    The updated time lets the service cancel a waiting notice only when the row is newer than
    the resolution: re-reading an older open row must not count as a reopen.
    """
    ticket_id, _, _ = _pick(row, mapping, "ticket_id")  # as row_to_resolution reads it
    status, _, _ = _pick(row, mapping, "status")
    if not ticket_id or UNDECODABLE.search(ticket_id):
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
    if not ticket_id or len(ticket_id) > MAX_ID_CHARS or UNDECODABLE.search(ticket_id):
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
                f"field {safe_text(column[:80])!r} is {len(value):,} characters long, more than "
                f"the {MAX_FIELD_CHARS:,} allowed",
            )
        if UNDECODABLE.search(value) or UNDECODABLE.search(column):
            raise _rejected(
                row,
                mapping,
                origin,
                f"undecodable bytes (not UTF-8) or a lone surrogate in column {safe_text(column)!r}",
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
            ("", raw_email) if EMAIL.fullmatch(raw_email) else single_address(raw_email)
        )
    except AddressListError as exc:
        raise _rejected(
            row, mapping, origin, f"requester email in column {email_column!r}: {exc}"
        ) from None
    if not EMAIL.fullmatch(email) or len(email) > 254:
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
                f"; {sideload.ref} {text_of(row[sideload.ref])} has no entry in the file's "
                f"{sideload.array}[] (export with include={sideload.array})"
            )
    return ""
