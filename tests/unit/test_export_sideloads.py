"""Joining a JSON export's sideloads (Zendesk ``include=users,metric_sets``) onto its records,
within the reader's caps (notifier.sources.export.sideloads)."""

from __future__ import annotations

import io
import json

import pytest

from notifier.core.errors import InputError
from notifier.sources.export import sideloads, streams
from notifier.sources.export.json_records import iter_json_records
from notifier.sources.export.presets import build_mapping
from notifier.sources.export.sideloads import join_sideloads, scan_sideloads
from notifier.sources.export.streams import BadRecord, Record
from notifier.sources.records.rows import row_to_resolution

ZENDESK = build_mapping("zendesk", {}, None, None, "UTC")


def page(*, users_first: bool, users: int = 2) -> bytes:
    tickets = [{"id": n, "status": "solved", "requester_id": 100 + n} for n in range(2)]
    people = [{"id": 100 + n, "email": f"u{n}@example.org", "name": f"User {n}",
               "notes": "x" * 50} for n in range(users)]  # fmt: skip
    metrics = [{"ticket_id": n, "solved_at": f"2024-03-0{n + 1}T10:00:00Z"} for n in range(2)]
    parts = [("users", people), ("tickets", tickets), ("metric_sets", metrics)]
    if not users_first:
        parts.reverse()
    return json.dumps(dict(parts)).encode()


def resolutions(data: bytes) -> list[tuple[str, str, str]]:
    stream = io.BytesIO(data)
    index = scan_sideloads(stream, ZENDESK)
    stream.seek(0)
    out = []
    for item in iter_json_records(stream, skip=ZENDESK.sideload_arrays):
        assert isinstance(item, Record), item
        res = row_to_resolution(join_sideloads(item.data, ZENDESK, index), ZENDESK,
                                source="zd", origin="x")  # fmt: skip
        assert res is not None
        out.append((res.ticket_id, res.requester_email, res.key))
    return out


@pytest.mark.parametrize("users_first", [True, False])
def test_sideloads_join_whether_they_come_before_or_after_the_tickets(users_first: bool) -> None:
    assert resolutions(page(users_first=users_first)) == [
        ("0", "u0@example.org", "zd:0:2024-03-01T10:00:00Z"),
        ("1", "u1@example.org", "zd:1:2024-03-02T10:00:00Z"),
    ]


def test_a_users_array_larger_than_the_record_cap_is_read_item_by_item() -> None:
    """The sideload arrays are never held whole: a page whose users[] alone passes
    MAX_RECORD_BYTES still gives its tickets, and only the used fields are kept."""
    data = page(users_first=False, users=60_000)
    assert len(data) > streams.MAX_RECORD_BYTES
    assert [email for _, email, _ in resolutions(data)] == ["u0@example.org", "u1@example.org"]
    index = scan_sideloads(io.BytesIO(data), ZENDESK)
    assert set(index.items["requester"]["100"]) == {"email", "name"}  # no "notes"


def test_past_the_item_cap_later_items_are_not_kept_and_that_is_flagged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sideloads, "MAX_SIDELOAD_ITEMS", 3)
    index = scan_sideloads(io.BytesIO(page(users_first=True, users=5)), ZENDESK)
    assert index.overflow
    assert sum(len(items) for items in index.items.values()) == 3


def test_an_embedded_requester_is_kept_and_a_missing_user_is_named() -> None:
    index = scan_sideloads(io.BytesIO(page(users_first=True)), ZENDESK)
    own = {"id": 0, "status": "solved", "requester_id": 100,
           "requester": {"email": "own@example.org"}}  # fmt: skip
    assert join_sideloads(own, ZENDESK, index)["requester"] == {"email": "own@example.org"}
    stray = {"id": 7, "status": "solved", "requester_id": 555}
    with pytest.raises(InputError, match=r"requester_id 555 has no entry.*users\[\]"):
        row_to_resolution(join_sideloads(stray, ZENDESK, index), ZENDESK, source="zd", origin="x")


def test_a_cut_file_ends_the_scan_and_the_reader_reports_it() -> None:
    data = page(users_first=False)[:-40]
    index = scan_sideloads(io.BytesIO(data), ZENDESK)
    assert not index.overflow
    items = list(iter_json_records(io.BytesIO(data), skip=ZENDESK.sideload_arrays))
    assert not any(isinstance(item, BadRecord) for item in items)
    assert type(items[-1]).__name__ == "Unfinished"
