"""The hosted products' APIs read by an API source built from its configuration, each against
a local server answering in the product's documented shapes:

* Jira Cloud: ``GET /rest/api/2/search/jql`` (``jql``, ``fields``, ``maxResults``,
  ``nextPageToken``, ``isLast``; ``fields.status.statusCategory.key``, ``resolutiondate``,
  ``reporter.emailAddress`` left out by profile visibility, ``comment.comments[].jsdPublic``),
  ``GET /rest/api/2/myself`` (``timeZone``): developer.atlassian.com/cloud/jira/platform/rest/v2/
  api-group-issue-search/, api-group-myself/; JQL dates are minutes in the account's zone;
* ServiceNow: ``GET /api/now/table/incident`` (``sysparm_query`` with ``^ORDERBY``,
  ``sysparm_display_value=all``: every field ``{"display_value", "value"}``, dot-walked
  ``caller_id.email``, ``sysparm_limit``/``sysparm_offset``; ``{"result": [...]}``, ``Link`` and
  ``X-Total-Count``): docs.servicenow.com Table API; values are UTC;
* Freshdesk: ``GET /api/v2/tickets`` (``updated_since``, ``order_by``, ``order_type``,
  ``per_page``, ``page``, ``include=requester,stats``; statuses 2 Open .. 5 Closed; a list, a
  ``Link`` header while there is a next page), ``/api/v2/tickets/<id>/conversations``
  (``private``, ``incoming``, ``body_text``): developers.freshdesk.com/api/;
* Zammad: ``GET /api/v1/tickets/search`` (``query``, ``sort_by``, ``order_by``, ``per_page``,
  ``page``, ``expand=true``: a list with the ``state`` name; ``last_close_at``),
  ``/api/v1/users/<id>``, ``/api/v1/ticket_articles/by_ticket/<id>`` (``sender``,
  ``internal``, ``content_type``): docs.zammad.org/en/latest/api/.

Each one, with one server state: a new ticket is no notice; a resolved one is one notice to
its requester with the public reply (never the internal note); read again: none; reopened
and resolved again: a second; one whose requester's address is hidden: rejected, naming it.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.compose import TeamProfile
from notifier.core.policy import RetryPolicy
from notifier.core.render import Renderer
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.runtime.bootstrap import build_api_source
from notifier.runtime.config import ApiSettings
from notifier.service import DeliveryLimits, Service
from notifier.store.sqlite.outbox import Outbox
from tests.api_server import Answer, ApiServerFactory, Asked
from tests.smtp_server import SmtpServerFactory

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
TOKEN = "api-t0ken-5e3"
ANN = ("Ann Lee", "ann.lee@example.org")
BO = ("Bo Chen", "bo.chen@example.org")
HIDDEN = ("Cy Park", "")


@dataclass
class Reply:
    at: datetime
    text: str
    public: bool = True
    by_agent: bool = True


@dataclass
class Ticket:
    number: int
    title: str
    requester: tuple[str, str]
    updated: datetime
    resolved: datetime | None = None  # None: open
    replies: list[Reply] = field(default_factory=list)
    closes: list[datetime] = field(default_factory=list)


class Desk:
    """The tickets one product serves; the test changes them as technicians would."""

    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}

    def open(self, number: int, title: str, requester: tuple[str, str], at: datetime) -> None:
        self.tickets[number] = Ticket(number, title, requester, at)
        self.tickets[number].replies.append(Reply(at, "It is broken.", by_agent=False))

    def resolve(self, number: int, note: str, at: datetime) -> None:
        ticket = self.tickets[number]
        ticket.replies.append(Reply(at - timedelta(seconds=40), note))
        # Newer than the public reply: a reader that took any newest reply would tell it.
        ticket.replies.append(Reply(at - timedelta(seconds=5), "Internal: root cause X.", False))
        ticket.resolved, ticket.updated = at, at
        ticket.closes.append(at)

    def reopen(self, number: int, at: datetime) -> None:
        ticket = self.tickets[number]
        ticket.replies.append(Reply(at, "It broke again.", by_agent=False))
        ticket.resolved, ticket.updated = None, at

    def changed_since(self, since: datetime) -> list[Ticket]:
        return sorted(
            (t for t in self.tickets.values() if t.updated >= since),
            key=lambda t: (t.updated, t.number),
        )


def _basic(asked: Asked) -> tuple[str, str]:
    user, _, password = (
        base64.b64decode(asked.headers.get("authorization", "Basic ")[6:]).decode().partition(":")
    )
    return user, password


def _refused() -> Answer:
    return Answer(401, {"error": "authentication failed"})


# -- Jira Cloud ----------------------------------------------------------------------------

JIRA_ZONE = ZoneInfo("Europe/Berlin")


def jira(desk: Desk) -> Callable[[Asked], Answer]:
    def handle(asked: Asked) -> Answer:
        if _basic(asked) != ("agent@example.org", TOKEN):
            return _refused()
        if asked.path == "/rest/api/2/myself":
            return Answer(200, {"accountId": "5b10a2", "emailAddress": "agent@example.org",
                                "displayName": "Agent", "timeZone": "Europe/Berlin"})  # fmt: skip
        assert asked.path == "/rest/api/2/search/jql", asked.path
        jql = asked.one("jql")
        if jql == "ORDER BY updated DESC":  # check-config --connect: the newest one
            return Answer(200, {"issues": [_jira_issue(t) for t in desk.tickets.values()][-1:],
                                "isLast": True})  # fmt: skip
        assert asked.one("fields") and " ORDER BY updated ASC" in jql
        minute = jql.split('updated >= "')[1][:16]  # the account's zone, to the minute
        since = datetime.strptime(minute, "%Y-%m-%d %H:%M").replace(tzinfo=JIRA_ZONE)
        found = desk.changed_since(since)
        start = int(asked.one("nextPageToken") or 0)
        size = min(int(asked.one("maxResults")), 2)  # Jira may answer fewer than asked
        page = found[start : start + size]
        body: dict[str, Any] = {"issues": [_jira_issue(t) for t in page],
                                "isLast": start + size >= len(found)}  # fmt: skip
        if not body["isLast"]:
            body["nextPageToken"] = str(start + size)
        return Answer(200, body)

    return handle


def _jira_time(at: datetime) -> str:
    return at.astimezone(JIRA_ZONE).strftime("%Y-%m-%dT%H:%M:%S.000%z")


def _jira_issue(t: Ticket) -> dict[str, Any]:
    done = t.resolved is not None
    reporter: dict[str, Any] = {"accountId": f"acc-{t.number}", "displayName": t.requester[0]}
    if t.requester[1]:
        reporter["emailAddress"] = t.requester[1]
    return {"id": str(10000 + t.number), "key": f"HELP-{t.number}", "fields": {
        "summary": t.title,
        "status": {"name": "Done" if done else "In Progress",
                   "statusCategory": {"key": "done" if done else "indeterminate"}},
        "resolutiondate": _jira_time(t.resolved) if t.resolved else None,
        "updated": _jira_time(t.updated), "project": {"key": "HELP", "name": "Help Desk"},
        "reporter": reporter,
        "comment": {"comments": [{"id": str(n), "body": r.text, "created": _jira_time(r.at),
                                  "jsdPublic": r.public} for n, r in enumerate(t.replies)],
                    "maxResults": len(t.replies), "total": len(t.replies), "startAt": 0},
    }}  # fmt: skip


# -- ServiceNow ----------------------------------------------------------------------------


def servicenow(desk: Desk) -> Callable[[Asked], Answer]:
    def handle(asked: Asked) -> Answer:
        if asked.headers.get("authorization") != f"Bearer {TOKEN}":
            return _refused()
        assert asked.path == "/api/now/table/incident"
        assert asked.one("sysparm_display_value") == "all"
        query = asked.one("sysparm_query")
        if query == "ORDERBYDESCsys_updated_on":  # check-config --connect: the newest one
            return Answer(200, {"result": [_incident(t) for t in desk.tickets.values()][-1:]})
        assert query.endswith("^ORDERBYsys_updated_on^ORDERBYsys_id"), query
        since = datetime.strptime(query.split("sys_updated_on>=")[1][:19], "%Y-%m-%d %H:%M:%S")
        found = desk.changed_since(since.replace(tzinfo=UTC))
        offset, limit = int(asked.one("sysparm_offset")), int(asked.one("sysparm_limit"))
        page = found[offset : offset + limit]
        return Answer(200, {"result": [_incident(t) for t in page]},
                      {"X-Total-Count": str(len(found))})  # fmt: skip

    return handle


def _both(value: str, shown: str | None = None) -> dict[str, str]:
    return {"display_value": value if shown is None else shown, "value": value}


def _sn_time(at: datetime | None) -> dict[str, str]:
    if at is None:
        return _both("")
    value = at.strftime("%Y-%m-%d %H:%M:%S")  # UTC; the display value is the account's zone
    return _both(
        value, at.astimezone(ZoneInfo("America/New_York")).strftime("%m/%d/%Y %I:%M:%S %p")
    )


def _incident(t: Ticket) -> dict[str, Any]:
    public = [r for r in t.replies if r.public and r.by_agent]
    return {
        "number": _both(f"INC00100{t.number:02d}"), "sys_id": _both(f"a1b2c3{t.number:026d}"),
        "short_description": _both(t.title),
        "state": _both("6", "Resolved") if t.resolved else _both("2", "In Progress"),
        "resolved_at": _sn_time(t.resolved), "sys_updated_on": _sn_time(t.updated),
        "caller_id": _both(f"6816f79c{t.number:024d}", t.requester[0]),
        "caller_id.email": _both(t.requester[1]), "caller_id.name": _both(t.requester[0]),
        "caller_id.preferred_language": _both("en", "English"),
        "close_notes": _both(public[-1].text if t.resolved and public else ""),
        "assignment_group": _both("477a05d153013010b846ddeeff7b1225", "Service Desk"),
    }  # fmt: skip


# -- Freshdesk -----------------------------------------------------------------------------


def freshdesk(desk: Desk) -> Callable[[Asked], Answer]:
    def handle(asked: Asked) -> Answer:
        if _basic(asked) != (TOKEN, "X"):
            return Answer(401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})  # fmt: skip
        limits = {"X-RateLimit-Total": "400", "X-RateLimit-Remaining": "399",
                  "X-RateLimit-Used-CurrentRequest": "3"}  # fmt: skip
        if asked.path == "/api/v2/agents/me":
            return Answer(200, {"id": 77, "available": True, "occasional": False,
                                "contact": {"name": "Agent", "email": "agent@example.org"}})  # fmt: skip
        if asked.path.endswith("/conversations"):
            t = desk.tickets[int(asked.path.split("/")[4])]
            return Answer(200, [{"id": n, "body": f"<div>{r.text}</div>", "body_text": r.text,
                                 "incoming": not r.by_agent, "private": not r.public,
                                 "user_id": 77 if r.by_agent else 5000 + t.number,
                                 "source": 0, "ticket_id": t.number,
                                 "created_at": _iso(r.at), "updated_at": _iso(r.at)}
                                for n, r in enumerate(t.replies)], limits)  # fmt: skip
        assert asked.path == "/api/v2/tickets"
        assert (asked.one("order_by"), asked.one("order_type")) == ("updated_at", "asc")
        assert asked.one("include") == "requester,stats"
        since = datetime.strptime(asked.one("updated_since"), "%Y-%m-%dT%H:%M:%SZ")
        found = desk.changed_since(since.replace(tzinfo=UTC))
        size, page = int(asked.one("per_page")), int(asked.one("page"))
        chunk = found[(page - 1) * size : page * size]
        if page * size < len(found):
            limits["Link"] = (
                f'<https://example.freshdesk.com/api/v2/tickets?page={page + 1}>; rel="next"'
            )
        return Answer(200, [_fd_ticket(t) for t in chunk], limits)

    return handle


def _iso(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def _fd_ticket(t: Ticket) -> dict[str, Any]:
    return {"id": t.number, "subject": t.title, "status": 4 if t.resolved else 2,
            "priority": 1, "requester_id": 5000 + t.number, "created_at": _iso(t.replies[0].at),
            "updated_at": _iso(t.updated),
            "requester": {"id": 5000 + t.number, "name": t.requester[0],
                          "email": t.requester[1] or None, "mobile": None, "phone": None},
            "stats": {"resolved_at": _iso(t.resolved), "closed_at": None,
                      "first_responded_at": _iso(t.replies[0].at)}}  # fmt: skip


# -- Zammad --------------------------------------------------------------------------------


def zammad(desk: Desk) -> Callable[[Asked], Answer]:
    def handle(asked: Asked) -> Answer:
        if asked.headers.get("authorization") != f"Token token={TOKEN}":
            return Answer(401, {"error": "authentication failed"})
        parts = asked.path.split("/")
        if asked.path == "/api/v1/users/me":
            return Answer(200, {"id": 3, "login": "agent", "email": "agent@example.org"})
        if asked.path.startswith("/api/v1/users/"):
            t = desk.tickets[int(parts[4]) - 100]
            first, _, last = t.requester[0].partition(" ")
            return Answer(200, {"id": 100 + t.number, "login": f"user{t.number}",
                                "firstname": first, "lastname": last,
                                "email": t.requester[1]})  # fmt: skip
        if asked.path.startswith("/api/v1/ticket_articles/by_ticket/"):
            t = desk.tickets[int(parts[5])]
            return Answer(200, [{"id": n, "ticket_id": t.number, "internal": not r.public,
                                 "sender": "Agent" if r.by_agent else "Customer",
                                 "content_type": "text/html", "body": f"<p>{r.text}</p>",
                                 "created_at": _zammad_time(r.at)}
                                for n, r in enumerate(t.replies)])  # fmt: skip
        assert asked.path == "/api/v1/tickets/search"
        query = asked.one("query")
        if query == "*":
            found = list(desk.tickets.values())
        else:
            assert (asked.one("sort_by"), asked.one("order_by"), asked.one("expand")) == (
                "updated_at", "asc", "true")  # fmt: skip
            since = datetime.strptime(query.split('updated_at:>="')[1][:19], "%Y-%m-%dT%H:%M:%S")
            found = desk.changed_since(since.replace(tzinfo=UTC))
        size, page = int(asked.one("per_page")), int(asked.one("page") or 1)
        return Answer(200, [_zammad_ticket(t) for t in found[(page - 1) * size : page * size]])

    return handle


def _zammad_time(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%S.123Z") if at else None


def _zammad_ticket(t: Ticket) -> dict[str, Any]:
    return {"id": t.number, "number": f"310{t.number:02d}", "title": t.title, "group_id": 1,
            "state_id": 4 if t.resolved else 2, "customer_id": 100 + t.number,
            "updated_at": _zammad_time(t.updated),
            "close_at": _zammad_time(t.closes[0]) if t.closes else None,
            "last_close_at": _zammad_time(t.closes[-1]) if t.resolved else None,
            "group": "Users", "state": "closed" if t.resolved else "open",
            "customer": f"user{t.number}"}  # fmt: skip


# -- GLPI ----------------------------------------------------------------------------------

GLPI_ZONE = ZoneInfo("Europe/Paris")  # its server's zone: the API's dates carry none
APP_TOKEN = "glpi-app-t0ken"


def glpi(desk: Desk) -> Callable[[Asked], Answer]:
    sessions: dict[str, int] = {}  # session token -> requests left before it ends

    def handle(asked: Asked) -> Answer:
        path = asked.path.removeprefix("/apirest.php")
        if asked.headers.get("app-token") != APP_TOKEN:
            return Answer(400, ["ERROR_WRONG_APP_TOKEN_PARAMETER", "parameter app_token seems wrong"])  # fmt: skip
        if path == "/initSession":
            if asked.headers.get("authorization") != f"user_token {TOKEN}":
                return Answer(401, ["ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid"])  # fmt: skip
            token = f"s{len(sessions) + 1}"
            sessions[token] = 25  # then it ends, as an idle PHP session does
            return Answer(200, {"session_token": token})
        token = asked.headers.get("session-token", "")
        if sessions.get(token, 0) <= 0:
            return Answer(401, ["ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid"])
        sessions[token] -= 1
        if path == "/killSession":
            sessions[token] = 0
            return Answer(200, {})
        if path == "/getFullSession":
            return Answer(200, {"session": {"glpiID": 7, "glpiname": "notifier"}})
        parts = path.split("/")
        if path == "/search/Ticket":
            return _glpi_search(desk, asked)
        if parts[1] == "User" and len(parts) == 3:
            t = desk.tickets[int(parts[2]) - 100]
            first, _, last = t.requester[0].partition(" ")
            return Answer(200, {"id": 100 + t.number, "name": f"user{t.number}",
                                "firstname": first, "realname": last, "language": "fr_FR"})  # fmt: skip
        if parts[1] == "User" and parts[3] == "UserEmail":
            t = desk.tickets[int(parts[2]) - 100]
            found = [{"id": t.number, "users_id": 100 + t.number, "email": t.requester[1],
                      "is_default": 1, "is_dynamic": 0}] if t.requester[1] else []  # fmt: skip
            return Answer(200, found)
        t = desk.tickets[int(parts[2])]
        if parts[3] == "Ticket_User":
            return Answer(200, [
                {"id": 1, "tickets_id": t.number, "users_id": 100 + t.number, "type": 1,
                 "use_notification": 1, "alternative_email": ""},
                {"id": 2, "tickets_id": t.number, "users_id": 7, "type": 2,
                 "use_notification": 1, "alternative_email": ""},
            ])  # fmt: skip
        assert parts[3] == "ITILSolution", path
        raw = asked.headers.get("x-glpi-sanitized-content") == "false"
        solutions = [r for r in t.replies[1:] if r.public and r.by_agent]
        return Answer(200, [{"id": n, "itemtype": "Ticket", "items_id": t.number, "status": 3,
                             "content": f"<p>{r.text}</p>" if raw else f"&#60;p&#62;{r.text}&#60;/p&#62;",
                             "date_creation": _glpi_time(r.at)}
                            for n, r in enumerate(solutions)])  # fmt: skip

    return handle


def _glpi_time(at: datetime | None) -> str | None:
    return at.astimezone(GLPI_ZONE).strftime("%Y-%m-%d %H:%M:%S") if at else None


def _glpi_search(desk: Desk, asked: Asked) -> Answer:
    if asked.one("range") == "0-0":  # check-config --connect
        rows = list(desk.tickets.values())[:1]
        return Answer(200, {"totalcount": len(desk.tickets), "count": len(rows),
                            "data": [{"2": t.number} for t in rows]})  # fmt: skip
    assert (asked.one("criteria[0][field]"), asked.one("criteria[0][searchtype]")) == (
        "19", "morethan")  # fmt: skip
    assert (asked.one("sort"), asked.one("order")) == ("19", "ASC")
    since = datetime.strptime(asked.one("criteria[0][value]"), "%Y-%m-%d %H:%M:%S")
    after = since.replace(tzinfo=GLPI_ZONE)
    found = [t for t in desk.changed_since(after) if t.updated > after]  # morethan is strict
    first, last = (int(n) for n in asked.one("range").split("-"))
    rows = found[first : last + 1]
    if not found:  # GLPI leaves "data" out, and answers 200
        return Answer(200, {"totalcount": 0, "count": 0, "sort": 19, "order": "ASC",
                            "content-range": "0--1/0"})  # fmt: skip
    body = {"totalcount": len(found), "count": len(rows), "sort": 19, "order": "ASC",
            "data": [{"2": t.number, "1": t.title, "12": 5 if t.resolved else 2,
                      "19": _glpi_time(t.updated), "17": _glpi_time(t.resolved),
                      "80": "Root entity &#62; IT"} for t in rows],
            "content-range": f"{first}-{first + len(rows) - 1}/{len(found)}"}  # fmt: skip
    partial = len(rows) < len(found)
    return Answer(206 if partial else 200, body,
                  {"Content-Range": body["content-range"], "Accept-Range": "Ticket 1000"})  # fmt: skip


@dataclass(frozen=True)
class Product:
    key: str
    handler: Callable[[Desk], Callable[[Asked], Answer]]
    login: dict[str, str]  # the [[api]] keys that log in
    ticket_id: Callable[[int], str]
    probed: str  # what check-config --connect says
    path: str = ""  # the API's path under the server's address


PRODUCTS = [
    Product("jira", jira, {"username": "agent@example.org", "password_file": "secret"},
            lambda n: f"HELP-{n}",
            "logged in as agent@example.org (time zone Europe/Berlin), an issue is visible"),
    Product("servicenow", servicenow, {"token_file": "secret"}, lambda n: f"INC00100{n:02d}",
            "an incident is visible, with its caller's address"),
    Product("freshdesk", freshdesk, {"token_file": "secret"}, str,
            "logged in as agent@example.org"),
    Product("glpi", glpi, {"token_file": "secret", "app_token_file": "app-secret",
                           "timezone": "Europe/Paris"}, str,
            "logged in as notifier, a ticket is visible", "/apirest.php"),
    Product("zammad", zammad, {"token_file": "secret"}, lambda n: f"310{n:02d}",
            "logged in as agent@example.org, a ticket is found by search"),
]  # fmt: skip


@pytest.mark.parametrize("product", PRODUCTS, ids=[p.key for p in PRODUCTS])
def test_a_hosted_products_api_tells_each_resolution_once_with_its_public_reply(
    tmp_path: Path, api_server: ApiServerFactory, smtp_server: SmtpServerFactory, product: Product
) -> None:
    desk = Desk()
    server = api_server(product.handler(desk))
    (tmp_path / "secret").write_text(TOKEN + "\n")
    (tmp_path / "app-secret").write_text(APP_TOKEN)
    settings = ApiSettings.model_validate(
        {"name": "desk", "product": product.key, "url": server.url + product.path,
         **{k: str(tmp_path / v) if k.endswith("_file") else v for k, v in product.login.items()}}
    )  # fmt: skip
    outbox = Outbox.open(tmp_path / "state")
    source = build_api_source(settings, outbox)
    sink = smtp_server()
    clock = [NOW]
    service = Service(
        sources=[source], outbox=outbox, renderer=Renderer.load(ROOT / "templates"), routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=SmtpSender(SmtpOptions(host=sink.host, port=sink.port, security="plain",
                                      timeout=5, from_address="it@example.org"), lambda: clock[0]),
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(), domain="example.org", clock=lambda: clock[0],
        rng=random.Random(1),
    )  # fmt: skip
    minute = timedelta(minutes=1)
    try:
        assert service.run_pass().seen == 0  # the first start: from now on
        desk.open(1, "Printer on floor 2 is jammed", ANN, NOW + minute)
        desk.open(2, "VPN drops every hour", BO, NOW + 2 * minute)
        desk.open(3, "Mouse is broken", HIDDEN, NOW + 2 * minute)
        for n in range(4, 9):  # more than one page on the products that answer few
            desk.open(n, f"Request {n}", ANN, NOW + 3 * minute)
        clock[0] = NOW + 4 * minute
        report = service.run_pass()
        assert (report.seen, report.sent) == (0, 0), report
        desk.resolve(2, "I renewed your VPN certificate. It stays connected now.", NOW + 5 * minute)
        desk.resolve(3, "I gave you a new mouse.", NOW + 5 * minute)
        clock[0] = NOW + 6 * minute
        report = service.run_pass()
        assert (report.sent, report.rejected) == (1, 1), report
        assert [m.rcpt_tos for m in sink.messages] == [(BO[1],)]
        body = sink.messages[0].message.get_body(preferencelist=("plain",))
        assert body is not None
        assert "I renewed your VPN certificate." in body.get_content()
        assert "root cause" not in body.get_content()  # the internal note is never told
        (rejected,) = outbox.audit_records(AuditQuery(outcome="rejected"))
        assert rejected.ticket_id == product.ticket_id(3)
        assert "requester" in rejected.reason, rejected.reason

        clock[0] = NOW + 7 * minute
        report = service.run_pass()  # the overlap reads them again
        assert report.sent == 0 and len(sink.messages) == 1, report

        desk.reopen(2, NOW + 8 * minute)
        clock[0] = NOW + 9 * minute
        service.run_pass()
        desk.resolve(2, "I replaced your network cable. The VPN holds now.", NOW + 10 * minute)
        clock[0] = NOW + 11 * minute
        report = service.run_pass()
        assert [m.rcpt_tos for m in sink.messages] == [(BO[1],), (BO[1],)], report
        second = sink.messages[1].message.get_body(preferencelist=("plain",))
        assert second is not None and "network cable" in second.get_content()
        (sent, _) = outbox.audit_records(AuditQuery(outcome="sent"))
        assert sent.ticket_id == product.ticket_id(2)
        assert product.probed in source.check()  # check-config --connect
    finally:
        source.close()
        outbox.close()
    if product.key == "glpi":  # its sessions end: a new one is opened, and the last closed
        searched = [a for a in server.asked if a.path.endswith("/search/Ticket")]
        # The cursor (NOW) less the overlap (5 min) less a second (morethan is strict), in
        # the server's own zone: no ticket of the boundary's second is passed over.
        assert searched[0].one("criteria[0][value]") == "2026-12-03 10:54:59"
        paths = [a.path for a in server.asked]
        assert (
            paths.count("/apirest.php/initSession") >= 2 and paths[-1] == "/apirest.php/killSession"
        )


def test_jira_asks_in_the_accounts_time_zone_to_the_minute(api_server: ApiServerFactory) -> None:
    """JQL reads "updated >= ..." in the account's zone, to the minute: the cursor (less the
    overlap) is turned into it and cut, never sent as UTC."""
    from notifier.sources.api.client import ApiAuth, ApiClient
    from notifier.sources.api.jira import JiraReader

    desk = Desk()
    server = api_server(jira(desk))
    client = ApiClient("Jira", server.url, ApiAuth("basic", TOKEN, user="agent@example.org"))
    list(
        JiraReader(query="project = HELP").changed(
            client, datetime(2026, 12, 3, 9, 58, 31, tzinfo=UTC)
        )
    )
    searched = [a for a in server.asked if a.path.endswith("/search/jql")]
    assert searched[0].one("jql") == (
        'updated >= "2026-12-03 10:58" AND (project = HELP) ORDER BY updated ASC, key ASC'
    )


def test_jira_data_center_is_read_by_the_search_it_has(api_server: ApiServerFactory) -> None:
    """Data Center has no ``search/jql`` (404): the reader goes on with ``/rest/api/2/search``
    and ``startAt``, to ``total``."""
    from notifier.sources.api.client import ApiAuth, ApiClient
    from notifier.sources.api.jira import JiraReader

    desk = Desk()
    for n in range(1, 6):
        desk.open(n, f"Request {n}", ANN, NOW + timedelta(minutes=n))
    cloud = jira(desk)

    def data_center(asked: Asked) -> Answer:
        if asked.path == "/rest/api/2/search/jql":
            return Answer(404, {"errorMessages": ["null for uri"]})
        if asked.path == "/rest/api/2/search":
            start, size = int(asked.one("startAt")), 2
            found = [_jira_issue(t) for t in desk.changed_since(NOW)]
            return Answer(200, {"startAt": start, "maxResults": size, "total": len(found),
                                "issues": found[start : start + size]})  # fmt: skip
        return cloud(asked)

    server = api_server(data_center)
    client = ApiClient("Jira", server.url, ApiAuth("basic", TOKEN, user="agent@example.org"))
    reader = JiraReader()
    reader_pages = [r.record["ticket_id"] for r in reader.changed(client, NOW)]
    assert reader_pages == [f"HELP-{n}" for n in range(1, 6)]
    starts = [a.one("startAt") for a in server.asked if a.path == "/rest/api/2/search"]
    assert starts == ["0", "2", "4"]
