"""From a routed resolution to a notice: the template context, rendering and threading headers.

Pure apart from the compiled templates it is handed. Everything the requester will read is
fixed here, at queue time, so every retry sends the same words with the same Message-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifier.delivery.message import message_id_for, thread_reference_for
from notifier.model import Notice, Resolution
from notifier.render import Renderer


@dataclass(frozen=True, slots=True)
class TeamProfile:
    """What a team configured about how its notices look and where replies go."""

    name: str
    display_name: str
    reply_to: str = ""


def first_name(full_name: str) -> str:
    """A greeting name: 'Doe, Jane' and 'Jane Doe' both give 'Jane'."""
    name = full_name.strip()
    if "," in name:
        name = name.split(",", 1)[1].strip()
    return name.split()[0] if name.split() else ""


def template_context(resolution: Resolution, team: TeamProfile) -> dict[str, Any]:
    """The variables a template sees; docs/templates.md lists them."""
    return {
        "ticket": {
            "id": resolution.ticket_id,
            "title": resolution.title,
            "status": resolution.status,
            "resolved_at": resolution.resolved_at,
            "resolution_note": resolution.resolution_note,
            "language": resolution.language,
            "source": resolution.source,
            "fields": dict(resolution.fields),
        },
        "requester": {
            "name": resolution.requester_name,
            "first_name": first_name(resolution.requester_name),
            "email": resolution.requester_email,
        },
        "team": {
            "name": team.name,
            "display_name": team.display_name,
            "reply_to": team.reply_to,
        },
    }


def compose(
    resolution: Resolution, team: TeamProfile, renderer: Renderer, *, domain: str
) -> Notice:
    """Render the notice for one resolution; TemplateError when the team's template fails."""
    rendered = renderer.render(team.name, template_context(resolution, team))
    original = resolution.original_message_id.strip()
    if original:
        in_reply_to, references = original, (original,)
    else:
        in_reply_to = ""
        references = (thread_reference_for(resolution.source, resolution.ticket_id, domain),)
    return Notice(
        resolution_key=resolution.key,
        ticket_id=resolution.ticket_id,
        source=resolution.source,
        team=team.name,
        to_email=resolution.requester_email,
        to_name=resolution.requester_name,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id_for(resolution.key, domain),
        in_reply_to=in_reply_to,
        references=references,
        reply_to=team.reply_to,
        template=f"{rendered.template}@{rendered.template_version}",
    )
