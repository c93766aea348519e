"""Roundup's REST API: the issues changed since the cursor, with the message that resolved them.

``GET <tracker>/rest/data/issue?activity=<UTC time>;&@sort=activity,id`` page by page
(``@page_size``, ``@page_index``), with the fields read named in ``@fields``, the requester's
through the issue's ``creator`` (``creator.address``, ``creator.realname``). Roundup's REST API
has no history, so the resolution's time is that of the issue's newest message (Roundup mails a
change only with a message, and its classic ``statusauditor`` turns a resolved issue back to
*chatting* when a new one comes): edits without a message, such as a nosy change, leave the
resolution as it was. That message (``GET /rest/data/msg/<id>?@verbose=3``: only a verbose
read shows its ``content``) is the note, unless the requester wrote it; the first message's
``messageid`` is her own mail when she opened the issue by mail, and the notice answers it.

Authentication: HTTP basic (a Roundup user's name and password) or a bearer token where the
tracker issues JWTs. The account must see users' ``address``: in the classic schema only the
*Admin* role does (others' reads silently leave it out: ``check-config --connect`` says so).
Dates are UTC when the account's *Timezone* is empty. The ticket id is the issue's
designator, ``issue42``, as Roundup's mail and its preset name it (one key for both). Sources:
Roundup 2.6's ``doc/rest.txt`` (Searching, Sorting, Pagination, ``@fields``, ``@verbose``);
checked live (tests/live/test_roundup_api.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from notifier.core.errors import ConfigError, SourceError
from notifier.sources.api.client import ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.timestamps import parse_timestamp

ISSUES = "/rest/data/issue"
PAGE_SIZE = 100
_READ = "title,status.name,creator,creator.address,creator.realname,activity,messages"
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "resolution_note", "original_message_id",
)  # fmt: skip


@dataclass
class RoundupReader(RecordReader):
    FIELDS = _FIELDS
    # More search terms, as a query string of Roundup field names ("keyword=network").
    query: str = ""
    resolved: tuple[str, ...] = ("resolved",)
    product: str = "Roundup"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._terms = parse_qsl(self.query, keep_blank_values=True)
        for name, _ in self._terms:
            if not name or name.startswith("@") or name == "activity":
                raise ConfigError(f"Roundup query term {name!r} is set by notifier itself")

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            params: dict[str, str | int | list[str]] = {
                "activity": f"{boundary.astimezone(UTC):%Y-%m-%d.%H:%M:%S};",
                "@sort": "activity,id", "@fields": _READ,
                "@page_size": PAGE_SIZE, "@page_index": page,
            }  # fmt: skip
            params.update(self._terms)
            answer = client.get(ISSUES, params)
            data = answer.get("data") if isinstance(answer, Mapping) else None
            issues = data.get("collection") if isinstance(data, Mapping) else None
            if not isinstance(issues, list):
                raise SourceError("Roundup API: an issue list without data.collection")
            return [issue for issue in issues if isinstance(issue, Mapping)]

        def key(issue: Mapping[str, Any]) -> tuple[datetime, str]:
            return _activity(issue), str(issue.get("id", ""))

        for issue in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(client, issue)

    def probe(self, client: ApiClient) -> str:
        answer = client.get(ISSUES, {"@fields": "creator.address", "@page_size": 1})
        data = answer.get("data") if isinstance(answer, Mapping) else None
        if not isinstance(data, Mapping):
            raise SourceError("Roundup API: an issue list without data")
        seen = f"{data.get('@total_size', '?')} issue(s) visible"
        first = data.get("collection") or []
        if first and isinstance(first[0], Mapping) and "creator.address" not in first[0]:
            return seen + "; users' addresses are hidden from this account: give it the Admin role"
        return seen

    def _record(self, client: ApiClient, issue: Mapping[str, Any]) -> ApiRecord:
        number = f"issue{issue.get('id', '')}"  # Roundup's designator, as its mail names it
        status = str(issue.get("status.name") or "")
        updated = _activity(issue)
        record: dict[str, object] = {
            "ticket_id": number,
            "title": issue.get("title") or "",
            "status": status,
            "requester_email": issue.get("creator.address") or "",
            "requester_name": issue.get("creator.realname") or "",
            "resolved_at": "",
            "updated_at": updated.isoformat(),
            "resolution_note": "",
            "original_message_id": "",
        }
        origin = f"Roundup {number}"
        if self.is_resolved(status):
            try:
                record.update(self._resolving(client, issue))
            except SourceError as exc:  # this issue only (a message the account may not see)
                return ApiRecord(record, updated, origin, problem=f"cannot be read whole: {exc}")
        return ApiRecord(record, updated, origin)

    def _resolving(self, client: ApiClient, issue: Mapping[str, Any]) -> dict[str, str]:
        """The resolution's time and note: the newest message's (the issue's activity when it
        has none; no note when the requester wrote it); and the first message's Message-ID,
        the requester's own mail when she opened the issue by mail: the notice answers it."""
        ids = sorted(
            int(m["id"])
            for m in issue.get("messages") or ()
            if isinstance(m, Mapping) and str(m.get("id", "")).isdigit()
        )
        if not ids:
            return {"resolved_at": _activity(issue).isoformat()}
        newest = _message(client, ids[-1])
        first = newest if len(ids) == 1 else _message(client, ids[0], "messageid")
        author, creator = newest.get("author"), issue.get("creator")
        by_requester = (
            isinstance(author, Mapping)
            and isinstance(creator, Mapping)
            and author.get("id") == creator.get("id")
        )
        return {
            "resolved_at": _moment(newest, "date", f"msg {ids[-1]}").isoformat(),
            "resolution_note": "" if by_requester else str(newest.get("content") or ""),
            "original_message_id": str(first.get("messageid") or ""),
        }


def _message(client: ApiClient, number: int, fields: str = "") -> Mapping[str, Any]:
    """One message's attributes: all of them, its content too (only a verbose read shows
    it), or only ``fields``."""
    params: dict[str, str | int | list[str]] = {"@fields": fields} if fields else {"@verbose": 3}
    answer = client.get(f"/rest/data/msg/{number}", params)
    data = answer.get("data") if isinstance(answer, Mapping) else None
    message = data.get("attributes") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise SourceError(f"Roundup API: msg {number} without attributes")
    return message


def _activity(issue: Mapping[str, Any]) -> datetime:
    return _moment(issue, "activity", f"issue {issue.get('id')}")


def _moment(item: Mapping[str, Any], name: str, where: str) -> datetime:
    """A Roundup date (``2026-12-03.13:51:38``, UTC, seconds maybe with a fraction)."""
    text = str(item.get(name) or "")
    iso = f"{text[:10]}T{text[11:]}" if text[10:11] == "." else text
    try:
        return parse_timestamp(iso)
    except ValueError as exc:
        raise SourceError(f"Roundup API: {where}: {name}: {exc}") from exc
