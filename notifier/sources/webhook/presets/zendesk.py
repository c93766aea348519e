"""Zendesk: a webhook connected to a trigger (``Ticket > Status category changed to Solved``,
and one for a reopen), with the JSON body in :data:`PASTE`. Zendesk signs every request:
``X-Zendesk-Webhook-Signature`` is the base64 HMAC-SHA256 of the
``X-Zendesk-Webhook-Signature-Timestamp`` value (ISO 8601) followed by the raw body, keyed with
the webhook's signing secret; ``X-Zendesk-Webhook-Invocation-Id`` names the invocation.

Sources: developer.zendesk.com/documentation/webhooks/verifying/,
.../webhooks/anatomy-of-a-webhook-request/, support.zendesk.com/hc/en-us/articles/4408886858138
(placeholders). The ticket id is Zendesk's number, as in its mail (``#1234``).
"""

from __future__ import annotations

from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import WebhookPreset, mapping_of

# The trigger's "Notify by > Active webhook" JSON body.
PASTE = """{
  "ticket": {
    "id": "{{ticket.id}}",
    "title": "{{ticket.title}}",
    "status": "{{ticket.status}}",
    "requester_email": "{{ticket.requester.email}}",
    "requester_name": "{{ticket.requester.name}}",
    "group": "{{ticket.group.name}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}",
    "latest_public_comment": "{{ticket.latest_public_comment}}"
  }
}"""

PRESET = WebhookPreset(
    key="zendesk",
    product="Zendesk",
    check=Check(
        "hmac",
        header="X-Zendesk-Webhook-Signature",
        encoding="base64",
        signed="timestamp+body",
        timestamp_header="X-Zendesk-Webhook-Signature-Timestamp",
        timestamp_format="iso",
    ),
    mapping=mapping_of(
        {
            "ticket_id": "ticket.id",
            "title": "ticket.title",
            "status": "ticket.status",
            "requester_email": "ticket.requester_email",
            "requester_name": "ticket.requester_name",
            "team": "ticket.group",
            "resolved_at": "ticket.updated_at",
            "updated_at": "ticket.updated_at",
            "resolution_note": "ticket.latest_public_comment",
        },
        ("Solved", "Closed"),
    ),
    event_id_header="X-Zendesk-Webhook-Invocation-Id",
    sources="developer.zendesk.com/documentation/webhooks/verifying/; anatomy-of-a-webhook-request",
    paste=PASTE,
)
