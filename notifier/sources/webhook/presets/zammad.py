"""Zammad trigger webhooks: ``X-Hub-Signature`` is ``sha1=`` and the hex HMAC-SHA1 of the raw
body, keyed with the webhook's *HMAC SHA1 Signature Token* (``lib/user_agent.rb``,
``set_signature``); ``X-Zammad-Delivery`` is the job's id, the same on each of its retries
(``app/jobs/trigger_webhook_job.rb``). The default payload is ``{"ticket": ..., "article": ...}``
(``app/models/webhook/record_payload*``): the ticket with its ``number``, ``title``, ``state``
(a name), ``group`` and ``customer`` (``email``, ``firstname``, ``lastname``); the article
that triggered it, HTML in ``body``.

The ticket id is the ticket *number*, as in Zammad's mail (``[Ticket#10081]``); the state
*closed* is resolved; a public agent article is the note.
"""

from __future__ import annotations

from collections.abc import Mapping

from notifier.core.htmltext import html_to_text
from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import Payload, WebhookPreset, mapping_of


def prepare(payload: Payload) -> Payload:
    ticket = payload.get("ticket")
    if not isinstance(ticket, Mapping) or not ticket.get("number"):
        raise ValueError("no 'ticket' with a 'number'")
    customer = ticket.get("customer") if isinstance(ticket.get("customer"), Mapping) else {}
    assert isinstance(customer, Mapping)
    name = " ".join(str(customer.get(k) or "") for k in ("firstname", "lastname")).strip()
    article = payload.get("article") if isinstance(payload.get("article"), Mapping) else {}
    assert isinstance(article, Mapping)
    note = ""
    if article.get("sender") == "Agent" and not article.get("internal"):
        body = str(article.get("body") or "")
        note = html_to_text(body) if article.get("content_type") == "text/html" else body
    group = ticket.get("group")
    return {
        **payload,
        "customer_name": name,
        "group_name": group.get("name") if isinstance(group, Mapping) else group or "",
        "note": note,
    }


PRESET = WebhookPreset(
    key="zammad",
    product="Zammad",
    check=Check("hmac", header="X-Hub-Signature", algorithm="sha1", prefix="sha1="),
    mapping=mapping_of(
        {
            "ticket_id": "ticket.number",
            "title": "ticket.title",
            "status": "ticket.state",
            "requester_email": "ticket.customer.email",
            "requester_name": "customer_name",
            "team": "group_name",
            # close_at is the first close only; last_close_at each close's own (Zammad 6).
            "resolved_at": ("ticket.last_close_at", "ticket.close_at", "ticket.updated_at"),
            "updated_at": "ticket.updated_at",
            "resolution_note": "note",
        },
        ("closed",),
    ),
    event_id_header="X-Zammad-Delivery",
    prepare=prepare,
    sources=(
        "zammad/zammad lib/user_agent.rb (set_signature), app/jobs/trigger_webhook_job.rb, "
        "app/models/webhook/record_payload/ticket.rb; zammad-admin-documentation "
        "manage/webhook/payload.rst"
    ),
)
