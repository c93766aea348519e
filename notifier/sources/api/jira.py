"""Jira (Cloud, Jira Service Management) by JQL: the issues updated since the cursor.

``GET /rest/api/2/search/jql?jql=updated >= "<yyyy-MM-dd HH:mm>" ORDER BY updated ASC, key ASC``
with the fields read named in ``fields`` (the default is ``id`` only), page after page by
``nextPageToken`` until none is given (``isLast``). The old ``/rest/api/2/search`` (``startAt``)
answers ``410 Gone`` on Cloud; Jira Data Center has only that one, and is read by it when
``search/jql`` is not found (``404``). JQL dates have minute precision and are read in the
account's own time zone (``GET /rest/api/2/myself``: ``timeZone``): the cursor is turned into
that zone and cut to its minute, so a poll reads the cursor's minute again (keys dedupe).

A status in the *done* category is resolved, at ``resolutiondate`` (Jira clears it on a
reopen, and sets it anew on the next resolution; the webhook preset keys on it too). The note
is the newest **public** comment up to the resolution (``jsdPublic`` false is Jira Service
Management's internal note, never told to the requester); search carries at most 20 comments,
so an issue with more asks ``/rest/api/2/issue/<key>/comment?orderBy=-created``. Version 2 is
read because its comment bodies are text (version 3 gives Atlassian Document Format). The
requester is the reporter: Cloud leaves ``emailAddress`` out when the profile hides it, and
that resolution is rejected naming the issue.

Authentication: an account's address and an API token (basic auth), or an OAuth 2.0 access
token (bearer). Rate limits: ``429`` with ``Retry-After``. Sources:
developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/ (search/jql,
nextPageToken, fields), /api-group-myself/, /api-group-issue-comments/, changelog CHANGE-2046
(the old search removed); tested against a local server in those shapes
(tests/integration/test_api_hosted.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notifier.core.errors import SourceError
from notifier.sources.api.client import ApiClient, ApiStatusError
from notifier.sources.api.replies import newest_reply
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.rows import value_at
from notifier.sources.records.timestamps import parse_timestamp

SEARCH = "/rest/api/2/search/jql"
OLD_SEARCH = "/rest/api/2/search"  # Data Center
PAGE_SIZE = 100
MAX_PAGES = 100  # one poll reads at most this many pages; the next goes on from the cursor
_READ = "summary,status,reporter,resolutiondate,updated,project,comment"
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "resolution_note",
)  # fmt: skip


@dataclass
class JiraReader(RecordReader):
    FIELDS = _FIELDS
    query: str = ""  # more JQL, such as "project = HELP"
    resolved: tuple[str, ...] = ("done",)  # "done" is the status category
    product: str = "Jira"
    _zone: tzinfo | None = None
    _search: str = SEARCH

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        zone = self._account_zone(client)
        local = since.astimezone(zone)
        jql = f'updated >= "{local:%Y-%m-%d %H:%M}"'
        if self.query:
            jql += f" AND ({self.query})"
        jql += " ORDER BY updated ASC, key ASC"
        for issue in self._pages(client, jql):
            yield self._record(client, issue)

    def probe(self, client: ApiClient) -> str:
        me = self._myself(client)
        zone = self._account_zone(client)
        found = next(iter(self._pages(client, "ORDER BY updated DESC", limit=1)), None)
        seen = "an issue is visible" if found else "no issue is visible"
        hidden = ""
        if found is not None and not value_at(found, "fields", "reporter", "emailAddress"):
            hidden = "; its reporter's address is hidden (profile visibility)"
        who = me.get("emailAddress") or me.get("displayName") or "?"
        return f"logged in as {who} (time zone {zone}), {seen}{hidden}"

    def _pages(
        self, client: ApiClient, jql: str, *, limit: int = PAGE_SIZE
    ) -> Iterator[Mapping[str, Any]]:
        params: dict[str, str | int | list[str]] = {
            "jql": jql, "fields": _READ, "maxResults": limit,
        }  # fmt: skip
        start = 0  # Data Center: how many were read; it may answer fewer than asked for
        for _ in range(MAX_PAGES):
            if self._search == OLD_SEARCH:
                params["startAt"] = start
            try:
                answer = client.get(self._search, params)
            except ApiStatusError as exc:
                if exc.status != 404 or self._search == OLD_SEARCH:
                    raise
                self._search = OLD_SEARCH  # Jira Data Center: no search/jql
                params["startAt"] = 0
                answer = client.get(self._search, params)
            issues = answer.get("issues") if isinstance(answer, Mapping) else None
            if not isinstance(issues, list):
                raise SourceError("Jira API: a search answer without 'issues'")
            yield from (issue for issue in issues if isinstance(issue, Mapping))
            if limit < PAGE_SIZE or not issues:
                return
            if self._search == OLD_SEARCH:
                start += len(issues)
                total = answer.get("total")
                if not isinstance(total, int) or start >= total:
                    return
                continue
            after = answer.get("nextPageToken")
            if not after or answer.get("isLast") is True:
                return
            params["nextPageToken"] = str(after)

    def _record(self, client: ApiClient, issue: Mapping[str, Any]) -> ApiRecord:
        key = str(issue.get("key") or "")
        fields = issue.get("fields") if isinstance(issue.get("fields"), Mapping) else {}
        assert isinstance(fields, Mapping)
        category = value_at(fields, "status", "statusCategory", "key")
        status = "done" if category == "done" else str(value_at(fields, "status", "name") or "")
        origin = f"Jira issue {key}"
        try:
            updated = parse_timestamp(str(fields.get("updated") or ""))
        except ValueError as exc:
            raise SourceError(f"Jira API: {key}: updated: {exc}") from exc
        record: dict[str, object] = {
            "ticket_id": key,
            "title": fields.get("summary") or "",
            "status": status,
            "requester_email": value_at(fields, "reporter", "emailAddress") or "",
            "requester_name": value_at(fields, "reporter", "displayName") or "",
            "resolved_at": fields.get("resolutiondate") or "",
            "updated_at": fields.get("updated") or "",
            "team": value_at(fields, "project", "name") or "",
            "resolution_note": "",
        }
        if self.is_resolved(status):
            try:
                record["resolution_note"] = self._note(client, key, fields)
            except SourceError as exc:
                return ApiRecord(record, updated, origin, problem=f"cannot be read whole: {exc}")
        return ApiRecord(record, updated, origin)

    def _note(self, client: ApiClient, key: str, fields: Mapping[str, Any]) -> str:
        """The newest public comment made up to the resolution."""
        block = fields.get("comment") if isinstance(fields.get("comment"), Mapping) else {}
        assert isinstance(block, Mapping)
        comments = block.get("comments") if isinstance(block.get("comments"), list) else []
        assert isinstance(comments, list)
        total = block.get("total")
        if isinstance(total, int) and total > len(comments):
            answer = client.get(
                f"/rest/api/2/issue/{key}/comment", {"orderBy": "-created", "maxResults": 50}
            )
            found = answer.get("comments") if isinstance(answer, Mapping) else None
            comments = list(reversed(found)) if isinstance(found, list) else comments
        public = (
            (comment.get("created"), comment["body"])
            for comment in comments
            if isinstance(comment, Mapping)
            and comment.get("jsdPublic") is not False  # JSM's internal notes are False
            and isinstance(comment.get("body"), str)
        )
        return newest_reply(public, fields.get("resolutiondate"))

    def _account_zone(self, client: ApiClient) -> tzinfo:
        if self._zone is None:
            name = str(self._myself(client).get("timeZone") or "UTC")
            try:
                self._zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise SourceError(f"Jira API: the account's time zone {name!r} is unknown") from exc
        return self._zone

    def _myself(self, client: ApiClient) -> Mapping[str, Any]:
        me = client.get("/rest/api/2/myself")
        if not isinstance(me, Mapping):
            raise SourceError("Jira API: /myself is not an object")
        return me
