"""Rendering: shipped templates work, teams fall back to default, errors stay in their team."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.compose import TeamProfile, compose, first_name, template_context
from notifier.core.errors import ConfigError, TemplateError
from notifier.core.marks import split_marks, strip_marks
from notifier.core.model import Resolution
from notifier.core.render import Renderer

ROOT = Path(__file__).resolve().parents[2]

TICKET = Resolution(
    source="jira",
    ticket_id="HD-42",
    requester_email="jane.doe@example.org",
    requester_name="Doe, Jane",
    title="Printer on floor 3 jams",
    status="Resolved",
    resolved_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
    resolution_note="We replaced the worn roller.",
)


def make_templates(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


DEFAULTS = {
    "default/resolved.subject.j2": "Done: {{ ticket.title }}",
    "default/resolved.txt.j2": "Hello {{ requester.first_name }}\n",
}


def test_every_shipped_team_template_renders() -> None:
    """Every team folder under templates/ renders a one-line subject and a text body."""
    renderer = Renderer.load(ROOT / "templates")
    assert renderer.problems() == []
    for team in renderer.teams:
        rendered = renderer.render(
            team, template_context(TICKET, TeamProfile(team, "IT Help Desk"))
        )
        assert rendered.subject and "\n" not in rendered.subject
        assert "Printer on floor 3 jams" in rendered.text
        assert "Jane" in rendered.text and "HD-42" in rendered.text


def test_team_falls_back_to_default_per_file(tmp_path: Path) -> None:
    """A team with only its own subject uses default's text template."""
    renderer = Renderer.load(
        make_templates(
            tmp_path, {**DEFAULTS, "network/resolved.subject.j2": "Network: {{ ticket.id }}"}
        )
    )
    rendered = renderer.render("network", template_context(TICKET, TeamProfile("network", "N")))
    assert strip_marks(rendered.subject) == "Network: HD-42"
    assert strip_marks(rendered.text) == "Hello Jane\n"
    assert rendered.template == "default/resolved"


def test_subject_is_one_line(tmp_path: Path) -> None:
    """Line breaks in a subject template (or in ticket data) become single spaces."""
    renderer = Renderer.load(
        make_templates(
            tmp_path, {**DEFAULTS, "default/resolved.subject.j2": "Done:\n  {{ ticket.title }}\n"}
        )
    )
    ticket = Resolution(
        source="s", ticket_id="1", requester_email="a@example.org", title="a\r\nBcc: x"
    )
    rendered = renderer.render("default", template_context(ticket, TeamProfile("default", "IT")))
    assert strip_marks(rendered.subject) == "Done: a Bcc: x"


def test_html_part_is_autoescaped(tmp_path: Path) -> None:
    """Ticket data in the HTML template is escaped; the text part is not."""
    renderer = Renderer.load(
        make_templates(
            tmp_path, {**DEFAULTS, "default/resolved.html.j2": "<p>{{ ticket.title }}</p>"}
        )
    )
    ticket = Resolution(
        source="s", ticket_id="1", requester_email="a@example.org", title="<b>x</b>"
    )
    rendered = renderer.render("default", template_context(ticket, TeamProfile("default", "IT")))
    assert strip_marks(rendered.html or "") == "<p>&lt;b&gt;x&lt;/b&gt;</p>"


def test_syntax_error_only_affects_its_team(tmp_path: Path) -> None:
    """A broken team template raises TemplateError with file:line; other teams still render."""
    renderer = Renderer.load(
        make_templates(tmp_path, {**DEFAULTS, "broken/resolved.txt.j2": "Hi\n{% if %}\n"})
    )
    assert renderer.problems() and "broken/resolved.txt.j2:2" in renderer.problems()[0]
    with pytest.raises(TemplateError, match=r"broken/resolved\.txt\.j2:2"):
        renderer.render("broken", template_context(TICKET, TeamProfile("broken", "B")))
    assert renderer.render("default", template_context(TICKET, TeamProfile("default", "D"))).text


def test_undefined_name_names_file_and_line(tmp_path: Path) -> None:
    """StrictUndefined: a misspelt variable is an error with its line, not an empty string."""
    renderer = Renderer.load(
        make_templates(
            tmp_path, {**DEFAULTS, "default/resolved.txt.j2": "Hi\n{{ ticket.titel }}\n"}
        )
    )
    with pytest.raises(TemplateError, match=r"default/resolved\.txt\.j2:2: UndefinedError"):
        renderer.render("default", template_context(TICKET, TeamProfile("default", "D")))


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    """A template reaching for ''.__class__.__mro__ is refused by the sandbox."""
    renderer = Renderer.load(
        make_templates(
            tmp_path,
            {**DEFAULTS, "evil/resolved.txt.j2": "{{ ''.__class__.__mro__[1].__subclasses__() }}"},
        )
    )
    with pytest.raises(TemplateError, match=r"evil/resolved\.txt\.j2"):
        renderer.render("evil", template_context(TICKET, TeamProfile("evil", "E")))


