"""Preset defects the issue 15 corpus found in the older presets (tests/data/mail/corpus)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from notifier.sources.mail.parse import parse_mail
from notifier.sources.mail.presets import PRESETS
from notifier.sources.mail.products import build_presets
from notifier.sources.mail.types import NotAResolution, ParsedMail, TicketFacts

from .mailbuilders import Mailbox, load_sample, nothing
from .test_mailpresets_trackers import CORPUS, HELPDESK


def load(name: str) -> ParsedMail:
    """A corpus mail as the service parses it (HTML-only mail becomes text)."""
    return parse_mail((CORPUS / name).read_bytes(), origin=name)


# preset, mail (corpus path, or a presets/ sample name), the note the requester must read
NOTES = [
    (
        "zendesk", "presets:zendesk-resolved.eml",
        "You now have read access to the finance share; it can take a few minutes to appear.",
    ),
    (
        "zendesk", "zendesk/solved-address-as-name.eml",
        "The dock runs firmware 1.0.36 now and charges your laptop again.",
    ),
    (
        "freescout", "presets:freescout-named-resolved.eml",
        "A new keyboard is on your desk; the old one went to recycling.",
    ),
    (
        "freescout", "freescout/closed.eml",
        "Hi Noah,\nthe VPN profile on your laptop was outdated; I pushed the new one, please "
        "restart once.\nBest,\nTom",
    ),
    (
        "zammad", "zammad/customer-close-trigger.eml",
        "The fan was full of dust; I cleaned it and updated the BIOS, it is quiet now.",
    ),
    (
        "jsm", "jsm/customer-request-resolved.eml",
        "Your account was locked after three wrong passwords; it is unlocked now.",
    ),
]  # fmt: skip


def mail_of(name: str) -> ParsedMail:
    if name.startswith("presets:"):
        return load_sample(name.removeprefix("presets:"))
    return load(name)


@pytest.mark.parametrize(("key", "name", "note"), NOTES)
def test_the_technicians_words_in_the_notification_are_the_note(
    key: str, name: str, note: str
) -> None:
    preset = replace(PRESETS[key], not_requesters=frozenset({HELPDESK}))
    facts = preset.interpret(mail_of(name), Mailbox().find)
    assert isinstance(facts, TicketFacts), facts
    assert facts.resolution_note == note


def test_a_zendesk_note_is_the_newest_comment_only() -> None:
    """Comments are listed newest first; the requester's own request is not the note."""
    facts = PRESETS["zendesk"].interpret(load_sample("zendesk-resolved.eml"), nothing)
    assert isinstance(facts, TicketFacts)
    assert "quarterly report" not in facts.resolution_note


def test_jsm_portal_mail_with_jiras_fingerprint_header_is_read_as_a_customer_notification() -> None:
    """Jira puts X-JIRA-FingerPrint on the service project's customer mail too."""
    verdict = PRESETS["jsm"].interpret(load("jsm/customer-request-reopened.eml"), nothing)
    assert isinstance(verdict, NotAResolution)
    assert (verdict.kind, verdict.ticket_id) == ("reopened", "ITSD-88")


def test_servicenow_closed_after_resolved_is_an_update() -> None:
    """The close that follows the resolve: the caller was told when it was resolved."""
    verdict = PRESETS["servicenow"].interpret(load("servicenow/closed-after-resolved.eml"), nothing)
    assert isinstance(verdict, NotAResolution)
    assert (verdict.kind, verdict.ticket_id) == ("update", "INC0010023")


@pytest.mark.parametrize(
    ("name", "ticket_id"),
    [("osticket/new-message-alert.eml", "482913"), ("osticket/new-ticket-alert.eml", "482960")],
)
def test_osticket_staff_alerts_are_updates_of_the_ticket_they_name(
    name: str, ticket_id: str
) -> None:
    """Staff alerts ("New Ticket Alert", "New Message Alert") carry no [#number] subject tag;
    the ticket number is in their text. With presets = "auto" in folder mode they must not
    fall through to the reply reader."""
    for interpreter in (PRESETS["osticket"], build_presets("auto", folder_mode=True)):
        verdict = interpreter.interpret(load(name), nothing)
        assert isinstance(verdict, NotAResolution), verdict
        assert (verdict.kind, verdict.ticket_id) == ("update", ticket_id)


def test_a_zendesk_note_is_never_the_requesters_own_comment() -> None:
    """When the requester wrote last, the newest comment by someone else is the note."""
    sample = load_sample("zendesk-resolved.eml")
    own = "Jane Doe\n\nMar 4, 2024, 15:10 UTC\n\nThanks, I can see it now.\n\n"
    text = sample.text.replace("Tom Tech (Example IT)", own + "Tom Tech (Example IT)", 1)
    facts = PRESETS["zendesk"].interpret(replace(sample, text=text), nothing)
    assert isinstance(facts, TicketFacts)
    assert facts.resolution_note == (
        "You now have read access to the finance share; it can take a few minutes to appear."
    )


def test_a_freescout_reply_line_starting_with_a_hash_stays_in_the_note() -> None:
    sample = load_sample("freescout-named-resolved.eml")
    old = "A new keyboard is on your desk; the old one went to recycling."
    text = sample.text.replace(old, f"{old}\n#2 of the old keys is in the drawer.")
    facts = PRESETS["freescout"].interpret(replace(sample, text=text), nothing)
    assert isinstance(facts, TicketFacts)
    assert facts.resolution_note == f"{old}\n#2 of the old keys is in the drawer."
