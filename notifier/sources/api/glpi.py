"""GLPI's REST API (``apirest.php``, GLPI 9.5 and 10): the tickets modified since the cursor.

A session first: ``GET /initSession`` with ``Authorization: user_token <token>`` (or basic)
and, when the API client asks for one, ``App-Token``; every later request carries the
``Session-Token`` it gave (:class:`GlpiSession`, which logs in again once when GLPI answers
``401`` to an expired session) and ``GET /killSession`` ends it. Then ``GET /search/Ticket``
with the criterion *Last update* (search option 19) ``morethan`` the cursor less a second
(``morethan`` is strict), sorted on it, ``range=0-99`` page by page, the columns named by
``forcedisplay``: 2 id, 1 title, 12 status, 19 last update, 17 resolution date, 80 entity.
GLPI's dates carry no zone: they are its server's local time (``timezone`` names it).

Status 5 *solved* and 6 *closed* are resolved (``resolved_statuses``), at ``solvedate``
(GLPI clears it when a ticket leaves solved and closed, and sets it anew at the next
solution: solved then closed is one resolution, reopened and solved again a second). The
requester is the ticket's actor of type 1 (``/Ticket/<id>/Ticket_User``): the address it was
given (``alternative_email``) or the user's default one (``/User/<id>/UserEmail``), the name
and language from ``/User/<id>``. The note is the newest solution not refused
(``/Ticket/<id>/ITILSolution``, HTML turned into text; ``X-GLPI-Sanitized-Content: false``
asks GLPI 10 for it unescaped). The ticket id is GLPI's number, as its webhook preset reads it.

Sources: glpi-project/glpi ``apirest.md`` (initSession, killSession, search, sub-items,
``Content-Range``), ``src/Api/API.php`` (searchItems), ``src/CommonITILObject.php`` (search
options, statuses, ``solvedate`` cleared on a reopen); tested against a local server in those
shapes (tests/integration/test_api_hosted.py).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import httpx

from notifier.core.errors import SourceError
from notifier.core.htmltext import html_to_text
from notifier.sources.api.client import ApiAuth, ApiClient
from notifier.sources.api.paging import changed_since
from notifier.sources.api.source import ApiRecord, RecordReader
from notifier.sources.records.timestamps import parse_timestamp

PAGE_SIZE = 100
STATUS_NAMES = {1: "new", 2: "assigned", 3: "planned", 4: "waiting", 5: "solved", 6: "closed"}
REQUESTER = 1  # Ticket_User.type
REFUSED_SOLUTION = 4  # ITILSolution.status (2 waiting for approval, 3 accepted)
# Search options of Ticket (CommonITILObject::rawSearchOptions).
ID, TITLE, STATUS, UPDATED, SOLVED, ENTITY = "2", "1", "12", "19", "17", "80"
_FIELDS = (
    "ticket_id", "title", "status", "requester_email", "requester_name", "resolved_at",
    "updated_at", "team", "resolution_note", "language",
)  # fmt: skip


class GlpiSession(httpx.Auth):
    """GLPI's session: ``initSession`` with the credentials before the first request, the
    ``Session-Token`` on every request, one new session when GLPI says it has ended."""

    requires_response_body = True

    def __init__(self, base_url: str, login: Mapping[str, str], app_token: str = "") -> None:
        self._url = base_url.rstrip("/") + "/initSession"
        self._login = dict(login)
        self._app = {"App-Token": app_token} if app_token else {}
        self.token = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._app)
        request.headers["X-GLPI-Sanitized-Content"] = "false"
        if not self.token:
            yield from self._start()
        request.headers["Session-Token"] = self.token
        answer = yield request
        if answer.status_code == 401 and b"SESSION_TOKEN" in answer.content:
            yield from self._start()
            request.headers["Session-Token"] = self.token
            yield request

    def _start(self) -> Generator[httpx.Request, httpx.Response, None]:
        answer = yield httpx.Request("GET", self._url, headers={**self._login, **self._app})
        try:
            found = answer.json()
        except ValueError:
            found = None
        token = found.get("session_token") if isinstance(found, Mapping) else None
        if answer.status_code != 200 or not token:
            # GLPI's errors are [code, message]: ERROR_GLPI_LOGIN_USER_TOKEN, ...
            said = ": ".join(str(p) for p in found) if isinstance(found, list) else ""
            raise SourceError(
                f"GLPI API initSession: {answer.status_code}: {said or 'no session_token'}"
            )
        self.token = str(token)


def session_auth(base_url: str, auth: ApiAuth, app_token: str = "") -> ApiAuth:
    """The API client's login for GLPI: ``auth`` (a user token or basic) goes to initSession
    only; the rest of the requests carry the session."""
    if auth.kind == "basic":
        pair = base64.b64encode(f"{auth.user}:{auth.secret}".encode()).decode()
        login = {"Authorization": f"Basic {pair}"}
    else:
        login = auth.headers()
    return ApiAuth(
        "session", flow=GlpiSession(base_url, login, app_token), logout_path="/killSession"
    )


@dataclass
class GlpiReader(RecordReader):
    FIELDS = _FIELDS
    resolved: tuple[str, ...] = ("solved", "closed")
    zone: tzinfo | None = None  # GLPI's server time zone (its dates carry none); None: UTC
    product: str = "GLPI"
    _users: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def changed(self, client: ApiClient, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        def fetch(boundary: datetime, page: int) -> list[Mapping[str, Any]]:
            local = self._local(boundary - timedelta(seconds=1))  # morethan is strict
            first = (page - 1) * PAGE_SIZE
            return self._search(client, {
                "criteria[0][field]": UPDATED, "criteria[0][searchtype]": "morethan",
                "criteria[0][value]": f"{local:%Y-%m-%d %H:%M:%S}",
                "sort": UPDATED, "order": "ASC", "range": f"{first}-{first + PAGE_SIZE - 1}",
            })  # fmt: skip

        def key(row: Mapping[str, Any]) -> tuple[datetime, str]:
            return self._moment(row, UPDATED), str(row.get(ID, ""))

        for row in changed_since(fetch, since, key, PAGE_SIZE):
            yield self._record(client, row)

    def probe(self, client: ApiClient) -> str:
        session = client.get("/getFullSession")
        inner = session.get("session") if isinstance(session, Mapping) else None
        who = inner.get("glpiname") if isinstance(inner, Mapping) else "?"
        found = self._search(client, {"range": "0-0"})
        return f"logged in as {who}, {'a ticket is' if found else 'no ticket is'} visible"

    def _search(self, client: ApiClient, params: dict[str, str]) -> list[Mapping[str, Any]]:
        shown = {f"forcedisplay[{n}]": o for n, o in enumerate((ID, TITLE, STATUS, UPDATED, SOLVED, ENTITY))}  # fmt: skip
        answer = client.get("/search/Ticket", {**params, **shown})
        if not isinstance(answer, Mapping):
            raise SourceError("GLPI API: a search answer that is not an object")
        rows = answer.get("data") or []  # GLPI leaves "data" out when nothing matches
        if not isinstance(rows, list):
            raise SourceError("GLPI API: a search answer whose 'data' is not a list")
        return [row for row in rows if isinstance(row, Mapping)]

    def _record(self, client: ApiClient, row: Mapping[str, Any]) -> ApiRecord:
        number = str(row.get(ID, ""))
        code = row.get(STATUS)
        status = STATUS_NAMES.get(code, str(code)) if isinstance(code, int) else str(code or "")
        updated = self._moment(row, UPDATED)
        solved = self._moment(row, SOLVED) if row.get(SOLVED) else None
        record: dict[str, object] = {
            "ticket_id": number,
            "title": html.unescape(str(row.get(TITLE) or "")),
            "status": status,
            "requester_email": "",
            "requester_name": "",
            "resolved_at": solved.isoformat() if solved else "",
            "updated_at": updated.isoformat(),
            "team": html.unescape(str(row.get(ENTITY) or "")),
            "resolution_note": "",
            "language": "",
        }
        origin = f"GLPI ticket {number}"
        if self.is_resolved(status):
            try:
                record.update(self._requester(client, number))
                record["resolution_note"] = self._note(client, number)
            except SourceError as exc:
                return ApiRecord(record, updated, origin, problem=f"cannot be read whole: {exc}")
        return ApiRecord(record, updated, origin)

    def _requester(self, client: ApiClient, number: str) -> dict[str, str]:
        actors = client.get(f"/Ticket/{number}/Ticket_User")
        if not isinstance(actors, list):
            raise SourceError(f"GLPI API: ticket {number}: Ticket_User is not a list")
        addresses, names, languages = [], [], []
        for actor in actors:
            if not isinstance(actor, Mapping) or actor.get("type") != REQUESTER:
                continue
            user = str(actor.get("users_id") or "0")
            person = self._user(client, user) if user != "0" else {}
            address = str(actor.get("alternative_email") or "") or self._address(client, user)
            addresses.append(address)
            names.append(
                " ".join(str(person.get(k) or "") for k in ("firstname", "realname")).strip()
            )
            languages.append(str(person.get("language") or ""))
        # Several requesters are an address list, which the mapping rejects by name.
        return {
            "requester_email": ", ".join(a for a in addresses if a),
            "requester_name": names[0] if len(names) == 1 else "",
            "language": languages[0].replace("_", "-") if len(languages) == 1 else "",
        }

    def _user(self, client: ApiClient, user: str) -> Mapping[str, Any]:
        if user not in self._users:
            found = client.get(f"/User/{user}")
            self._users[user] = found if isinstance(found, Mapping) else {}
        return self._users[user]

    def _address(self, client: ApiClient, user: str) -> str:
        if user == "0":
            return ""
        emails = client.get(f"/User/{user}/UserEmail")
        if not isinstance(emails, list):
            return ""
        ranked = sorted(
            (e for e in emails if isinstance(e, Mapping) and e.get("email")),
            key=lambda e: not e.get("is_default"),
        )
        return str(ranked[0]["email"]) if ranked else ""

    def _note(self, client: ApiClient, number: str) -> str:
        solutions = client.get(f"/Ticket/{number}/ITILSolution")
        if not isinstance(solutions, list):
            return ""
        kept = [
            s for s in solutions if isinstance(s, Mapping) and s.get("status") != REFUSED_SOLUTION
        ]
        if not kept:
            return ""
        newest = max(kept, key=lambda s: (str(s.get("date_creation") or ""), int(s.get("id") or 0)))
        content = str(newest.get("content") or "")
        if "&#60;" in content or "&lt;" in content:  # GLPI 10's stored form, when sent as is
            content = html.unescape(content)
        return html_to_text(content)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone) if self.zone else moment

    def _moment(self, row: Mapping[str, Any], option: str) -> datetime:
        text = str(row.get(option) or "")
        try:
            return parse_timestamp(text, default_tz=self.zone or UTC)
        except ValueError as exc:
            raise SourceError(f"GLPI API: ticket {row.get(ID)}: option {option}: {exc}") from exc