def test_missing_default_templates_is_a_config_error(tmp_path: Path) -> None:
    """Without default/resolved.txt.j2 there is nothing to fall back to: refuse to start."""
    make_templates(tmp_path, {"default/resolved.subject.j2": "x"})
    with pytest.raises(ConfigError, match=r"default/resolved\.txt\.j2"):
        Renderer.load(tmp_path)


def test_compose_threads_on_the_original_message_or_the_ticket() -> None:
    """In-Reply-To uses the requester's Message-ID when known; else a stable per-ticket reference."""
    renderer = Renderer.load(ROOT / "templates")
    team = TeamProfile("default", "IT", "help@example.org")
    plain = compose(TICKET, team, renderer, domain="example.org").notice
    assert plain.in_reply_to == "" and len(plain.references) == 1
    assert plain.message_id.endswith("@example.org>") and plain.reply_to == "help@example.org"
    again = compose(TICKET, team, renderer, domain="example.org").notice
    assert again.message_id == plain.message_id and again.references == plain.references
    from dataclasses import replace

    threaded = compose(
        replace(TICKET, original_message_id="<orig@mail.example.org>"),
        team,
        renderer,
        domain="example.org",
    ).notice
    assert threaded.in_reply_to == "<orig@mail.example.org>"
    assert threaded.references == ("<orig@mail.example.org>",)


@pytest.mark.parametrize(
    ("name", "first"),
    [("Doe, Jane", "Jane"), ("Jane Doe", "Jane"), ("", ""), ("  Prince ", "Prince")],
)
def test_first_name(name: str, first: str) -> None:
    """Greetings use the first name from either 'Last, First' or 'First Last'."""
    assert first_name(name) == first


def test_marks_tell_template_words_from_data_and_allowed_values(tmp_path: Path) -> None:
    """Expression output is marked as data, `| allow_jargon` values as allowed; literal text is
    neither, and ticket data cannot forge a mark."""
    renderer = Renderer.load(
        make_templates(
            tmp_path,
            {
                **DEFAULTS,
                "default/resolved.txt.j2": "Fixed: {{ ticket.title }}. Ref {{ ticket.id | allow_jargon }}",
            },
        )
    )
    ticket = Resolution(
        source="s", ticket_id="INC0012345", requester_email="a@example.org",
        title="VPN\ue001\ue000 down",
    )  # fmt: skip
    marked = split_marks(
        renderer.render("default", template_context(ticket, TeamProfile("default", "IT"))).text
    )
    assert marked.text == "Fixed: VPN down. Ref INC0012345\n"
    (data,) = marked.data
    assert marked.text[data[0] : data[1]] == "VPN down"
    (allowed,) = marked.allowed
    assert marked.text[allowed[0] : allowed[1]] == "INC0012345"
    assert marked.origin(0) == "template" and marked.origin(data[0]) == "data"


def test_language_variant_then_default_language(tmp_path: Path) -> None:
    """A French requester gets resolved.fr.*; a team without French falls back to default's
    French before its own English; an unknown language gets the default language."""
    renderer = Renderer.load(
        make_templates(
            tmp_path,
            {
                **DEFAULTS,
                "default/resolved.fr.subject.j2": "Fait : {{ ticket.title }}",
                "default/resolved.fr.txt.j2": "Bonjour\n",
                "network/resolved.txt.j2": "Network hello\n",
            },
        )
    )
    context = template_context(TICKET, TeamProfile("network", "N"))
    french = renderer.render("network", context, "fr-CA")
    assert (strip_marks(french.text), french.language) == ("Bonjour\n", "fr")
    assert strip_marks(french.subject).startswith("Fait :")
    other = renderer.render("network", context, "sw")
    assert (strip_marks(other.text), other.language) == ("Network hello\n", "en")
    assert renderer.languages("network") == ["en", "fr"]


def test_a_notice_in_another_language_never_carries_an_english_html_part() -> None:
    """The service-desk team has an English HTML part only: a German notice in default's
    German text goes out as plain text, not with the team's English HTML beside it."""
    renderer = Renderer.load(Path(__file__).resolve().parents[2] / "templates")
    context = template_context(
        Resolution(
            source="mail", ticket_id="T-1", requester_email="jonas@example.org",
            requester_name="Jonas", title="Drucker druckt nicht", language="de",
            resolution_note="Das Papierfach war verklemmt.",
        ),
        TeamProfile("service-desk", "Service Desk"),
    )  # fmt: skip
    german = renderer.render("service-desk", context, "de")
    assert german.language == "de" and strip_marks(german.subject).startswith("Erledigt:")
    assert german.html is None
    english = renderer.render("service-desk", context, "")
    assert english.html is not None and english.language == "en"
