"""The presets for Znuny (OTRS), Redmine, django-helpdesk and Roundup read their real mails.

The mails are the corpus's (tests/data/mail/corpus/<product>/), which follow each product's
default templates (the sources are named in cases.toml and docs/imap-presets.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifier.core.errors import InputError
from notifier.sources.mail.noise import noise_reason
from notifier.sources.mail.presets import PRESETS
from notifier.sources.mail.products import build_presets, products_of
from notifier.sources.mail.types import NotAResolution, ParsedMail, TicketFacts

from .mailbuilders import Mailbox, addr, nothing, parse_eml

CORPUS = Path(__file__).resolve().parents[1] / "data" / "mail" / "corpus"
HELPDESK = "notifier@it.example.org"

# file, preset, ticket id, requester, title, words of the note
RESOLVED = [
    (
        "znuny/answer-closed-successful.eml", "znuny", "2024030510000021",
        "elif.demir@example.org", "Outlook crashes on start",
        "I reset your Outlook profile; Outlook starts normally again.",
    ),
    (
        "redmine/resolved.eml", "redmine", "512", "chloe.martin@example.org",
        "Cannot connect to the VPN from home",
        "Your home router blocked the VPN port; after the firmware update you can connect again.",
    ),
    (
        "django-helpdesk/resolved-submitter.eml", "django-helpdesk", "it-57",
        "oliver.smith@example.org", "Laptop does not charge",
        "The charger was faulty; a new one is at the front desk for you.",
    ),
    (
        "django-helpdesk/resolved-cc-helpdesk.eml", "django-helpdesk", "it-58",
        "grace.lee@example.org", "Wrong keyboard layout at login",
        "Set the login screen to the UK layout.",
    ),
    (
        "roundup/resolved.eml", "roundup", "issue42", "hugo.dubois@example.org",
        "Network drive asks for my password every hour",
        "Your saved credential was for the old file server; I removed it and the drive stays "
        "connected now.",
    ),
]  # fmt: skip

# file, preset, kind, ticket id
NOT_RESOLVED = [
    ("znuny/agent-ticket-created.eml", "znuny", "update", "2024030510000021"),
    ("znuny/agent-follow-up.eml", "znuny", "update", "2024030510000021"),
    ("znuny/customer-auto-response.eml", "znuny", "update", "2024030510000021"),
    ("redmine/updated-note.eml", "redmine", "update", "512"),
    ("redmine/reopened.eml", "redmine", "reopened", "512"),
    ("django-helpdesk/updated-submitter.eml", "django-helpdesk", "update", "it-57"),
    ("django-helpdesk/closed-submitter.eml", "django-helpdesk", "update", "it-57"),
    ("roundup/comment.eml", "roundup", "update", "issue42"),
    ("roundup/reopened.eml", "roundup", "reopened", "issue42"),
]


def load(name: str) -> ParsedMail:
    path = CORPUS / name
    return parse_eml(path.read_bytes(), origin=name)


@pytest.mark.parametrize(("file", "key", "ticket_id", "requester", "title", "note"), RESOLVED)
def test_resolved_mail_gives_ticket_facts_with_the_technicians_words(
    file: str, key: str, ticket_id: str, requester: str, title: str, note: str
) -> None:
    """The resolved mail names the ticket, the requester, the title and the note."""
    preset = replace(PRESETS[key], not_requesters=frozenset({HELPDESK}))
    facts = preset.interpret(load(file), nothing)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.ticket_id, facts.requester_email, facts.title) == (ticket_id, requester, title)
    assert facts.resolution_note == note
    assert facts.fields["preset"] == key


@pytest.mark.parametrize(("file", "key", "kind", "ticket_id"), NOT_RESOLVED)
def test_update_or_reopen_is_not_a_resolution(
    file: str, key: str, kind: str, ticket_id: str
) -> None:
    verdict = PRESETS[key].interpret(load(file), nothing)
    assert isinstance(verdict, NotAResolution), verdict
    assert (verdict.kind, verdict.ticket_id) == (kind, ticket_id)


@pytest.mark.parametrize(
    "file", [r[0] for r in RESOLVED] + [n[0] for n in NOT_RESOLVED]
)  # fmt: skip
def test_each_mail_carries_its_products_marks_only(file: str) -> None:
    """presets = "auto" hands the mail to its own product's preset only."""
    key = file.split("/", 1)[0]
    assert products_of(load(file)) == (key,)


