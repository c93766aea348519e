"""Every shipped template keeps the promises the configuration makes about a team's notice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.compose import TeamProfile, template_context
from notifier.core.marks import strip_marks
from notifier.core.model import Resolution
from notifier.core.render import Renderer

SHIPPED = Renderer.load(Path(__file__).parents[2] / "templates")
# reply_hint is one sentence in the team's own language: the default-language templates say it,
# the translations keep their own sentence rather than mix two languages in one notice.
CASES = [(team, "en") for team in SHIPPED.teams]
HINT = "Reply with a photo of the screen and we will call you back."


@pytest.mark.parametrize(("team", "language"), CASES, ids=[f"{t}-{lang}" for t, lang in CASES])
def test_every_shipped_template_says_the_teams_reply_hint(team: str, language: str) -> None:
    """[teams.x] reply_hint tells the requester what a reply does; the network template
    ignored it and always said its own sentence."""
    ticket = Resolution(
        source="desk",
        ticket_id="HD-42",
        requester_email="anna.schmidt@example.org",
        requester_name="Anna Schmidt",
        title="Printer jams",
        resolved_at=datetime(2026, 11, 27, 9, tzinfo=UTC),
        language=language,
    )
    profile = TeamProfile(team, "IT Help Desk", reply_hint=HINT)
    rendered = SHIPPED.render(team, template_context(ticket, profile), language)
    assert HINT in strip_marks(rendered.text), (team, language)
    if rendered.html is not None:
        assert HINT in strip_marks(rendered.html), (team, language)
