"""Zendesk's incremental ticket export, cursor-based, with its users and metric sets joined.

The first poll asks ``GET /api/v2/incremental/tickets/cursor.json?start_time=<unix>``, every
later one ``?cursor=<after_cursor>`` of the last page read, each with
``include=users,metric_sets``; pages follow until ``end_of_stream`` is true. The cursor is
Zendesk's own, saved after each whole page. A ticket's requester is the sideloaded user whose
``id`` is its ``requester_id``; its resolution time is its metric set's ``solved_at`` (Solved,
then Closed, is one resolution), else ``updated_at``. Deleted tickets (status ``deleted``) are
left out. Zendesk allows 10 requests a minute to these endpoints: a 429's ``Retry-After`` is
waited out (docs/api-sources.md). Items changed within the minute before a request come in a
later one.

Authentication: an agent's address with ``/token`` and an API token (basic auth: ``username =
"agent@example.org/token"``, the token as the password), or an OAuth access token
(``token_file``: ``Authorization: Bearer``). The ticket id is Zendesk's number, as in its mail.
Source: developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
and documentation/ticketing/managing-tickets/using-the-incremental-export-api; tested against
a local server answering in those shapes (tests/integration/test_api_zendesk.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifier.core.errors import SourceError
from notifier.sources.api.client import ApiClient
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.timestamps import parse_timestamp

EXPORT = "/api/v2/incremental/tickets/cursor.json"
MAX_PAGES = 50  # pages read in one poll at most; the cursor goes on at the next
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "language",
)  # fmt: skip


@dataclass
class ZendeskReader(RecordReader):
    FIELDS = _FIELDS
    resolved: tuple[str, ...] = ("solved", "closed")
    product: str = "Zendesk"

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        params: dict[str, str | int | list[str]] = {"include": "users,metric_sets"}
        if token:
            params["cursor"] = token
        else:
            params["start_time"] = int(since.timestamp())
        for _ in range(MAX_PAGES):
            page = client.get(EXPORT, params)
            if not isinstance(page, Mapping) or not isinstance(page.get("tickets"), list):
                raise SourceError(f"{self.product} API: an export page without 'tickets'")
            after = str(page.get("after_cursor") or "")
            users = _by(page.get("users"), "id")
            metrics = _by(page.get("metric_sets"), "ticket_id")
            tickets = [t for t in page["tickets"] if isinstance(t, Mapping)]
            for n, ticket in enumerate(tickets):
                last = n == len(tickets) - 1
                yield self._record(ticket, users, metrics, after if last else "")
            if not tickets and after:  # an empty page still moves the cursor on
                yield ApiRecord({}, since, "Zendesk export", token=after, skip=True)
            if page.get("end_of_stream") or not after:
                return
            params = {"include": "users,metric_sets", "cursor": after}

    def _record(
        self,
        ticket: Mapping[str, Any],
        users: Mapping[str, Mapping[str, Any]],
        metrics: Mapping[str, Mapping[str, Any]],
        after: str,
    ) -> ApiRecord:
        number = str(ticket.get("id", ""))
        requester = users.get(str(ticket.get("requester_id")), {})
        metric = metrics.get(number, {})
        record: dict[str, object] = {
            "ticket_id": number,
            "title": ticket.get("subject") or ticket.get("raw_subject") or "",
            "status": ticket.get("status") or "",
            "requester_email": requester.get("email") or "",
            "requester_name": requester.get("name") or "",
            "resolved_at": metric.get("solved_at") or ticket.get("updated_at") or "",
            "updated_at": ticket.get("updated_at") or "",
            "team": str(ticket.get("group_id") or ""),
            "language": str(requester.get("locale") or ""),
        }
        try:
            updated = parse_timestamp(str(ticket.get("updated_at") or ""))
        except ValueError as exc:
            raise SourceError(f"Zendesk API: ticket {number}: updated_at: {exc}") from exc
        origin = f"Zendesk ticket {number}"
        if ticket.get("status") == "deleted":
            return ApiRecord(record, updated, origin, token=after, skip=True)
        return ApiRecord(record, updated, origin, token=after)

    def probe(self, client: ApiClient) -> str:
        me = client.get("/api/v2/users/me.json")
        user = me.get("user") if isinstance(me, Mapping) else None
        role = user.get("role") if isinstance(user, Mapping) else "?"
        email = user.get("email") if isinstance(user, Mapping) else "?"
        return f"logged in as {email} ({role})"


def _by(items: object, key: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {str(item.get(key)): item for item in items if isinstance(item, Mapping)}