@pytest.mark.parametrize(("file", "key", "ticket_id", "requester", "title", "note"), RESOLVED)
def test_auto_reads_the_same_facts(
    file: str, key: str, ticket_id: str, requester: str, title: str, note: str
) -> None:
    chooser = build_presets("auto", not_requesters=[HELPDESK])
    facts = chooser.interpret(load(file), Mailbox().find)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.ticket_id, facts.requester_email, facts.fields["preset"]) == (
        ticket_id, requester, key,
    )  # fmt: skip


def test_redmine_watcher_copy_without_the_authors_address_is_input_error() -> None:
    """The copy to the mailbox names the author by name and login only: a problem."""
    with pytest.raises(InputError, match="Redmine resolved notification for ticket 518"):
        replace(PRESETS["redmine"], not_requesters=frozenset({HELPDESK})).interpret(
            load("redmine/resolved-watcher-helpdesk.eml"), nothing
        )


def _text(mail: ParsedMail, old: str, new: str) -> ParsedMail:
    assert old in mail.text
    return replace(mail, text=mail.text.replace(old, new))


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Status changed from In Progress to Closed", "resolved"),  # closed without Resolved
        ("Status changed from Resolved to Closed", "update"),  # already told
        ("Status changed from In Progress to Rejected", "update"),
        ("Status changed from Closed to In Progress", "reopened"),
        ("Status wurde von In Bearbeitung zu Gelöst geändert", "resolved"),
        ("Statut changé de En cours à Résolu", "resolved"),
        ("Estado cambiado de En curso a Resuelta", "resolved"),
        ("Priority changed from Normal to High", "update"),
    ],
)
def test_redmine_status_changes(line: str, kind: str) -> None:
    mail = _text(load("redmine/resolved.eml"), "Status changed from In Progress to Resolved", line)
    verdict = PRESETS["redmine"].interpret(mail, nothing)
    got = "resolved" if isinstance(verdict, TicketFacts) else verdict.kind
    assert got == kind, verdict


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [
        ("(Gelöst)", "resolved"),
        ("(Résolu)", "resolved"),
        ("(Resuelto)", "resolved"),
        ("(Résolu - à vous)", "resolved"),
        ("(Geschlossen)", "update"),
        ("(cerrado)", "update"),
        ("(Opened)", "update"),
    ],
)
def test_django_helpdesk_subject_states_in_its_languages(suffix: str, kind: str) -> None:
    mail = load("django-helpdesk/resolved-submitter.eml")
    mail = replace(mail, subject=mail.subject.replace("(Resolved)", suffix))
    verdict = PRESETS["django-helpdesk"].interpret(mail, nothing)
    got = "resolved" if isinstance(verdict, TicketFacts) else verdict.kind
    assert got == kind, verdict


