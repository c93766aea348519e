"""The webhook presets, one module per product (docs/webhooks.md), and the generic one.

``PRESETS`` holds the products'; :func:`generic` builds the preset of a ``preset = "generic"``
source from its settings: a field mapping into any JSON payload, and a check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets import (
    django_helpdesk,
    freshdesk,
    glpi,
    jira,
    servicenow,
    zammad,
    zendesk,
)
from notifier.sources.webhook.presets.preset import WebhookPreset, mapping_of, statuses

PRESETS: Mapping[str, WebhookPreset] = MappingProxyType(
    {
        preset.key: preset
        for preset in (
            django_helpdesk.PRESET,
            freshdesk.PRESET,
            glpi.PRESET,
            jira.PRESET,
            servicenow.PRESET,
            zammad.PRESET,
            zendesk.PRESET,
        )
    }
)
GENERIC_RESOLVED = ("resolved", "closed", "done", "solved")


def generic(
    check: Check,
    fields: Mapping[str, str],
    *,
    resolved_statuses: Sequence[str] | None = None,
    reopened_statuses: Sequence[str] = ("reopened",),
    event_id_header: str = "",
    event_id_field: str = "",
    timezone: str = "UTC",
) -> WebhookPreset:
    """A preset for any JSON payload: ``fields`` maps ticket fields to dotted paths (a field
    left out is read from a key of its own name)."""
    names = (
        "ticket_id", "requester_email", "requester_name", "title", "status", "resolved_at",
        "team", "resolution_note", "language", "original_message_id", "updated_at",
    )  # fmt: skip
    columns = {name: fields.get(name, name) for name in names} | dict(fields)
    return WebhookPreset(
        key="generic",
        product="generic JSON",
        check=check,
        mapping=mapping_of(
            columns,
            GENERIC_RESOLVED if resolved_statuses is None else resolved_statuses,
            timezone=timezone,
        ),
        event_id_header=event_id_header,
        event_id_field=event_id_field,
        reopen_statuses=statuses(*reopened_statuses),
        sources="docs/webhooks.md, 'Any other system'",
    )


__all__ = ["PRESETS", "WebhookPreset", "generic"]
