"""Zammad's ticket search: the tickets updated since the cursor, with their customers.

``GET /api/v1/tickets/search?query=updated_at:>="<UTC time>"&sort_by=updated_at&order_by=asc
&per_page=100&page=N&expand=true`` by change time. Search runs on Elasticsearch (its database
fallback matches words, not dates): a Zammad without it cannot be read here, use its webhooks.
``expand=true`` answers a list of tickets with the state's and group's names; the customer's
address and name come from ``GET /api/v1/users/<customer_id>`` (kept for the run). An answer
in the older ``{"tickets": [ids], "assets": {"Ticket": ..., "User": ...}}`` form is read too.

Resolved: the state *closed* (``resolved_statuses``), at ``last_close_at`` (each close's own;
``close_at`` is the first close only), as the webhook preset reads it. The note is the newest
public agent article up to the resolution (``GET /api/v1/ticket_articles/by_ticket/<id>``:
``sender`` *Agent*, not ``internal``; HTML turned into text). The ticket id is the ticket
*number*, as in Zammad's mail (``[Ticket#31042]``) and its webhook preset.

Authentication: ``Authorization: Token token=<token>`` (an agent's access token with
``ticket.agent``; ``token_file``), basic, or an OAuth2 bearer token. Sources:
docs.zammad.org/en/latest/api/ (intro: authentication, pagination ``per_page`` up to 200;
ticket: search, ``expand``; ticket/articles; user), zammad/zammad
app/controllers/tickets_controller.rb (search); tested against a local server in those shapes
(tests/integration/test_api_hosted.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notifier.core.errors import SourceError
from notifier.core.htmltext import html_to_text
from notifier.sources.api.client import ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.replies import newest_reply
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.timestamps import parse_timestamp

SEARCH = "/api/v1/tickets/search"
PAGE_SIZE = 100
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "resolution_note",
)  # fmt: skip


@dataclass
class ZammadReader(RecordReader):
    FIELDS = _FIELDS
    query: str = ""  # more search terms, ANDed ("group.name:Support")
    resolved: tuple[str, ...] = ("closed",)
    product: str = "Zammad"
    _users: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            query = f'updated_at:>="{boundary.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"'
            if self.query:
                query = f"({self.query}) AND {query}"
            answer = client.get(SEARCH, {
                "query": query, "sort_by": "updated_at", "order_by": "asc",
                "per_page": PAGE_SIZE, "page": page, "expand": "true",
            })  # fmt: skip
            return self._tickets(answer)

        def key(ticket: Mapping[str, Any]) -> tuple[datetime, str]:
            return _moment(ticket, "updated_at"), str(ticket.get("id", ""))

        for ticket in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(client, ticket)

    def probe(self, client: ApiClient) -> str:
        me = client.get("/api/v1/users/me")
        who = me.get("email") or me.get("login") if isinstance(me, Mapping) else "?"
        found = self._tickets(client.get(SEARCH, {"query": "*", "per_page": 1, "expand": "true"}))
        return f"logged in as {who}, {'a ticket is' if found else 'no ticket is'} found by search"

    def _tickets(self, answer: object) -> list[Mapping[str, Any]]:
        """The tickets of a search answer: a list (``expand``), or ids with ``assets``."""
        if isinstance(answer, list):
            return [ticket for ticket in answer if isinstance(ticket, Mapping)]
        if isinstance(answer, Mapping) and isinstance(answer.get("tickets"), list):
            assets = answer.get("assets") if isinstance(answer.get("assets"), Mapping) else {}
            assert isinstance(assets, Mapping)
            tickets = assets.get("Ticket") if isinstance(assets.get("Ticket"), Mapping) else {}
            users = assets.get("User") if isinstance(assets.get("User"), Mapping) else {}
            assert isinstance(tickets, Mapping) and isinstance(users, Mapping)
            for number, user in users.items():
                if isinstance(user, Mapping):
                    self._users.setdefault(str(number), user)
            found = (tickets.get(str(i)) for i in answer["tickets"])
            return [ticket for ticket in found if isinstance(ticket, Mapping)]
        raise SourceError("Zammad API: a search answer that is neither tickets nor ids")

    def _record(self, client: ApiClient, ticket: Mapping[str, Any]) -> ApiRecord:
        number = str(ticket.get("number") or "")
        updated = _moment(ticket, "updated_at")
        status = str(ticket.get("state") or "")
        group = ticket.get("group")
        record: dict[str, object] = {
            "ticket_id": number,
            "title": ticket.get("title") or "",
            "status": status,
            "requester_email": "",
            "requester_name": "",
            "resolved_at": ticket.get("last_close_at") or ticket.get("close_at") or "",
            "updated_at": ticket.get("updated_at") or "",
            "team": group.get("name") if isinstance(group, Mapping) else group or "",
            "resolution_note": "",
        }
        origin = f"Zammad ticket {number}"
        if self.is_resolved(status):
            try:
                customer = self._customer(client, str(ticket.get("customer_id") or ""))
                record["requester_email"] = customer.get("email") or ""
                record["requester_name"] = " ".join(
                    str(customer.get(k) or "") for k in ("firstname", "lastname")
                ).strip()
                record["resolution_note"] = self._note(
                    client, str(ticket.get("id", "")), record["resolved_at"]
                )
            except SourceError as exc:
                return ApiRecord(record, updated, origin, problem=f"cannot be read whole: {exc}")
        return ApiRecord(record, updated, origin)

    def _customer(self, client: ApiClient, user: str) -> Mapping[str, Any]:
        if user and user not in self._users:
            found = client.get(f"/api/v1/users/{user}")
            self._users[user] = found if isinstance(found, Mapping) else {}
        return self._users.get(user, {})

    def _note(self, client: ApiClient, ticket: str, resolved: object) -> str:
        """The newest public agent article up to the resolution."""
        articles = client.get(f"/api/v1/ticket_articles/by_ticket/{ticket}")
        if not isinstance(articles, list):
            raise SourceError(f"Zammad API: ticket {ticket}: articles are not a list")
        public = (
            (article.get("created_at"), _text(article))
            for article in articles
            if isinstance(article, Mapping)
            and article.get("sender") == "Agent"
            and not article.get("internal")
        )
        return newest_reply(public, resolved)


def _text(article: Mapping[str, Any]) -> str:
    body = str(article.get("body") or "")
    return html_to_text(body) if article.get("content_type") == "text/html" else body


def _moment(ticket: Mapping[str, Any], name: str) -> datetime:
    try:
        return parse_timestamp(str(ticket.get(name) or ""))
    except ValueError as exc:
        raise SourceError(f"Zammad API: ticket {ticket.get('number')}: {name}: {exc}") from exc
