"""Jira (Cloud and Data Center) admin webhooks with a secret: ``X-Hub-Signature`` is
``sha256=`` and the hex HMAC-SHA256 of the raw body; ``X-Atlassian-Webhook-Identifier`` names
the event and is kept across retries. The payload of ``jira:issue_updated`` carries the issue
(``issue.key``, ``issue.fields.status`` with its ``statusCategory``, ``reporter``,
``resolutiondate``), the ``changelog`` and, for a comment, ``comment``.

A status in the *done* category is resolved; the issue key is the ticket id, as in Jira's mail.
On Jira Cloud the reporter's ``emailAddress`` is left out when their profile hides it: the
event is then rejected as "missing requester email" (docs/webhooks.md).

Sources: confluence.atlassian.com/adminjiraserver/managing-webhooks-938846912.html,
developer.atlassian.com/cloud/jira/platform/webhooks/ (secure admin webhooks, retry policy).
"""

from __future__ import annotations

from collections.abc import Mapping

from notifier.sources.records.rows import value_at
from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import Payload, WebhookPreset, mapping_of


def prepare(payload: Payload) -> Payload:
    issue = payload.get("issue")
    if not isinstance(issue, Mapping) or not issue.get("key"):
        raise ValueError("no 'issue' with a 'key'")
    category = value_at(issue, "fields", "status", "statusCategory", "key")
    status = value_at(issue, "fields", "status", "name") or ""
    comment = payload.get("comment")
    note = comment.get("body") if isinstance(comment, Mapping) else ""
    return {
        **payload,
        "status": "done" if category == "done" else str(status),
        "note": note or "",
    }


PRESET = WebhookPreset(
    key="jira",
    product="Jira",
    check=Check("hmac", header="X-Hub-Signature", prefix="sha256="),
    mapping=mapping_of(
        {
            "ticket_id": "issue.key",
            "title": "issue.fields.summary",
            "status": "status",
            "requester_email": "issue.fields.reporter.emailAddress",
            "requester_name": "issue.fields.reporter.displayName",
            "team": "issue.fields.project.name",
            "resolved_at": ("issue.fields.resolutiondate", "issue.fields.updated"),
            "updated_at": "issue.fields.updated",
            "resolution_note": "note",
        },
        ("done",),
    ),
    event_id_header="X-Atlassian-Webhook-Identifier",
    prepare=prepare,
    sources="developer.atlassian.com/cloud/jira/platform/webhooks/; managing-webhooks-938846912",
)
