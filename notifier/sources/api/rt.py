"""Request Tracker's REST2 API (RT 5): the tickets changed since the cursor, by TicketSQL.

``GET /REST/2.0/tickets?query=LastUpdated >= '<UTC time> UTC'`` ordered by ``LastUpdated``,
with the requestors' addresses and the queue's name expanded (``fields[Requestor]``), page by
page to the last. For a resolved ticket the note is the technician's last correspondence
before the resolution (``/ticket/<id>/history``, then that transaction's attachments): RT's own
*Resolved* mail carries none. The ticket id is RT's number, as in its mail (``[rt #42]``).

Authentication: HTTP basic (an RT user's name and password) or an RT auth token
(``Authorization: token <token>``, made under the user's *Auth Tokens*). The user needs
*ShowTicket* on the queues it reads. Sources: RT 5's ``docs/REST2`` (``GET /tickets``,
``/ticket/:id/history``, ``/transaction/:id/attachments``); checked live against Debian's
RT 5.0.3 (``tests/live/test_request_tracker_api.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import structlog

from notifier.core.clock import from_stamp
from notifier.core.errors import SourceError
from notifier.sources.api.client import ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.source import ApiRecord
from notifier.sources.records.mapping import ColumnMapping, mapping_of, statuses
from notifier.sources.records.timestamps import parse_timestamp

log = structlog.get_logger("notifier.api")

PAGE_SIZE = 100
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "resolution_note",
)  # fmt: skip


class RtReader:
    product = "Request Tracker"

    def __init__(self, *, query: str = "", resolved: tuple[str, ...] = ("resolved",)) -> None:
        self.query = query  # more TicketSQL, such as "Queue = 'Support'"
        self.mapping: ColumnMapping = mapping_of({n: n for n in _FIELDS}, resolved)
        self.reopen_statuses: frozenset[str] = statuses()
        self._resolved = {s.lower() for s in resolved}

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            query = f"LastUpdated >= '{boundary:%Y-%m-%d %H:%M:%S} UTC'"
            if self.query:
                query += f" AND ({self.query})"
            answer = client.get(
                "/REST/2.0/tickets",
                {
                    "query": query, "orderby": ["LastUpdated", "id"], "order": ["ASC", "ASC"],
                    "per_page": PAGE_SIZE, "page": page,
                    "fields": "Subject,Status,Requestor,Resolved,LastUpdated,Queue",
                    "fields[Requestor]": "EmailAddress,RealName", "fields[Queue]": "Name",
                },
            )  # fmt: skip
            items = answer.get("items") if isinstance(answer, Mapping) else None
            if not isinstance(items, list):
                raise SourceError(f"{self.product} API: a ticket search without 'items'")
            return [item for item in items if isinstance(item, Mapping)]

        def key(item: Mapping[str, Any]) -> tuple[datetime, str]:
            return _parsed(item.get("LastUpdated")), str(item.get("id", ""))

        for item in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(client, item)

    def probe(self, client: ApiClient) -> str:
        query = f"id > 0 AND ({self.query})" if self.query else "id > 0"
        answer = client.get("/REST/2.0/tickets", {"query": query, "per_page": 1})
        total = answer.get("total") if isinstance(answer, Mapping) else None
        return f"{total} ticket(s) visible to this user" if total is not None else "answered"

    def _record(self, client: ApiClient, item: Mapping[str, Any]) -> ApiRecord:
        number = str(item.get("id", ""))
        requestors = [r for r in item.get("Requestor") or () if isinstance(r, Mapping)]
        status = str(item.get("Status") or "")
        record: dict[str, object] = {
            "ticket_id": number,
            "title": item.get("Subject") or "",
            "status": status,
            # Several requestors are an address list: rejected as one (docs/api-sources.md).
            "requester_email": ", ".join(str(r.get("EmailAddress") or "") for r in requestors),
            "requester_name": str(requestors[0].get("RealName") or "") if requestors else "",
            "resolved_at": _time(item.get("Resolved")),
            "updated_at": item.get("LastUpdated") or "",
            "team": (item.get("Queue") or {}).get("Name", "")
            if isinstance(item.get("Queue"), Mapping)
            else "",
            "resolution_note": "",
        }
        updated = _parsed(item.get("LastUpdated"))
        origin = f"RT ticket {number}"
        if status.lower() in self._resolved:
            try:
                record["resolution_note"] = self._last_answer(client, number)
            except SourceError as exc:  # the note is a nicety: the notice goes without it
                log.warning(
                    "api_note_unread", source=self.product, ticket_id=number, error=str(exc)
                )
        return ApiRecord(record, updated, origin)

    def _last_answer(self, client: ApiClient, number: str) -> str:
        """The text of the ticket's last correspondence (the technician's words), or ""."""
        history = client.get(
            f"/REST/2.0/ticket/{number}/history",
            {"fields": "Type,Created", "per_page": PAGE_SIZE, "order": "DESC"},
        )
        items = history.get("items") if isinstance(history, Mapping) else None
        answers = [
            t for t in items or () if isinstance(t, Mapping) and t.get("Type") == "Correspond"
        ]
        if not answers:
            return ""
        latest = max(answers, key=lambda t: int(str(t.get("id") or 0)))
        # The parts' types first, then the text alone: an attached file's content could be
        # megabytes of base64.
        parts = client.get(
            f"/REST/2.0/transaction/{latest.get('id')}/attachments",
            {"fields": "ContentType", "per_page": 20},
        )
        for part in (parts.get("items") if isinstance(parts, Mapping) else None) or ():
            if isinstance(part, Mapping) and str(part.get("ContentType", "")) == "text/plain":
                text = client.get(f"/REST/2.0/attachment/{part.get('id')}")
                content = text.get("Content") if isinstance(text, Mapping) else ""
                return _decoded(str(content or "")).strip()
        return ""


def _decoded(content: str) -> str:
    """``/attachment/<id>`` gives its ``Content`` in base64 (RT 5's REST2 docs); text that is
    not base64 (an older RT) is taken as it is."""
    try:
        return base64.b64decode("".join(content.split()), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return content


def _time(value: object) -> str:
    """RT writes an unset date as ``1970-01-01T00:00:00Z``: that is no date."""
    text = str(value or "")
    return "" if text.startswith("1970-01-01") else text


def _parsed(value: object) -> datetime:
    try:
        return parse_timestamp(str(value or ""))
    except ValueError:
        return from_stamp("1970-01-01T00:00:00Z")
