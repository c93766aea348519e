"""django-helpdesk's webhooks (``helpdesk/webhooks.py``): on every follow-up it POSTs
``{"ticket": <TicketSerializer>, "queue_slug": ..., "followup_id": ...}`` to each URL in
``HELPDESK_FOLLOWUP_WEBHOOK_URLS`` (and ``{"ticket": ..., "queue_slug": ...}`` for a new
ticket to ``HELPDESK_NEW_TICKET_WEBHOOK_URLS``), with no signature and no header of its own:
the URL must carry the secret (``?token=``). Statuses are numbers (``helpdesk/settings.py``):
1 Open, 2 Reopened, 3 Resolved, 4 Closed, 5 Duplicate.

The ticket id is ``<queue slug>-<id>``, as in django-helpdesk's mail subjects, so a webhook and
the mail preset name one ticket alike. The resolution's time is that of the follow-up that
moved the ticket into Resolved or Closed (a later Resolved -> Closed is the same resolution);
its note is that follow-up's public comment, else the ticket's ``resolution``.
"""

from __future__ import annotations

from collections.abc import Mapping

from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import Payload, WebhookPreset, mapping_of, statuses

STATUS_WORDS = {1: "Open", 2: "Reopened", 3: "Resolved", 4: "Closed", 5: "Duplicate"}
_DONE = frozenset({3, 4})


def _number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def prepare(payload: Payload) -> Payload:
    ticket = payload.get("ticket")
    if not isinstance(ticket, Mapping):
        raise ValueError("no 'ticket' object: not a django-helpdesk webhook")
    slug, number = payload.get("queue_slug"), ticket.get("id")
    if not isinstance(slug, str) or not slug or _number(number) is None:
        raise ValueError("no 'queue_slug' and ticket 'id' to name the ticket by")
    status = _number(ticket.get("status"))
    followups = [f for f in ticket.get("followup_set") or () if isinstance(f, Mapping)]
    followups.sort(key=lambda f: _number(f.get("id")) or 0)
    resolving: Mapping[str, object] | None = None
    was_done = False
    for followup in followups:
        new = _number(followup.get("new_status"))
        if new is None:
            continue
        if new in _DONE and not was_done:
            resolving = followup
        was_done = new in _DONE
    note = ""
    if resolving is not None and resolving.get("public") and resolving.get("comment"):
        note = str(resolving.get("comment"))
    record: dict[str, object] = {
        "ticket_id": f"{slug}-{number}",
        "status": STATUS_WORDS.get(status, str(status)) if status is not None else "",
        "requester_email": ticket.get("submitter_email") or "",
        "title": ticket.get("title") or "",
        "team": slug,
        "resolved_at": (resolving or {}).get("date") or "",
        "updated_at": followups[-1].get("date") if followups else "",
        "resolution_note": note or ticket.get("resolution") or "",
        # The requester's own mail, when the ticket was opened by mail: the notice threads
        # under it as django-helpdesk's own replies do.
        "original_message_id": (followups[0].get("message_id") or "") if followups else "",
    }
    return record


_FIELDS = (
    "ticket_id", "status", "requester_email", "title", "team", "resolved_at", "updated_at",
    "resolution_note", "original_message_id",
)  # fmt: skip

PRESET = WebhookPreset(
    key="django-helpdesk",
    product="django-helpdesk",
    check=Check("query"),
    mapping=mapping_of({name: name for name in _FIELDS}, ("Resolved", "Closed")),
    event_id_field="followup_id",
    prepare=prepare,
    reopen_statuses=statuses("Reopened"),
    sources=(
        "django-helpdesk/django-helpdesk src/helpdesk/webhooks.py (notify_followup_webhooks, "
        "send_new_ticket_webhook), src/helpdesk/serializers.py (TicketSerializer, "
        "FollowUpSerializer), src/helpdesk/settings.py (statuses); tested live "
        "(tests/live/test_django_helpdesk_webhooks.py)"
    ),
)