def test_django_helpdesk_subject_alone_is_no_product_mark() -> None:
    """A technician's own mail copying the "[it-57] … (Resolved)" subject is not the product's:
    the ticket must be named in its text as the templates do."""
    mail = replace(load("django-helpdesk/resolved-submitter.eml"), text="Done, see you.")
    assert products_of(mail) == ()


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Ticket state: closed unsuccessful", "update"),
        ("Ticket state: open", "update"),
        ("> Ticket state: closed successful", "update"),  # quoted: not this mail's state
    ],
)
def test_znuny_only_a_closed_successful_state_line_resolves(line: str, kind: str) -> None:
    mail = _text(
        load("znuny/answer-closed-successful.eml"), "Ticket state: closed successful", line
    )
    verdict = PRESETS["znuny"].interpret(mail, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == kind, verdict


def test_znuny_hook_is_not_zammads() -> None:
    """Both products tag "[Ticket#…]"; the mailer header tells them apart."""
    mail = load("znuny/answer-closed-successful.eml")
    assert PRESETS["zammad"].read(mail) is None


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("status: in-progress -> done-cbb", "resolved"),
        ("status: done-cbb -> chatting", "reopened"),
        ("priority: bug -> urgent", "update"),
    ],
)
def test_roundup_change_notes(line: str, kind: str) -> None:
    mail = _text(load("roundup/resolved.eml"), "status: chatting -> resolved", line)
    verdict = PRESETS["roundup"].interpret(mail, nothing)
    got = "resolved" if isinstance(verdict, TicketFacts) else verdict.kind
    assert got == kind, verdict


REDMINE = "redmine@redmine.example.org"


def test_redmines_own_list_id_from_a_trusted_sender_is_not_list_mail() -> None:
    """Redmine sets List-Id "<project.mail_from>" on every notification (app/models/mailer.rb)."""
    redmine = load("redmine/resolved.eml")
    assert noise_reason(redmine, own_addresses=(), trusted_senders=[REDMINE]) is None
    untrusted = noise_reason(redmine, own_addresses=(), trusted_senders=())
    assert untrusted is not None  # an untrusted sender: automatic mail


def test_a_mailing_list_sending_as_the_trusted_address_is_still_list_mail() -> None:
    """A list that rewrites From to its own address, with a List-Id built the same way, is a
    list: only Redmine's own headers exempt its List-Id."""
    redmine = load("redmine/resolved.eml")
    headers = {k: v for k, v in redmine.headers.items() if not k.startswith("x-redmine-")}
    headers["x-mailer"] = ("Mailman",)
    headers["list-id"] = ("<redmine.redmine.example.org>",)
    listed = replace(redmine, headers=headers)
    reason = noise_reason(listed, own_addresses=(), trusted_senders=[REDMINE])
    assert reason is not None and reason.startswith("list mail")


def test_redmine_note_keeps_its_lines_and_drops_only_the_journal_details() -> None:
    """The details are the block after "has been updated by"; the notes follow a blank line,
    whatever their words ("... was added")."""
    mail = load("redmine/resolved.eml")
    old = "Status changed from In Progress to Resolved\n"
    details = old + "Assignee changed from Tom Tech to Ann Admin\nFile router.png added\n"
    text = mail.text.replace(old, details).replace(
        "you can connect again.", "you can connect again.\nA firewall rule was added"
    )
    facts = PRESETS["redmine"].interpret(replace(mail, text=text), nothing)
    assert isinstance(facts, TicketFacts), facts
    assert facts.resolution_note == (
        "Your home router blocked the VPN port; after the firmware update you can connect "
        "again.\nA firewall rule was added"
    )


