"""Freshdesk: an automation rule (*Ticket updates*, "Status is changed to Resolved") whose
action *Trigger webhook* POSTs the JSON body in :data:`PASTE`. Freshdesk signs nothing; the
webhook's *Requires authentication* with a user name and password sends HTTP basic auth,
checked here against ``user:password`` in the secret file. Freshdesk retries a failed
delivery after 5, 30 and 60 minutes, then mails the admins.

The ticket id is Freshdesk's number, as in its mail (``[#1234]``). The placeholders are
those of Freshdesk's placeholder picker; check them in your account, whose ticket fields
may be renamed.
"""

from __future__ import annotations

from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import WebhookPreset, mapping_of

PASTE = """{
  "ticket_id": "{{ticket.id}}",
  "subject": "{{ticket.subject}}",
  "status": "{{ticket.status}}",
  "requester_email": "{{ticket.requester.email}}",
  "requester_name": "{{ticket.requester.name}}",
  "group": "{{ticket.group.name}}",
  "updated_at": "{{ticket.updated_at}}",
  "latest_public_comment": "{{ticket.latest_public_comment}}"
}"""

PRESET = WebhookPreset(
    key="freshdesk",
    product="Freshdesk",
    check=Check("basic"),
    mapping=mapping_of(
        {
            "ticket_id": "ticket_id",
            "title": "subject",
            "status": "status",
            "requester_email": "requester_email",
            "requester_name": "requester_name",
            "team": "group",
            "resolved_at": "updated_at",
            "updated_at": "updated_at",
            "resolution_note": "latest_public_comment",
        },
        ("Resolved", "Closed"),
    ),
    sources="support.freshdesk.com (Automations: Trigger webhook); status words of the API",
    paste=PASTE,
)
