"""ServiceNow's Table API: the incidents updated since the cursor, with display values.

``GET /api/now/table/incident?sysparm_query=sys_updated_on>=<UTC time>^ORDERBYsys_updated_on
^ORDERBYsys_id`` with ``sysparm_display_value=all`` (each field an object of ``value`` and
``display_value``), the fields read named in ``sysparm_fields`` (the caller's address
dot-walked: ``caller_id.email``), page by page (``sysparm_limit``, ``sysparm_offset``) by change
time. A plain date in an encoded query is read as UTC (``gs.dateGenerate`` would be the
account's own zone), and ``value`` dates are UTC whatever the account's zone and format; the
display values (the state's *Resolved*, the group's name) are read for the words.

Resolved: the state's display value, *Resolved* or *Closed* (``resolved_statuses``), at
``resolved_at`` (Resolved, then Closed, is one resolution; a reopen clears it). The note is
``close_notes``; the requester is the caller, in their ``preferred_language``; the team is the
assignment group. The ticket id is the incident number (``INC0010002``), as in ServiceNow's
mail and its webhook preset. ``query`` adds an encoded query (``assignment_group.name=Service
Desk``); a misspelt field in it is silently ignored by ServiceNow unless the instance sets
``glide.invalid_query.returns_no_rows``.

Authentication: basic (a user with the ``itil`` role, or a read ACL on the fields above) or
OAuth2 (``oauth2``: ``/oauth_token.do``, client credentials from the Washington DC release).
Rate limits: ``429`` with ``Retry-After``. Sources: docs.servicenow.com "Table API" (GET
/now/table/{tableName}), "Inbound REST API rate limiting", "OAuth API request parameters";
tested against a local server in those shapes (tests/integration/test_api_hosted.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifier.core.errors import SourceError
from notifier.sources.api.client import ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.timestamps import parse_timestamp

TABLE = "/api/now/table/incident"
PAGE_SIZE = 100
_READ = (
    "number,sys_id,short_description,state,resolved_at,sys_updated_on,caller_id,"
    "caller_id.email,caller_id.name,caller_id.preferred_language,close_notes,assignment_group"
)
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "resolution_note", "language",
)  # fmt: skip


@dataclass
class ServiceNowReader(RecordReader):
    FIELDS = _FIELDS
    query: str = ""  # more encoded query, ANDed
    resolved: tuple[str, ...] = ("Resolved", "Closed")
    product: str = "ServiceNow"

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            query = f"sys_updated_on>={boundary.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
            if self.query:
                query = f"{self.query}^{query}"
            answer = client.get(TABLE, {
                "sysparm_query": f"{query}^ORDERBYsys_updated_on^ORDERBYsys_id",
                "sysparm_display_value": "all", "sysparm_exclude_reference_link": "true",
                "sysparm_fields": _READ, "sysparm_limit": PAGE_SIZE,
                "sysparm_offset": (page - 1) * PAGE_SIZE,
            })  # fmt: skip
            return _result(answer)

        def key(incident: Mapping[str, Any]) -> tuple[datetime, str]:
            return _updated(incident), _value(incident, "sys_id")

        for incident in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(incident)

    def probe(self, client: ApiClient) -> str:
        found = _result(client.get(TABLE, {
            "sysparm_limit": 1, "sysparm_fields": "number,caller_id.email",
            "sysparm_display_value": "all", "sysparm_query": "ORDERBYDESCsys_updated_on",
        }))  # fmt: skip
        if not found:
            return "no incident is visible"
        if not _value(found[0], "caller_id.email"):
            return "an incident is visible; its caller's address is empty or not readable"
        return "an incident is visible, with its caller's address"

    def _record(self, incident: Mapping[str, Any]) -> ApiRecord:
        number = _shown(incident, "number")
        updated = _updated(incident)
        record: dict[str, object] = {
            "ticket_id": number,
            "title": _shown(incident, "short_description"),
            "status": _shown(incident, "state"),
            "requester_email": _value(incident, "caller_id.email"),
            "requester_name": _shown(incident, "caller_id.name") or _shown(incident, "caller_id"),
            "resolved_at": _utc(incident, "resolved_at"),
            "updated_at": updated.isoformat(),
            "team": _shown(incident, "assignment_group"),
            "resolution_note": _shown(incident, "close_notes"),
            "language": _value(incident, "caller_id.preferred_language"),
        }
        return ApiRecord(record, updated, f"ServiceNow incident {number}")


def _result(answer: object) -> list[Mapping[str, Any]]:
    found = answer.get("result") if isinstance(answer, Mapping) else None
    if not isinstance(found, list):
        raise SourceError("ServiceNow API: a table answer without 'result'")
    return [item for item in found if isinstance(item, Mapping)]


def _part(incident: Mapping[str, Any], name: str, part: str) -> str:
    """One part (``value`` or ``display_value``) of a field read with display values "all";
    a field given as a plain string (display values off) is both."""
    item = incident.get(name)
    if isinstance(item, Mapping):
        return str(item.get(part) or "")
    return "" if item is None else str(item)


def _value(incident: Mapping[str, Any], name: str) -> str:
    return _part(incident, name, "value")


def _shown(incident: Mapping[str, Any], name: str) -> str:
    return _part(incident, name, "display_value")


def _utc(incident: Mapping[str, Any], name: str) -> str:
    """A date's ``value`` (``2026-12-03 10:20:00``, always UTC) in ISO form, or ""."""
    text = _value(incident, name)
    return f"{text.replace(' ', 'T')}Z" if text else ""


def _updated(incident: Mapping[str, Any]) -> datetime:
    try:
        return parse_timestamp(_utc(incident, "sys_updated_on"))
    except ValueError as exc:
        number = _shown(incident, "number")
        raise SourceError(f"ServiceNow API: incident {number}: sys_updated_on: {exc}") from exc
