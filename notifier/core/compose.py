"""From a routed resolution to a notice: the template context, rendering and threading headers.

Pure apart from the compiled templates it is handed. Everything the requester will read is
fixed here, at queue time, so every retry sends the same words with the same Message-ID.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from notifier.core.marks import unmarked
from notifier.core.message_ids import message_id_for, thread_reference_for
from notifier.core.model import Notice, Resolution
from notifier.core.names import person_name
from notifier.core.render import DIGEST, Renderer
from notifier.core.review import PolicyMode, Review, review
from notifier.core.rules import DEFAULT_TEAM, NoticeRules
from notifier.plain import Gate


@functools.cache
def default_gate() -> Gate:
    """The gate with built-in settings, built once (compiling it is the expensive part)."""
    return Gate()


@dataclass(frozen=True, slots=True)
class TeamProfile:
    """What a team configured: how its notices look, where replies go, how plain they must be."""

    name: str
    display_name: str
    reply_to: str = ""
    plain_policy: PolicyMode = "rewrite"
    gate: Gate = field(default_factory=default_gate, compare=False, repr=False)
    rules: NoticeRules = field(default_factory=NoticeRules)
    reply_hint: str = ""


def profile_for(team: str, teams: Mapping[str, TeamProfile]) -> TeamProfile:
    """A team's profile; a team routed to but not configured gets default's signature and
    plain-language policy under its own name (so its own templates are used)."""
    if team in teams:
        return teams[team]
    default = teams.get(DEFAULT_TEAM)
    if default is None:
        return TeamProfile(team, team)
    return TeamProfile(
        team, default.display_name, "", default.plain_policy, default.gate, default.rules,
        default.reply_hint,
    )  # fmt: skip


class DigestHeld(Exception):
    """The plain-language policy would hold this digest."""


def compose_digest(
    members: Sequence[Resolution], team: TeamProfile, renderer: Renderer, *, domain: str
) -> Notice:
    """One message for several resolutions of one requester (the per-recipient limit).

    The digest is rendered from ``digest.*.j2`` and checked with the team's plain-language
    policy like any notice (``rewrite`` applies safe replacements). Raises TemplateError when
    the team has no usable digest template, and :class:`DigestHeld` when the policy would
    hold it: then the members go out one by one, each in the words already checked for it.
    """
    first = members[0]
    context = template_context(first, team)
    context["tickets"] = [template_context(member, team)["ticket"] for member in members]
    context["count"] = len(members)
    rendered = renderer.render(team.name, context, first.language, kind=DIGEST)
    checked = review(rendered, team.gate, team.plain_policy, first.language)
    if checked.hold_reason:
        raise DigestHeld(checked.hold_reason)
    keys = sorted(member.key for member in members)
    references: list[str] = []
    for member in members:
        ref = member.original_message_id or thread_reference_for(
            member.source, member.ticket_id, domain
        )
        if ref not in references:
            references.append(ref)
    return Notice(
        resolution_key="digest:" + "|".join(keys),
        ticket_id=", ".join(member.ticket_id for member in members),
        source=first.source,
        team=team.name,
        to_email=first.requester_email,
        to_name=first.requester_name,
        subject=checked.subject,
        text=checked.text,
        html=checked.html,
        message_id=message_id_for("digest:" + "|".join(keys), domain),
        in_reply_to="",
        references=tuple(references[-20:]),
        reply_to=team.reply_to,
        template=f"{rendered.template}@{rendered.template_version}",
        language=rendered.language,
    )


@dataclass(frozen=True, slots=True)
class Composed:
    notice: Notice
    review: Review


def first_name(full_name: str) -> str:
    """A greeting name: 'Doe, Jane' and 'Jane Doe' both give 'Jane'."""
    name = full_name.strip()
    if "," in name:
        name = name.split(",", 1)[1].strip()
    return name.split()[0] if name.split() else ""


# The most of one ticket text a template (and so the plain-language gate) is given: a notice
# is a short message, and checking words costs time in proportion to their length.
MAX_TITLE_CHARS = 300
MAX_NOTE_CHARS = 4000  # the resolution note, and each raw field in ticket.fields
MAX_NAME_CHARS = 200


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when there is one
    near the end, with an ellipsis to show that something was left out."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", limit * 4 // 5)
    return (cut[:space] if space > 0 else cut).rstrip() + "\u2026"


def requester_name(resolution: Resolution) -> str:
    """The name templates greet: never an address (:func:`person_name`; the To header is
    cleaned the same way where it is written, in delivery.message)."""
    return person_name(clip(resolution.requester_name, MAX_NAME_CHARS), resolution.requester_email)


def shown_reference(ticket_id: str) -> str:
    """The ticket id as the requester's reference; "" for a Message-ID (folder mode keys a
    thread by it), which means nothing to a person: templates leave the line out."""
    return "" if "@" in ticket_id else ticket_id


def template_context(resolution: Resolution, team: TeamProfile) -> dict[str, Any]:
    """The variables a template sees; docs/templates.md lists them.

    Ticket text is cleaned of the private-use characters rendering uses as marks, so input
    can never claim to be text a template allowed, and clipped (see :data:`MAX_NOTE_CHARS`).
    """
    name = requester_name(resolution)
    return {
        "ticket": {
            "id": unmarked(shown_reference(resolution.ticket_id)),
            "title": unmarked(clip(resolution.title, MAX_TITLE_CHARS)),
            "status": unmarked(resolution.status),
            "resolved_at": resolution.resolved_at,
            "resolution_note": unmarked(clip(resolution.resolution_note, MAX_NOTE_CHARS)),
            "language": unmarked(resolution.language),
            "source": resolution.source,
            "fields": {
                unmarked(k): unmarked(clip(v, MAX_NOTE_CHARS)) for k, v in resolution.fields.items()
            },
        },
        "requester": {
            "name": unmarked(name),
            "first_name": unmarked(first_name(name)),
            "email": unmarked(resolution.requester_email),
        },
        "team": {
            "name": team.name,
            "display_name": team.display_name,
            "reply_to": team.reply_to,
            "reply_hint": team.reply_hint,
        },
    }


def compose(
    resolution: Resolution, team: TeamProfile, renderer: Renderer, *, domain: str
) -> Composed:
    """Render and review the notice for one resolution.

    Raises TemplateError when the team's template fails. The review says whether the
    plain-language policy holds the notice; the notice carries the words that would be sent.
    """
    rendered = renderer.render(team.name, template_context(resolution, team), resolution.language)
    checked = review(rendered, team.gate, team.plain_policy, resolution.language)
    original = resolution.original_message_id.strip()
    if original:
        in_reply_to, references = original, (original,)
    else:
        in_reply_to = ""
        references = (thread_reference_for(resolution.source, resolution.ticket_id, domain),)
    notice = Notice(
        resolution_key=resolution.key,
        ticket_id=resolution.ticket_id,
        source=resolution.source,
        team=team.name,
        to_email=resolution.requester_email,
        to_name=resolution.requester_name,
        subject=checked.subject,
        text=checked.text,
        html=checked.html,
        message_id=message_id_for(resolution.key, domain),
        in_reply_to=in_reply_to,
        references=references,
        reply_to=team.reply_to,
        template=f"{rendered.template}@{rendered.template_version}",
        language=rendered.language,
    )
    return Composed(notice, checked)
