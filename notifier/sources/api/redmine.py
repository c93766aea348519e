"""Redmine's REST API: the issues changed since the cursor, with the resolving journal.

``GET /issues.json?status_id=*&updated_on=>=<UTC time>&sort=updated_on`` page by page
(``offset``, ``limit``). An issue names its author by id and name only: the address comes from
``GET /users/<id>.json`` (the API key must be an administrator's to see ``mail``). For an issue
in a resolved status, ``GET /issues/<id>.json?include=journals`` gives the journal that moved
it there from an open status: its time is the resolution's (Resolved, then Closed, is one
resolution) and its notes the note; ``/issue_statuses.json`` names the status ids the journals
carry. Redmine's *Resolved* is not a closed status (``closed_on`` stays empty), so the
resolved statuses are names, ``Resolved`` and ``Closed`` by default.

Authentication: ``X-Redmine-API-Key`` (My account > API access key; *Enable REST web service*
in Administration > Settings > API) or HTTP basic. The ticket id is the issue number, as in
Redmine's mail (``X-Redmine-Issue-Id``). Sources: redmine.org/projects/redmine/wiki/Rest_Issues,
Rest_Users, Rest_IssueStatuses; checked live against Debian's Redmine 5.0.4.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifier.core.errors import SourceError
from notifier.sources.api.client import ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.mapping import normalise_status
from notifier.sources.records.timestamps import parse_timestamp

PAGE_SIZE = 100
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "resolution_note",
)  # fmt: skip


@dataclass
class RedmineReader(RecordReader):
    FIELDS = _FIELDS
    project: str = ""  # a project identifier; "" reads every project the key may see
    resolved: tuple[str, ...] = ("Resolved", "Closed")
    product: str = "Redmine"
    _mail: dict[str, str] = field(default_factory=dict)  # user id -> address, kept
    _status_names: dict[str, str] = field(default_factory=dict)

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            params: dict[str, str | int | list[str]] = {
                "status_id": "*", "updated_on": f">={boundary:%Y-%m-%dT%H:%M:%SZ}",
                "sort": "updated_on,id", "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE,
            }  # fmt: skip
            if self.project:
                params["project_id"] = self.project
            answer = client.get("/issues.json", params)
            issues = answer.get("issues") if isinstance(answer, Mapping) else None
            if not isinstance(issues, list):
                raise SourceError("Redmine API: an issue list without 'issues'")
            return [issue for issue in issues if isinstance(issue, Mapping)]

        def key(issue: Mapping[str, Any]) -> tuple[datetime, str]:
            try:
                at = parse_timestamp(str(issue.get("updated_on") or ""))
            except ValueError as exc:
                raise SourceError(
                    f"Redmine API: issue {issue.get('id')}: updated_on: {exc}"
                ) from exc
            return at, str(issue.get("id", ""))

        for issue in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(client, issue)

    def probe(self, client: ApiClient) -> str:
        me = client.get("/users/current.json")
        user = me.get("user") if isinstance(me, Mapping) else None
        admin = isinstance(user, Mapping) and bool(user.get("admin"))
        params: dict[str, str | int] = {"status_id": "*", "limit": 1}
        if self.project:
            params["project_id"] = self.project
        answer = client.get("/issues.json", params)
        total = answer.get("total_count") if isinstance(answer, Mapping) else None
        login = user.get("login") if isinstance(user, Mapping) else "?"
        warning = "" if admin else "; not an administrator: authors' addresses may be hidden"
        return f"logged in as {login}, {total} issue(s) visible{warning}"

    def _record(self, client: ApiClient, issue: Mapping[str, Any]) -> ApiRecord:
        number = str(issue.get("id", ""))
        status = _name(issue.get("status"))
        author = issue.get("author") if isinstance(issue.get("author"), Mapping) else {}
        assert isinstance(author, Mapping)
        record: dict[str, object] = {
            "ticket_id": number,
            "title": issue.get("subject") or "",
            "status": status,
            "requester_name": author.get("name") or "",
            "requester_email": "",
            "resolved_at": "",
            "updated_at": issue.get("updated_on") or "",
            "team": _name(issue.get("project")),
            "resolution_note": "",
        }
        try:
            updated = parse_timestamp(str(issue.get("updated_on") or ""))
        except ValueError as exc:
            raise SourceError(f"Redmine API: issue {number}: updated_on: {exc}") from exc
        origin = f"Redmine issue {number}"
        if self.is_resolved(status):
            try:
                record["requester_email"] = self._address(client, str(author.get("id", "")))
                record["resolved_at"], record["resolution_note"] = self._resolving(client, number)
            except SourceError as exc:  # this issue only (an author the key may not see)
                return ApiRecord(record, updated, origin, problem=f"cannot be read whole: {exc}")
        return ApiRecord(record, updated, origin)

    def _address(self, client: ApiClient, user: str) -> str:
        if user and user not in self._mail:
            answer = client.get(f"/users/{user}.json")
            found = answer.get("user") if isinstance(answer, Mapping) else None
            self._mail[user] = str(found.get("mail") or "") if isinstance(found, Mapping) else ""
        return self._mail.get(user, "")

    def _resolving(self, client: ApiClient, number: str) -> tuple[str, str]:
        """(time, notes) of the journal that moved the issue into a resolved status."""
        answer = client.get(f"/issues/{number}.json", {"include": "journals"})
        issue = answer.get("issue") if isinstance(answer, Mapping) else None
        journals = issue.get("journals") if isinstance(issue, Mapping) else None
        moment, note = "", ""
        for journal in journals or ():
            if not isinstance(journal, Mapping):
                continue
            for detail in journal.get("details") or ():
                if not isinstance(detail, Mapping) or detail.get("name") != "status_id":
                    continue
                old = self._status(client, str(detail.get("old_value") or ""))
                new = self._status(client, str(detail.get("new_value") or ""))
                if new in self._done and old not in self._done:
                    moment = str(journal.get("created_on") or "")
                    note = str(journal.get("notes") or "")
        return moment, note

    def _status(self, client: ApiClient, status_id: str) -> str:
        if not self._status_names:
            answer = client.get("/issue_statuses.json")
            for status in (
                answer.get("issue_statuses") if isinstance(answer, Mapping) else ()
            ) or ():
                if isinstance(status, Mapping):
                    self._status_names[str(status.get("id"))] = str(status.get("name") or "")
        return normalise_status(self._status_names.get(status_id, ""))


def _name(value: object) -> str:
    return str(value.get("name") or "") if isinstance(value, Mapping) else ""
