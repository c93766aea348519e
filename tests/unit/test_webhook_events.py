"""Webhook payloads into resolutions, reopens, updates and problems (sources.webhook.events)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifier.core.model import Ignored, InputProblem, Reopened, Resolution
from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.events import event_id_of, events_of, verdict_of
from notifier.sources.webhook.presets import PRESETS, generic

DATA = Path(__file__).resolve().parents[1] / "data" / "webhooks"
DESK = PRESETS["django-helpdesk"]
NOW = datetime(2026, 12, 3, 10, 16, tzinfo=UTC)


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text())
    return loaded


def read(body: dict[str, Any] | str, preset: Any = DESK) -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return verdict_of(preset, text, source="desk", origin="webhook event 1", received_at=NOW)


def test_a_django_helpdesk_resolving_follow_up_is_a_resolution_named_as_its_mails_name_it() -> None:
    verdict = read(payload("django-helpdesk-resolved.json"))
    assert isinstance(verdict, Resolution)
    assert verdict.ticket_id == "it-12"  # "[it-12]" in django-helpdesk's mail subjects
    assert verdict.requester_email == "anna.schmidt@example.org"
    assert verdict.title == "Printer on floor 2 is jammed"
    assert verdict.resolution_note == "I cleared the paper jam. The printer works again."
    assert verdict.resolved_at == datetime(2026, 12, 3, 10, 15, 42, 7113, tzinfo=UTC)
    assert verdict.team_hint == "it"
    assert verdict.original_message_id == "<174-1@mua.example.org>"  # opened by mail
    assert verdict.origin == "webhook event 1"


def test_closing_a_resolved_ticket_is_the_same_resolution_not_a_second_one() -> None:
    resolved = payload("django-helpdesk-resolved.json")
    closed = copy.deepcopy(resolved)
    closed["ticket"]["status"] = 4
    closed["ticket"]["followup_set"].append(
        {**resolved["ticket"]["followup_set"][1], "id": 33, "title": "Closed", "new_status": 4,
         "comment": "", "date": "2026-12-04T08:00:00Z"}
    )  # fmt: skip
    closed["followup_id"] = 33
    first, second = read(resolved), read(closed)
    assert isinstance(first, Resolution) and isinstance(second, Resolution)
    assert first.key == second.key


def test_a_reopened_ticket_is_announced_and_an_open_one_is_an_update() -> None:
    reopened = payload("django-helpdesk-resolved.json")
    reopened["ticket"]["status"] = 2
    reopened["ticket"]["followup_set"].append(
        {"id": 33, "title": "Reopened", "comment": "It jams again.", "public": True,
         "new_status": 2, "date": "2026-12-03T11:00:00Z"}
    )  # fmt: skip
    verdict = read(reopened)
    assert isinstance(verdict, Reopened) and verdict.announced
    assert (verdict.ticket_id, verdict.status) == ("it-12", "Reopened")
    assert verdict.seen_at == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert events_of(verdict, "django-helpdesk") == [verdict]

    opened = payload("django-helpdesk-resolved.json")
    opened["ticket"]["status"] = 1
    opened["ticket"]["followup_set"] = opened["ticket"]["followup_set"][:1]
    update = read(opened)
    assert isinstance(update, Reopened) and not update.announced
    reopen_check, ignored = events_of(update, "django-helpdesk")
    assert reopen_check is update
    assert isinstance(ignored, Ignored) and ignored.ticket_id == "it-12"
    assert ignored.reason == "update: django-helpdesk ticket it-12 is Open, not resolved"


def test_an_unusable_payload_is_a_problem_naming_the_event_and_what_is_wrong() -> None:
    no_submitter = payload("django-helpdesk-resolved.json")
    no_submitter["ticket"]["submitter_email"] = ""
    problem = read(no_submitter)
    assert isinstance(problem, InputProblem)
    assert problem.origin == "webhook event 1" and problem.ticket_id == "it-12"
    assert "missing requester email" in problem.reason
    assert "not JSON" in read("{nope").reason
    assert read("[1, 2]").reason == "the body is a JSON list, not an object"
    assert "not a django-helpdesk webhook payload: no 'ticket' object" in read({"x": 1}).reason


def test_the_event_id_is_the_products_own_else_a_digest_of_the_body() -> None:
    body = json.dumps(payload("django-helpdesk-resolved.json")).encode()
    assert event_id_of(DESK, {}, body) == "followup_id:32"
    assert event_id_of(DESK, {}, b'{"ticket": {}}').startswith("sha256:")
    hook = generic(Check("none"), {}, event_id_header="X-Event-Id")
    assert event_id_of(hook, {"x-event-id": "abc"}, body) == "abc"


def test_the_generic_preset_reads_dotted_paths_into_any_json() -> None:
    hook = generic(
        Check("bearer"),
        {"ticket_id": "ticket.key", "requester_email": "ticket.reporter.email",
         "status": "ticket.state", "title": "ticket.summary", "resolved_at": "ticket.done_at"},
        resolved_statuses=["Done"],
    )  # fmt: skip
    body = {"ticket": {"key": "OPS-4", "reporter": {"email": "lee@example.org"},
                       "state": "Done", "summary": "VPN", "done_at": "2026-12-03T09:00:00+01:00"}}  # fmt: skip
    verdict = read(body, hook)
    assert isinstance(verdict, Resolution)
    assert (verdict.ticket_id, verdict.requester_email) == ("OPS-4", "lee@example.org")
    assert verdict.resolved_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_a_glpi_requester_named_by_login_only_is_rejected_saying_why() -> None:
    body = payload("glpi-ticket-solved.json")
    body["item"]["team"][0]["name"] = "jdoe"
    problem = read(body, PRESETS["glpi"])
    assert isinstance(problem, InputProblem)
    assert "named by login 'jdoe', not an address" in problem.reason
    solved = read(payload("glpi-ticket-solved.json"), PRESETS["glpi"])
    assert isinstance(solved, Resolution) and solved.requester_name == "Jane Doe"
    reopened = payload("glpi-ticket-solved.json")
    reopened["item"]["status"] = {"id": 2, "name": "En cours (Attribué)"}  # translated name
    update = read(reopened, PRESETS["glpi"])
    assert isinstance(update, Reopened) and update.status == "assigned"


def test_a_zammad_ticket_closed_again_after_a_reopen_is_a_new_resolution() -> None:
    """Zammad sets ``close_at`` at the first close only; ``last_close_at`` is each close's own
    time: reading ``close_at`` would give the second resolution the first one's key."""
    first = payload("zammad-closed.json")
    again = copy.deepcopy(first)
    again["ticket"]["last_close_at"] = "2026-12-04T09:30:00.120Z"
    again["ticket"]["updated_at"] = "2026-12-04T09:30:00.200Z"
    one, two = read(first, PRESETS["zammad"]), read(again, PRESETS["zammad"])
    assert isinstance(one, Resolution) and isinstance(two, Resolution)
    assert two.resolved_at == datetime(2026, 12, 4, 9, 30, 0, 120000, tzinfo=UTC)
    assert one.key != two.key