def test_a_status_line_in_the_issue_description_is_not_a_redmine_status_change() -> None:
    """Only the journal above the issue block says what changed."""
    mail = load("redmine/updated-note.eml")
    text = mail.text.replace(
        "The VPN client times out at home, in the office it works.",
        "Pasted from the other issue:\nStatus changed from New to Resolved",
    )
    verdict = PRESETS["redmine"].interpret(replace(mail, text=text), nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update", verdict


def test_a_status_line_in_a_roundup_message_is_not_its_change_note() -> None:
    """The change note is the block after the message's "----------" line."""
    mail = load("roundup/comment.eml")
    text = mail.text.replace(
        "Does it happen on Wi-Fi only?",
        "Does it happen on Wi-Fi only? Last time it said\nstatus: chatting -> resolved",
    )
    verdict = PRESETS["roundup"].interpret(replace(mail, text=text), nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update", verdict


@pytest.mark.parametrize(
    ("mailer", "powered"),
    [
        ("Znuny Mail Service (6.5.6)", "OTRS (https://otrs.com/)"),
        ("OTRS Mail Service (6.0.30)", "OTRS (https://otrs.com/)"),
        ("OTRS Mail Service (5.0.1)", "OTRS - Open Ticket Request System (http://otrs.org/)"),
    ],
)
def test_znuny_and_otrs_banners_name_the_product(mailer: str, powered: str) -> None:
    """Kernel/System/Email.pm: "<Product> Mail Service (<version>)" and the OTRS banner."""
    mail = load("znuny/answer-closed-successful.eml")
    headers = {**mail.headers, "x-mailer": (mailer,), "x-powered-by": (powered,)}
    mail = replace(mail, headers=headers)
    assert products_of(mail) == ("znuny",)
    assert isinstance(PRESETS["znuny"].interpret(mail, nothing), TicketFacts)


def test_a_znuny_agent_notification_with_a_state_line_is_not_for_the_customer() -> None:
    """An agent notification (link to AgentTicketZoom, "Hi <agent>,") an admin gave a state
    line goes to agents: never a notice to its To."""
    mail = load("znuny/agent-follow-up.eml")
    text = mail.text.replace(
        "received a follow-up.", "received a follow-up.\n\nState: closed successful"
    )
    verdict = PRESETS["znuny"].interpret(replace(mail, text=text), nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update", verdict


ROUNDUP_FIRST = parse_eml(
    b"From: Hugo Dubois <hugo.dubois@example.org>\r\n"
    b"To: tracker@roundup.example.org\r\n"
    b"Subject: Network drive asks for my password every hour\r\n"
    b"Message-ID: <1709539200.ABCDEFGH.issue42@roundup.example.org>\r\n"
    b"Date: Mon, 04 Mar 2024 08:00:00 +0000\r\n\r\nIt asks every hour.\r\n",
    origin="INBOX uid 1",
)


def test_roundup_finds_the_requester_through_the_issues_first_message() -> None:
    """Roundup mails every nosy member; a copy to a technician names the requester only through
    In-Reply-To, the issue's first message."""
    mail = load("roundup/resolved.eml")
    copy = replace(mail, to=(addr("Ann Admin <ann@it.example.org>"),))
    facts = PRESETS["roundup"].interpret(copy, Mailbox(ROUNDUP_FIRST).find)
    assert isinstance(facts, TicketFacts), facts
    assert facts.requester_email == "hugo.dubois@example.org"


def test_roundup_the_author_of_the_comment_is_never_the_requester() -> None:
    """ "Tom Tech <tom@…> added the comment:" names the actor; his copy (MESSAGES_TO_AUTHOR) is
    no notice to him."""
    mail = load("roundup/resolved.eml")
    copy = replace(mail, to=(addr("Tom Tech <tom@it.example.org>"),))
    with pytest.raises(InputError, match="issue42"):
        PRESETS["roundup"].interpret(copy, nothing)


def test_redmine_events_are_timed_by_their_journal_not_by_the_date_header() -> None:
    """Redmine builds its mail in a background job (deliver_later): two changes a moment
    apart can get their Date headers the other way round. The Message-ID carries the
    journal's own time (Mailer#token_for: created_on in UTC), which is when it happened."""
    mail = load("redmine/resolved.eml")
    late = replace(mail, date=mail.date + timedelta(seconds=3) if mail.date else None)
    facts = PRESETS["redmine"].interpret(late, Mailbox().find)
    assert isinstance(facts, TicketFacts), facts
    assert facts.resolved_at == datetime(2024, 3, 6, 10, 15, tzinfo=UTC)
    reopened = load("redmine/reopened.eml")
    early = replace(reopened, date=datetime(2024, 3, 1, tzinfo=UTC))
    verdict = PRESETS["redmine"].interpret(early, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "reopened"
    assert verdict.at == datetime(2024, 3, 8, 8, 0, tzinfo=UTC)
