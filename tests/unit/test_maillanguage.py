"""A mail ticket's language from its mails; and what the language changes in the notice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.compose import TeamProfile, compose
from notifier.core.model import Resolution
from notifier.core.render import Renderer, template_languages
from notifier.sources.mail.language import remembering, with_language
from notifier.sources.mail.types import TicketFacts
from tests.unit.mailbuilders import Mailbox, mail

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

ORIGINAL = mail(
    subject="Outlook password prompt",
    sender="Mia Roth <mia@example.org>",
    to=("helpdesk@example.org",),
    text="Outlook asks for my password all the time.",
    message_id="<req-1@example.org>",
    headers={"Content-Language": "de-DE", "Accept-Language": "fr-FR"},
)


def facts(**changes: object) -> TicketFacts:
    base: dict[str, object] = {
        "ticket_id": "<req-1@example.org>",
        "requester_email": "mia@example.org",
        "title": "Outlook password prompt",
        "resolution_note": "We cleared the saved password in Outlook.",
        "original_message_id": "<req-1@example.org>",
        "fields": {"mode": "folder"},
    }
    base.update(changes)
    return TicketFacts(**base)  # type: ignore[arg-type]


def test_the_originals_content_language_comes_first_and_says_so() -> None:
    reply = mail(headers={"Content-Language": "en-US"}, in_reply_to="<req-1@example.org>")
    found = with_language(facts(), reply, Mailbox(ORIGINAL).find)
    assert found.language == "de"
    assert found.fields == {
        "mode": "folder",
        "language_from": "Content-Language of the original request (de-DE)",
    }


def test_then_a_sure_text_then_the_notifications_headers() -> None:
    """A technician's English Outlook labels a French answer en-US: the text is sure it is
    French, and the requester gets French. Only when the text is unsure does the
    notification's header decide."""
    plain_original = mail(
        sender="Mia Roth <mia@example.org>", message_id="<req-1@example.org>", text="Salut."
    )
    reply = mail(headers={"Content-Language": "en-US", "Accept-Language": "es-ES"})
    french = facts(
        title="L'imprimante du deuxième étage n'imprime plus",
        resolution_note="Le bac à papier était coincé. Vous pouvez de nouveau imprimer.",
    )
    found = with_language(french, reply, Mailbox(plain_original).find)
    assert found.language == "fr" and found.fields["language_from"].startswith("text (fr, ")
    unsure = facts(title="VPN", resolution_note="OK")
    found = with_language(unsure, reply, Mailbox(plain_original).find)
    assert found.language == "en"
    assert found.fields["language_from"] == "Content-Language of the notification (en-US)"
    no_headers = with_language(french, mail(), Mailbox(plain_original).find)
    assert no_headers.language == "fr"


def test_a_mail_from_the_replys_own_sender_is_not_the_requesters() -> None:
    """The thread's message found is the technician's own earlier mail: its headers are the
    technician's client, not the requester's."""
    own = mail(message_id="<req-1@example.org>", headers={"Content-Language": "fr"})
    found = with_language(facts(), mail(), Mailbox(own).find)
    assert found.language == "en"


def test_a_language_the_interpreter_knew_is_kept_and_the_original_not_looked_up() -> None:
    box = Mailbox(ORIGINAL)
    kept = facts(language="nl")
    assert with_language(kept, mail(), box.find) is kept
    assert box.lookups == []


def test_remembering_asks_once_per_message_id() -> None:
    box = Mailbox(ORIGINAL)
    find = remembering(box.find)
    assert find("<req-1@example.org>") is find("<req-1@example.org>")
    assert find("<missing@example.org>") is None and find("<missing@example.org>") is None
    assert box.lookups == ["<req-1@example.org>", "<missing@example.org>"]


def test_template_languages_come_from_file_names(tmp_path: Path) -> None:
    assert template_languages(TEMPLATES) == ["de", "es", "fr"]
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "resolved.pl.txt.j2").write_text("x")
    (tmp_path / "ops" / "resolved.txt.j2").write_text("x")
    assert template_languages(tmp_path) == ["pl"]
    assert template_languages(tmp_path / "missing") == []


def resolution(language: str, title: str, note: str) -> Resolution:
    return Resolution(
        source="export", ticket_id="HD-7", requester_email="ana@example.org",
        requester_name="Ana Ruiz", title=title, language=language,
        resolved_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC), resolution_note=note,
    )  # fmt: skip


def test_an_export_language_column_picks_the_template_and_the_word_lists() -> None:
    """Exports carry a language column: Spanish gets the Spanish template and Spanish words;
    a language name instead of a code changes nothing (English, English lists)."""
    renderer = Renderer.load(TEMPLATES)
    team = TeamProfile("default", "Soporte", "", "hold")
    spanish = compose(
        resolution(
            "es-ES", "La impresora no imprime",
            "La bandeja del papel estaba atascada. Ya puede volver a imprimir.",
        ),
        team, renderer, domain="example.org",
    )  # fmt: skip
    assert spanish.notice.subject == "Hecho: La impresora no imprime"
    assert spanish.review.scores.language == "es" and spanish.review.scores.word_lists
    assert spanish.review.hold_reason == ""
    named = compose(
        resolution("English", "Printer broken", "We fixed the printer."), team, renderer,
        domain="example.org",
    )  # fmt: skip
    assert named.notice.subject == "Done: Printer broken"
    assert named.review.scores.language == "en" and named.review.scores.word_lists


def test_a_ticket_language_without_templates_is_judged_by_detectors_only_once() -> None:
    """Polish ticket, no Polish template: English template, detectors only, one note (for
    the text part, not again for the subject), nothing held."""
    renderer = Renderer.load(TEMPLATES)
    composed = compose(
        resolution(
            "pl", "Drukarka nie drukuje",
            "Podajnik papieru był zablokowany. Możesz znowu drukować ze swojego komputera.",
        ),
        TeamProfile("default", "IT", "", "hold"), renderer, domain="example.org",
    )  # fmt: skip
    assert composed.notice.subject == "Done: Drukarka nie drukuje"
    assert composed.review.hold_reason == ""
    notes = [f for f in composed.review.findings if f.kind == "detectors_only"]
    assert [(n.part, n.severity) for n in notes] == [("text", "info")]
    assert "'en'" in notes[0].suggestion and "'pl'" in notes[0].suggestion
    json.dumps([n.as_dict() for n in notes])  # stored with the notice as JSON


def test_an_identifier_that_fails_leaves_the_default_language_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model cannot load (a broken install): the mail is still handled, in the default
    language, and the reason is kept with the ticket."""

    def broken(*_: object, **__: object) -> None:
        raise OSError("model.npz.xz: no such file")

    monkeypatch.setattr("notifier.sources.mail.language.detect", broken)
    found = with_language(facts(), mail(), Mailbox().find)
    assert found.language == ""
    assert found.fields["language_from"].startswith("not identified (OSError: model.npz.xz")
