"""One export row becomes a Resolution, is skipped, or is rejected with a reason naming the column."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.core.errors import InputError
from notifier.core.model import Resolution
from notifier.sources.export.presets import build_mapping
from notifier.sources.records.mapping import ColumnMapping
from notifier.sources.records.rows import flatten, row_to_resolution

GENERIC = build_mapping(None, {}, None, None, "UTC")


def generic_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "ticket_id": "T-1",
        "requester_email": "ana@example.org",
        "requester_name": "Ana",
        "title": "Printer",
        "status": "Resolved",
        "resolved_at": "2026-11-27T10:00:00Z",
        "team": "desk",
        "resolution_note": "Fixed.",
    }
    row.update(overrides)
    return row


def parse(row: dict[str, object], mapping: ColumnMapping = GENERIC) -> Resolution | None:
    return row_to_resolution(row, mapping, source="src", origin="f.csv:7")


def resolve(row: dict[str, object], mapping: ColumnMapping = GENERIC) -> Resolution:
    res = parse(row, mapping)
    assert res is not None
    return res


def test_resolved_row_fills_every_field() -> None:
    """Mapped columns land in the right Resolution fields, team in team_hint, raw in fields."""
    res = resolve(generic_row(language="de", original_message_id="<m1@example.org>"))
    assert res.ticket_id == "T-1"
    assert res.requester_email == "ana@example.org"
    assert res.resolved_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert res.team_hint == "desk"
    assert res.language == "de"
    assert res.original_message_id == "<m1@example.org>"
    assert res.origin == "f.csv:7"
    assert res.fields["team"] == "desk"


@pytest.mark.parametrize("status", ["In Progress", "", "open", "resolvedish"])
def test_unresolved_rows_are_skipped_silently(status: str) -> None:
    """A row whose status is not a resolved status gives None, even when other fields are bad."""
    assert parse(generic_row(status=status, requester_email="not-an-email")) is None


@pytest.mark.parametrize("status", ["RESOLVED", "  resolved ", "Closed", "done", "Solved"])
def test_status_comparison_ignores_case_and_spaces(status: str) -> None:
    """Resolved status words match whatever their case and surrounding spaces."""
    assert parse(generic_row(status=status)) is not None


def test_configured_statuses_replace_the_defaults() -> None:
    """resolved_statuses given by the user replace the preset's set entirely."""
    mapping = build_mapping(None, {}, ["Fixed"], None, "UTC")
    assert parse(generic_row(status="fixed"), mapping) is not None
    assert parse(generic_row(status="Resolved"), mapping) is None


def test_empty_status_set_means_every_row_is_resolved() -> None:
    """An export that is already filtered to resolved tickets needs no status column."""
    mapping = build_mapping(None, {}, [], None, "UTC")
    row = generic_row()
    del row["status"]
    assert parse(row, mapping) is not None


BAD_ROWS = [
    ({"ticket_id": ""}, "missing ticket id: column 'ticket_id' is empty"),
    ({"requester_email": "  "}, "missing requester email: column 'requester_email' is empty"),
    ({"requester_email": "ana.example.org"}, "invalid requester email 'ana.example.org'"),
    ({"requester_email": "ana@"}, "in column 'requester_email'"),
    ({"resolved_at": "next tuesday"}, "unparseable date 'next tuesday' in column 'resolved_at'"),
    ({"title": "caf\udce9"}, "undecodable bytes (not UTF-8) or a lone surrogate in column 'title'"),
]


@pytest.mark.parametrize(("overrides", "reason"), BAD_ROWS)
def test_bad_resolved_rows_raise_input_error_naming_the_column(
    overrides: dict[str, object], reason: str
) -> None:
    """A resolved but unusable row raises InputError with the origin and a column-specific reason."""
    with pytest.raises(InputError) as caught:
        parse(generic_row(**overrides))
    assert caught.value.origin == "f.csv:7"
    assert reason in caught.value.reason


def test_missing_column_is_named_when_absent_from_row() -> None:
    """When no candidate column exists at all, the reason lists the columns looked for."""
    row = generic_row()
    del row["requester_email"]
    with pytest.raises(InputError, match="no column 'requester_email'"):
        parse(row)


def test_absent_status_field_is_a_problem_not_a_silent_skip() -> None:
    """A record without any status key cannot be judged: it is reported, not quietly dropped."""
    row = generic_row()
    del row["status"]
    with pytest.raises(InputError, match="missing status: no column 'status'"):
        parse(row)


def test_name_and_address_form_is_split() -> None:
    """'Name <addr>' in the email column gives the address, and the name when none is mapped."""
    res = resolve(generic_row(requester_email="Ana Lima <ana@example.org>", requester_name=""))
    assert res.requester_email == "ana@example.org"
    assert res.requester_name == "Ana Lima"


def test_missing_resolved_time_leaves_it_none() -> None:
    """Without a resolved time the resolution is still produced (keyed by fingerprint)."""
    res = resolve(generic_row(resolved_at=""))
    assert res.resolved_at is None
    assert ":fp-" in res.key


def test_dotted_paths_reach_nested_json() -> None:
    """A candidate like requester.email walks nested objects; literal dotted keys win first."""
    mapping = build_mapping(
        None, {"requester_email": "requester.email", "team": "group.name"}, None, None, "UTC"
    )
    row = generic_row(requester={"email": "nested@example.org"}, group={"name": "Network"})
    del row["requester_email"]
    res = resolve(row, mapping)
    assert res.requester_email == "nested@example.org"
    assert res.team_hint == "Network"
    res2 = resolve({**row, "requester.email": "literal@example.org"}, mapping)
    assert res2.requester_email == "literal@example.org"


def test_flatten_makes_every_nested_value_a_string() -> None:
    """Routing rules see every input field by a dotted name, as a string."""
    flat = flatten(
        {
            "id": 7,
            "ok": True,
            "none": None,
            "tags": ["a", "b"],
            "via": {"source": {"from": {"address": "x@example.org"}}},
            "group": {"display_value": "Network", "value": "abc123", "link": "https://x"},
        }
    )
    assert flat["id"] == "7"
    assert flat["ok"] == "true"
    assert flat["none"] == ""
    assert flat["tags"] == "a, b"
    assert flat["via.source.from.address"] == "x@example.org"
    assert flat["group"] == "Network"
    assert flat["group.value"] == "abc123"
