"""Freshdesk's ticket list: the tickets updated since the cursor, with requester and stats.

``GET /api/v2/tickets?updated_since=<UTC time>&order_by=updated_at&order_type=asc&per_page=100
&page=N&include=requester,stats`` by change time (each page asks again from the newest change
read, so Freshdesk's limit of 300 pages per listing is never reached; without
``updated_since`` it would list only the last 30 days). Statuses are numbers: 2 *Open*,
3 *Pending*, 4 *Resolved*, 5 *Closed* (custom statuses keep their number). The resolution's
time is ``stats.resolved_at`` (Resolved, then Closed, is one resolution), else
``stats.closed_at``. The note is the newest public reply of an agent up to the resolution
(``GET /api/v2/tickets/<id>/conversations``: not ``private``, not ``incoming``, its
``body_text``); the requester is the included ``requester`` (``email``, ``name``).

Authentication: the API key as the user name and ``X`` as the password (basic auth; with
``token_file`` notifier sends it so). Each ``include`` costs two more API credits; ``429`` with
``Retry-After`` is waited out. The ticket id is Freshdesk's number, as in its mail and its
webhook preset. Sources: developers.freshdesk.com/api/ (List All Tickets, ``include``,
Conversations, Rate limit); tested against a local server in those shapes
(tests/integration/test_api_hosted.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifier.core.errors import SourceError
from notifier.sources.api.client import ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.replies import newest_reply
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.timestamps import parse_timestamp

TICKETS = "/api/v2/tickets"
PAGE_SIZE = 100
STATUS_NAMES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "resolution_note",
)  # fmt: skip


@dataclass
class FreshdeskReader(RecordReader):
    FIELDS = _FIELDS
    resolved: tuple[str, ...] = ("Resolved", "Closed")
    product: str = "Freshdesk"

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            answer = client.get(TICKETS, {
                "updated_since": f"{boundary.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
                "order_by": "updated_at", "order_type": "asc", "per_page": PAGE_SIZE,
                "page": page, "include": "requester,stats",
            })  # fmt: skip
            if not isinstance(answer, list):
                raise SourceError("Freshdesk API: a ticket list that is not a list")
            return [ticket for ticket in answer if isinstance(ticket, Mapping)]

        def key(ticket: Mapping[str, Any]) -> tuple[datetime, str]:
            return _moment(ticket, "updated_at"), str(ticket.get("id", ""))

        for ticket in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(client, ticket)

    def probe(self, client: ApiClient) -> str:
        me = client.get("/api/v2/agents/me")
        contact = me.get("contact") if isinstance(me, Mapping) else None
        who = contact.get("email") if isinstance(contact, Mapping) else "?"
        return f"logged in as {who}"

    def _record(self, client: ApiClient, ticket: Mapping[str, Any]) -> ApiRecord:
        number = str(ticket.get("id", ""))
        code = ticket.get("status")
        status = STATUS_NAMES.get(code, str(code)) if isinstance(code, int) else str(code or "")
        requester = ticket.get("requester") if isinstance(ticket.get("requester"), Mapping) else {}
        stats = ticket.get("stats") if isinstance(ticket.get("stats"), Mapping) else {}
        assert isinstance(requester, Mapping) and isinstance(stats, Mapping)
        updated = _moment(ticket, "updated_at")
        record: dict[str, object] = {
            "ticket_id": number,
            "title": ticket.get("subject") or "",
            "status": status,
            "requester_email": requester.get("email") or "",
            "requester_name": requester.get("name") or "",
            "resolved_at": stats.get("resolved_at") or stats.get("closed_at") or "",
            "updated_at": ticket.get("updated_at") or "",
            "resolution_note": "",
        }
        origin = f"Freshdesk ticket {number}"
        if self.is_resolved(status):
            try:
                record["resolution_note"] = self._note(client, number, record["resolved_at"])
            except SourceError as exc:
                return ApiRecord(record, updated, origin, problem=f"cannot be read whole: {exc}")
        return ApiRecord(record, updated, origin)

    def _note(self, client: ApiClient, number: str, resolved: object) -> str:
        """The newest public agent reply up to the resolution."""
        answer = client.get(f"{TICKETS}/{number}/conversations", {"per_page": PAGE_SIZE})
        if not isinstance(answer, list):
            raise SourceError(f"Freshdesk API: ticket {number}: conversations are not a list")
        public = (
            (reply.get("created_at"), str(reply.get("body_text") or ""))
            for reply in answer
            if isinstance(reply, Mapping) and not reply.get("private") and not reply.get("incoming")
        )
        return newest_reply(public, resolved)


def _moment(ticket: Mapping[str, Any], name: str) -> datetime:
    try:
        return parse_timestamp(str(ticket.get(name) or ""))
    except ValueError as exc:
        raise SourceError(f"Freshdesk API: ticket {ticket.get('id')}: {name}: {exc}") from exc
