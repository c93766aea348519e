"""Names: a notice never greets by an email address, and never shows a Message-ID as the
reference (issue 15, item 2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.compose import TeamProfile, compose, compose_digest, template_context
from notifier.core.marks import strip_marks
from notifier.core.model import Resolution
from notifier.core.names import person_name
from notifier.core.render import Renderer
from notifier.delivery.message import build_message

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        ("Jane Doe", "jd@example.org", "Jane Doe"),  # a real name is kept as it is
        ("Doe, Jane", "jd@example.org", "Doe, Jane"),
        ("requester@example.com", "helpdesk@example.org", ""),
        ("anna.schmidt@example.org", "x@example.org", "Anna Schmidt"),
        ('"anna.schmidt@example.org"', "x@example.org", "Anna Schmidt"),
        ("<first.last@example.org>", "x@example.org", "First Last"),
        ("ANNA.SCHMIDT@EXAMPLE.ORG", "x@example.org", "Anna Schmidt"),
        ("anna-lena.meyer+it@example.org", "x@example.org", "Anna-Lena Meyer"),
        ("Anna Schmidt <anna@example.org>", "x@example.org", "Anna Schmidt"),
        ("Anna Schmidt (anna.schmidt@example.org)", "x@example.org", "Anna Schmidt"),
        ("", "first.last@example.org", "First Last"),
        ("  ", "anna_schmidt@example.org", "Anna Schmidt"),
        ("", "jdoe@example.org", ""),
        ("", "it-support@example.org", ""),
        ("", "a1234@example.org", ""),
        ("", "j.doe@example.org", ""),  # one letter is an initial, not a name
        ("", "it.support@example.org", ""),  # role words are not names
        ("", "service.desk@example.org", ""),
        ("", "anna.schmidt2@example.org", ""),
        ("jdoe@example.org", "anna.schmidt@example.org", ""),  # the name's address decides
        ("<CAF3x9+Q@mail.gmail.com>", "x@example.org", ""),  # a Message-ID is no name
        ("mailto:anna.schmidt@example.org", "x@example.org", "Anna Schmidt"),
        ("", "", ""),
    ],
)
def test_person_name(name: str, email: str, expected: str) -> None:
    assert person_name(name, email) == expected


TEAM_NOTE = "We replaced the worn roller."


def ticket(name: str, email: str = "anna.schmidt@example.org", **more: object) -> Resolution:
    values: dict[str, object] = {
        "source": "mail", "ticket_id": "HD-42", "requester_email": email,
        "requester_name": name, "title": "Printer on floor 3 jams", "status": "Resolved",
        "resolved_at": datetime(2026, 11, 27, 9, 30, tzinfo=UTC), "resolution_note": TEAM_NOTE,
    }  # fmt: skip
    values.update(more)
    return Resolution(**values)  # type: ignore[arg-type]


SHIPPED = Renderer.load(ROOT / "templates")
CASES = [(team, lang) for team in SHIPPED.teams for lang in SHIPPED.languages(team)]


def greeting(text: str) -> str:
    return strip_marks(text).strip().splitlines()[0]


@pytest.mark.parametrize(("team", "language"), CASES, ids=[f"{t}-{lang}" for t, lang in CASES])
def test_no_shipped_template_greets_by_an_address_or_shows_a_message_id(
    team: str, language: str
) -> None:
    """Every shipped template (each team, each language, text and HTML): a name field holding
    an address that does not read as a name gives a neutral greeting (no address, no dangling
    comma), and a ticket id that is a Message-ID (folder mode) is not shown as the reference."""
    profile = TeamProfile(team, "IT Help Desk")
    hostile = ticket(
        "requester@example.com", "jdoe@example.org", ticket_id="<CAF3x9+Q@mail.gmail.com>"
    )
    rendered = SHIPPED.render(team, template_context(hostile, profile), language)
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "@" not in strip_marks(part), (team, language, part)
        assert "CAF3x9" not in strip_marks(part)
    # After the greeting ("Hola:" is how a Spanish letter opens): no dangling "reference:".
    lines = strip_marks(rendered.text).splitlines()[1:]
    assert not [line for line in lines if line.rstrip().endswith(":")], lines
    first = greeting(rendered.text)
    assert not re.search(r"\s,|^\W*,", first), first  # "Bonjour ," is no greeting
    named = SHIPPED.render(team, template_context(ticket("anna.schmidt@example.org"), profile))
    assert "Anna" in greeting(named.text) and "@" not in greeting(named.text)
    assert "HD-42" in strip_marks(named.text)  # a real ticket id is the reference


def test_the_digest_greets_by_name_never_by_address() -> None:
    profile = TeamProfile("default", "IT Help Desk")
    members = [
        ticket("requester@example.com", "jdoe@example.org", ticket_id="<m1@mail.example>"),
        ticket("requester@example.com", "jdoe@example.org", ticket_id="HD-43"),
    ]
    digest = compose_digest(members, profile, SHIPPED, domain="example.org")
    text = strip_marks(digest.text)
    assert "@" not in text.replace(TEAM_NOTE, "") and "m1" not in text
    assert "HD-43" in text and not re.search(r"\s,", greeting(text))


def test_the_to_header_name_never_holds_an_address() -> None:
    """The display name of the To header is the person's name or nothing: a watcher copy once
    produced To: "requester@example.com" <helpdesk@...>."""
    profile = TeamProfile("default", "IT Help Desk")

    def to_header(resolution: Resolution) -> str:
        notice = compose(resolution, profile, SHIPPED, domain="example.org").notice
        built = build_message(notice, from_address="it@example.org", from_name="IT", now=NOW)
        return str(built["To"])

    assert to_header(ticket("requester@example.com", "jdoe@example.org")) == "jdoe@example.org"
    named = to_header(ticket('"anna.schmidt@example.org" <anna.schmidt@example.org>'))
    assert named == "Anna Schmidt <anna.schmidt@example.org>"
    assert to_header(ticket("Doe, Jane", "jd@example.org")) == '"Doe, Jane" <jd@example.org>'
