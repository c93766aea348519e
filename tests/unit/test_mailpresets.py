"""Each product preset reads that product's real default notification mails (tests/data/mail/presets)."""

from __future__ import annotations

import email
from dataclasses import replace
from email import policy
from typing import Any

import pytest

from notifier.core.errors import InputError
from notifier.sources.mail.presets import PRESETS, Reading
from notifier.sources.mail.types import NotAResolution, ParsedMail, TicketFacts

from .mailbuilders import SAMPLES, Mailbox, addr, load_sample, mail, nothing

JANE = "jane.doe@example.org"

# The customer's own first mail, which Zammad threads its notifications under.
ZAMMAD_ORIGINAL = mail(
    subject="Cannot open shared mailbox",
    sender=f"Jane Doe <{JANE}>",
    to=["IT Support <support@zammad.example.org>"],
    message_id="<CAF1x2y3z4JaneShared@mail.example.org>",
)

RESOLVED = [
    # sample, ticket id, requester, title
    ("rt-resolved.eml", "1234", JANE, "Printer on floor 3 prints blank pages"),
    ("osticket-resolved.eml", "482913", JANE, "VPN disconnects every hour"),
    ("zammad-resolved.eml", "31001", JANE, "Cannot open shared mailbox"),
    ("jsm-resolved.eml", "ITHELP-57", JANE, "Laptop docking station not detecting monitors"),
    ("servicenow-resolved.eml", "INC0010023", JANE, "Outlook keeps asking for my password"),
    ("freshdesk-resolved.eml", "2291", JANE, "Wi-Fi in meeting room B keeps dropping"),
    ("zendesk-resolved.eml", "5107", JANE, "Need access to the finance share"),
    ("glpi-resolved.eml", "317", JANE, "Projector in room 4.12 shows no signal"),
    ("freescout-resolved.eml", "208", JANE, "Keyboard is missing two keys"),
    # A customer with a name: the text part names her, only the HTML part has her address.
    ("freescout-named-resolved.eml", "208", JANE, "Keyboard is missing two keys"),
    # Mails the products send the customer (issue 15 item 3).
    ("osticket-reply-resolved.eml", "482913", JANE, "VPN disconnects every hour"),
    (
        "zammad-trigger-resolved.eml",
        "31001",
        "jane.shared@example.org",
        "Cannot open shared mailbox",
    ),
    (
        "jsm-customer-resolved.eml",
        "ITHELP-57",
        JANE,
        "Laptop docking station not detecting monitors",
    ),
    # The four trackers of issue 15 (their corpus mails, addressed to Jane).
    ("znuny-resolved.eml", "2024030510000021", JANE, "Outlook crashes on start"),
    ("redmine-resolved.eml", "512", JANE, "Cannot connect to the VPN from home"),
    ("django-helpdesk-resolved.eml", "it-57", JANE, "Laptop does not charge"),
    ("roundup-resolved.eml", "issue42", JANE, "Network drive asks for my password every hour"),
]

NOT_RESOLVED = [
    # sample, kind, ticket id (the same as the product's resolved sample)
    ("rt-updated.eml", "update", "1234"),
    ("rt-reopened.eml", "reopened", "1234"),
    ("osticket-updated.eml", "update", "482913"),
    ("zammad-reopened.eml", "reopened", "31001"),
    ("jsm-reopened.eml", "reopened", "ITHELP-57"),
    ("servicenow-updated.eml", "update", "INC0010023"),
    ("freshdesk-updated.eml", "update", "2291"),
    ("zendesk-updated.eml", "update", "5107"),
    ("glpi-reopened.eml", "reopened", "317"),
    ("freescout-reopened.eml", "reopened", "208"),
    ("znuny-updated.eml", "update", "2024030510000021"),
    ("redmine-reopened.eml", "reopened", "512"),
    ("django-helpdesk-updated.eml", "update", "it-57"),
    ("roundup-reopened.eml", "reopened", "issue42"),
]


def preset_of(sample: str) -> str:
    """The preset a sample is for: its name is <preset>[-<variant>]-<kind>.eml."""
    return max((key for key in PRESETS if sample.startswith(f"{key}-")), key=len)


def interpret(sample: str, mailbox: Mailbox | None = None) -> TicketFacts | NotAResolution:
    box = mailbox or Mailbox(ZAMMAD_ORIGINAL)
    return PRESETS[preset_of(sample)].interpret(load_sample(sample), box.find)


def test_presets_cover_the_thirteen_products() -> None:
    """The preset table offers exactly the products the IMAP issues name."""
    assert set(PRESETS) == {
        "rt",
        "osticket",
        "zammad",
        "jsm",
        "servicenow",
        "freshdesk",
        "zendesk",
        "glpi",
        "freescout",
        "znuny",
        "redmine",
        "django-helpdesk",
        "roundup",
    }


def test_every_preset_has_a_resolved_and_a_non_resolved_sample() -> None:
    """Each preset is exercised by a resolved sample and an updated or reopened one."""
    assert {preset_of(s) for s, *_ in RESOLVED} == set(PRESETS)
    assert {preset_of(s) for s, *_ in NOT_RESOLVED} == set(PRESETS)
    on_disk = {p.name for p in SAMPLES.glob("*.eml")}
    assert on_disk == {s for s, *_ in RESOLVED} | {s for s, *_ in NOT_RESOLVED}


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.eml")))
def test_sample_is_a_complete_rfc5322_message(sample: str) -> None:
    """Samples are appended to a real Dovecot later: CRLF, required headers, no parse defects."""
    raw = (SAMPLES / sample).read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    message = email.message_from_bytes(raw, policy=policy.default)
    for header in ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version", "Content-Type"):
        assert message[header], f"{sample} lacks {header}"
    assert not message.defects
    assert all(not part.defects for part in message.walk())


@pytest.mark.parametrize(("sample", "ticket_id", "requester", "title"), RESOLVED)
def test_resolved_notification_gives_ticket_facts(
    sample: str, ticket_id: str, requester: str, title: str
) -> None:
    """A product's default 'resolved' mail becomes facts: ticket, requester, title, time."""
    parsed = load_sample(sample)
    facts = interpret(sample)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.ticket_id, facts.requester_email, facts.title) == (ticket_id, requester, title)
    assert facts.resolved_at == parsed.date
    assert facts.resolved_at is not None and facts.resolved_at.utcoffset() is not None
    assert facts.fields["preset"] == preset_of(sample)


@pytest.mark.parametrize(("sample", "kind", "ticket_id"), NOT_RESOLVED)
def test_update_or_reopen_is_not_a_resolution(sample: str, kind: str, ticket_id: str) -> None:
    """Updated and reopened mails give no notice, and name the same ticket as the resolved one."""
    verdict = interpret(sample)
    assert isinstance(verdict, NotAResolution), verdict
    assert (verdict.kind, verdict.ticket_id) == (kind, ticket_id)
    assert ticket_id in verdict.reason


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("sample", [s for s, *_ in RESOLVED])
def test_preset_never_resolves_another_products_mail(preset: str, sample: str) -> None:
    """A preset pointed at the wrong product's mailbox never invents a resolution."""
    if preset_of(sample) == preset:
        return
    verdict = PRESETS[preset].interpret(load_sample(sample), Mailbox(ZAMMAD_ORIGINAL).find)
    assert isinstance(verdict, NotAResolution)


def test_unrelated_mail_is_no_match() -> None:
    """A plain personal mail is not any product's notification."""
    plain = mail(subject="Lunch?", text="Pizza at noon?")
    for preset in PRESETS.values():
        verdict = preset.interpret(plain, nothing)
        assert isinstance(verdict, NotAResolution)
        assert verdict.kind == "no_match" and verdict.reason.startswith("not a ")


def test_resolution_notes_come_from_the_notification() -> None:
    """The technician's words are carried over where the default template includes them."""
    notes = {s: interpret(s) for s in ("zammad-resolved.eml", "jsm-resolved.eml")}
    notes["glpi-resolved.eml"] = interpret("glpi-resolved.eml")
    notes["servicenow-resolved.eml"] = interpret("servicenow-resolved.eml")
    expected = {
        "zammad-resolved.eml": "I added your permission on the shared mailbox again; "
        "it shows up in Outlook after a restart.",
        "jsm-resolved.eml": "Updated the dock's firmware; both monitors are detected again.",
        "glpi-resolved.eml": "Replaced the HDMI cable behind the wall plate; "
        "the projector shows the laptop picture again.",
        "servicenow-resolved.eml": "Cleared the cached credentials and registered MFA again; "
        "sign-in works.",
    }
    for sample, note in expected.items():
        facts = notes[sample]
        assert isinstance(facts, TicketFacts)
        assert facts.resolution_note == note


def test_rt_threads_under_the_requesters_mail() -> None:
    """RT's References start with the requester's mail: used when the mailbox lacks it."""
    facts = interpret("rt-resolved.eml", Mailbox())
    assert isinstance(facts, TicketFacts)
    assert facts.original_message_id == "<CAJx7nQ9Vd2pLw@mail.example.org>"
    assert facts.fields["rtname"] == "rt.example.org"


def test_rt_status_change_to_resolved_is_not_counted_twice() -> None:
    """With both scrips on, only the 'Resolved:' mail is the resolution, not the status change."""
    base = load_sample("rt-reopened.eml")
    changed = mail(
        subject="[rt.example.org #1234] Status Changed to: resolved",
        sender=f"{base.sender.name} <{base.sender.address}>",
        to=[JANE],
        headers={"X-RT-Ticket": "rt.example.org #1234"},
    )
    verdict = PRESETS["rt"].interpret(changed, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update"


def test_rt_resolved_without_any_recipient_is_input_error() -> None:
    """A recognised resolution with no requester address anywhere is bad input, naming why."""
    bare = mail(
        subject="[rt.example.org #77] Resolved: VPN",
        to=[],
        headers={"X-RT-Ticket": "rt.example.org #77"},
    )
    with pytest.raises(InputError, match="ticket 77: no requester address"):
        PRESETS["rt"].interpret(bare, nothing)


def test_zammad_needs_the_customers_mail_in_the_thread() -> None:
    """Zammad's agent notification names no customer: without the original it is an InputError."""
    with pytest.raises(InputError, match="Zammad resolved notification for ticket 31001"):
        interpret("zammad-resolved.eml", Mailbox())


def test_zammad_finds_the_customer_through_references() -> None:
    """The customer's own mail in References gives requester and thread root."""
    box = Mailbox(ZAMMAD_ORIGINAL)
    facts = interpret("zammad-resolved.eml", box)
    assert isinstance(facts, TicketFacts)
    assert facts.original_message_id == ZAMMAD_ORIGINAL.message_id
    # newest reference first: Zammad's own article id is tried before the customer's mail
    assert box.lookups[:2] == [
        "<20240304101500.88.4411@zammad.example.org>",
        "<CAF1x2y3z4JaneShared@mail.example.org>",
    ]


@pytest.mark.parametrize("sample", ["jsm-resolved.eml", "glpi-resolved.eml"])
def test_copy_for_another_recipient_is_not_used(sample: str) -> None:
    """Jira and GLPI mail each recipient separately; a watcher's copy must not notify the watcher."""
    parsed = load_sample(sample)
    watcher_copy = replace(parsed, to=(addr("Nina Notifier <notifier@it.example.org>"),))
    verdict = PRESETS[preset_of(sample)].interpret(watcher_copy, nothing)
    assert isinstance(verdict, NotAResolution)
    assert verdict.kind == "no_match"
    assert "'Nina Notifier'" in verdict.reason and "'Jane Doe'" in verdict.reason


def test_glpi_closing_after_solved_is_an_update() -> None:
    """GLPI sends 'Closing of the ticket' after 'Ticket solved'; the requester was already told."""
    closing = mail(
        subject="[GLPI #0000317] Closing of the ticket Projector in room 4.12 shows no signal",
        text=" Title : Projector in room 4.12 shows no signal\n Requester : Jane Doe\n",
    )
    verdict = PRESETS["glpi"].interpret(closing, nothing)
    assert verdict == NotAResolution(
        "update", "GLPI ticket 317: Closing of the ticket", ticket_id="317"
    )


def test_freshdesk_closed_after_resolved_is_an_update() -> None:
    """Freshdesk's 'Ticket Closed' follows 'Ticket Resolved'; only the first is the resolution."""
    closed = mail(subject="Ticket Closed - Wi-Fi in meeting room B keeps dropping [#2291]")
    verdict = PRESETS["freshdesk"].interpret(closed, nothing)
    assert isinstance(verdict, NotAResolution)
    assert (verdict.kind, verdict.ticket_id) == ("update", "2291")


def test_freescout_reads_the_address_from_html_derived_text() -> None:
    """When the parser falls back to the HTML part, FreeScout's 'will email' line names the customer."""
    closed = mail(
        subject="[#208] Keyboard is missing two keys",
        sender="IT Support <support@freescout.example.org>",
        to=["Nina Notifier <notifier@it.example.org>"],
        headers={"X-FreeScout-Mail-Type": "user.notification"},
        text="[IT Support]\nReplying to this notification will email Jane (jane.doe@example.org)\n"
        "Tom Tech marked as Closed conversation #208\n## Jane Doe started the conversation\n",
    )
    facts = PRESETS["freescout"].interpret(closed, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.requester_email, facts.requester_name) == (JANE, "Jane")


@pytest.mark.parametrize("words", ["Your request (#5107)", "Your request (5107)"])
def test_zendesk_solved_text_with_or_without_the_hash(words: str) -> None:
    """Trigger texts copied from different Zendesk eras write the id with and without '#'."""
    solved = mail(
        subject="[Example IT] Re: Need access to the finance share",
        sender="Example IT <support@example.zendesk.com>",
        to=[f"Jane Doe <{JANE}>"],
        headers={"X-Zendesk-From-Account-Id": "1a2b3c"},
        text=f"##- Please type your reply above this line -##\n\n{words} has been solved.",
    )
    facts = PRESETS["zendesk"].interpret(solved, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.ticket_id, facts.requester_email) == ("5107", JANE)


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("Laptop request (2 units)", "Your request (#5107)"),
        ("Access request (3)", "Your request (5107)"),
    ],
)
def test_zendesk_a_number_in_brackets_in_the_title_is_not_the_ticket(
    title: str, words: str
) -> None:
    """The title is the requester's words: only the trigger's sentence gives a bare id."""
    solved = mail(
        subject=f"[Example IT] Re: {title}",
        sender="Example IT <support@example.zendesk.com>",
        to=[f"Jane Doe <{JANE}>"],
        headers={"X-Zendesk-From-Account-Id": "1a2b3c"},
        text=f"##- Please type your reply above this line -##\n\n{words} has been solved.",
    )
    facts = PRESETS["zendesk"].interpret(solved, nothing)
    assert isinstance(facts, TicketFacts) and facts.ticket_id == "5107"


def test_zendesk_a_bare_number_after_request_is_no_ticket_id() -> None:
    """'request 2024' (no '#', no bracket) is prose, not an id."""
    mail_ = mail(
        headers={"X-Zendesk-From-Account-Id": "1a2b3c"},
        subject="Your request 2024 budget",
        text="About your request 2024 budget. It has been solved.",
    )
    verdict = PRESETS["zendesk"].interpret(mail_, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.ticket_id == ""


def test_freescout_named_customer_is_read_from_the_html_alternative() -> None:
    """Multipart FreeScout mail: the address in the HTML part's 'will email' line is used with
    the name, although the body read is the text part."""
    parsed = load_sample("freescout-named-resolved.eml")
    assert "Jane Doe started" in parsed.text and JANE not in parsed.text
    assert f"will email Jane Doe ({JANE})" in parsed.html_text
    facts = interpret("freescout-named-resolved.eml")
    assert isinstance(facts, TicketFacts)
    assert (facts.requester_email, facts.requester_name) == (JANE, "Jane Doe")


def test_freescout_takes_the_address_from_the_html_part_before_quoted_text() -> None:
    """A customer's quoted words in the text part cannot replace the address FreeScout wrote."""
    closed = replace(
        load_sample("freescout-named-resolved.eml"),
        text="Tom Tech marked as Closed conversation #208\n## Jane Doe started the conversation\n"
        "Replying to this notification will email Mallory (mallory@example.net)\n",
    )
    facts = PRESETS["freescout"].interpret(closed, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.requester_email, facts.requester_name) == (JANE, "Jane Doe")


def test_freescout_named_customer_without_address_is_input_error() -> None:
    """A text-only FreeScout notification naming the customer by name alone cannot be used."""
    closed = mail(
        subject="[#208] Keyboard is missing two keys",
        to=["Nina Notifier <notifier@it.example.org>"],
        headers={"X-FreeScout-Mail-Type": "user.notification"},
        text="Tom Tech marked as Closed conversation #208\n## Jane Doe started the conversation\n",
    )
    with pytest.raises(InputError, match=r"named 'Jane Doe'"):
        PRESETS["freescout"].interpret(closed, nothing)


def test_freescout_customer_message_is_an_update() -> None:
    """FreeScout's replies to customers carry no status; only user notifications decide."""
    reply = mail(
        subject="Re: Keyboard is missing two keys",
        headers={"X-FreeScout-Mail-Type": "customer.message"},
        text="A new keyboard is on your desk.",
    )
    verdict = PRESETS["freescout"].interpret(reply, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update"


def test_crlf_text_is_read_like_lf_text() -> None:
    """Line-anchored template lines still match when the parser keeps CRLF line ends."""
    glpi = load_sample("glpi-resolved.eml")
    crlf = replace(glpi, text=glpi.text.replace("\r\n", "\n").replace("\n", "\r\n"))
    facts = PRESETS["glpi"].interpret(crlf, nothing)
    assert isinstance(facts, TicketFacts)
    assert facts.resolution_note.startswith("Replaced the HDMI cable")


def test_zammad_rejects_an_original_request_whose_from_is_an_address_list() -> None:
    """Two addresses in the customer's From: which one asked cannot be told; rejected."""
    listed = replace(
        ZAMMAD_ORIGINAL,
        senders=(addr(f"Jane Doe <{JANE}>"), addr("Evil <evil@example.com>")),
    )
    with pytest.raises(InputError, match=r"2 addresses in From \(an address list\)") as raised:
        interpret("zammad-resolved.eml", Mailbox(listed))
    assert raised.value.origin == "zammad-resolved.eml"


def test_a_requester_address_list_read_from_the_notification_is_rejected() -> None:
    """A preset reading an address list from the notification text rejects the mail."""
    preset = replace(
        PRESETS["rt"],
        read=lambda mail_: Reading(
            "77", "resolved", "resolved", "Printer", requester_email="jane@example.org,evil@x.com"
        ),
    )
    with pytest.raises(InputError, match=r"requester in the .* notification: .* address list"):
        preset.interpret(mail(origin="Helpdesk uid 7"), nothing)


# --- item 7: a note is read to its real end ------------------------------------------------

SN_NOTE = (
    "We found a print job stuck in the queue of your printer.\n"
    "We cleared it and you\n"
    "can print again.\n"
    "\n"
    "If it happens again, restart the printer first."
)
GLPI_NOTE = (
    "Replaced the HDMI cable behind the wall plate.\n"
    "\n"
    "The projector shows the laptop picture again; the old cable is in the cupboard."
)
JIRA_NOTE = (
    "Updated the dock's firmware.\n\nBoth monitors are detected again;\nplease restart once."
)
ZAMMAD_NOTE = "I added your permission again.\n\nIt shows up in Outlook after a restart."


def _with_text(sample: str, old: str, new: str) -> ParsedMail:
    parsed = load_sample(sample)
    assert old in parsed.text, sample
    return replace(parsed, text=parsed.text.replace(old, new))


@pytest.mark.parametrize(
    ("sample", "old", "new", "note"),
    [
        (
            "servicenow-resolved.eml",
            "Cleared the cached credentials and registered MFA again; sign-in works.",
            SN_NOTE,
            SN_NOTE,
        ),
        (
            "glpi-resolved.eml",
            "Replaced the HDMI cable behind the wall plate; the projector shows the laptop "
            "picture again.",
            GLPI_NOTE,
            GLPI_NOTE,
        ),
        (
            "jsm-resolved.eml",
            "Updated the dock's firmware; both monitors are detected again.",
            JIRA_NOTE,
            JIRA_NOTE,
        ),
        (
            "zammad-resolved.eml",
            "> I added your permission on the shared mailbox again; it shows up in Outlook "
            "after a restart.",
            "> I added your permission again.\n\n> It shows up in Outlook after a restart.",
            ZAMMAD_NOTE,
        ),
    ],
)
def test_a_multi_line_note_is_read_to_its_end(sample: str, old: str, new: str, note: str) -> None:
    """A technician's note of several lines and paragraphs is kept whole, line breaks and all,
    and nothing of the template after it is taken in."""
    verdict = PRESETS[preset_of(sample)].interpret(
        _with_text(sample, old, new), Mailbox(ZAMMAD_ORIGINAL).find
    )
    assert isinstance(verdict, TicketFacts), verdict
    assert verdict.resolution_note == note


# --- item 1: the requester, never the watched mailbox --------------------------------------

MAILBOX = "notifier@it.example.org"
NOT_REQUESTERS = frozenset({MAILBOX, "it-helpdesk@example.org", "helpdesk@rt.example.org"})


def guarded(key: str) -> Any:
    return replace(PRESETS[key], not_requesters=NOT_REQUESTERS)


def test_a_watcher_copy_to_the_mailbox_uses_the_reporter_address_in_the_body() -> None:
    """Jira's copy addressed to the watched mailbox, display name the reporter's address, and
    the reporter given only as an address: the notice goes to that address, not to the mailbox."""
    jira = load_sample("jsm-resolved.eml")
    copy = replace(
        jira,
        to=(addr(f'"{JANE}" <{MAILBOX}>'),),
        text=jira.text.replace("Reporter: Jane Doe", f"Reporter: {JANE}"),
    )
    facts = guarded("jsm").interpret(copy, nothing)
    assert isinstance(facts, TicketFacts), facts
    assert facts.requester_email == JANE


def test_a_copy_to_the_mailbox_under_the_requesters_name_is_not_the_requester() -> None:
    """GLPI's copy To "Jane Doe" <the watched mailbox>, the body naming her without an address:
    nobody can be told with confidence, so it is an input problem naming the ticket and why."""
    glpi = load_sample("glpi-resolved.eml")
    copy = replace(glpi, to=(addr(f"Jane Doe <{MAILBOX}>"),))
    with pytest.raises(InputError, match=r"ticket 317: no requester address.*'Jane Doe'"):
        guarded("glpi").interpret(copy, nothing)


@pytest.mark.parametrize(
    "to",
    [
        "IT Helpdesk <it-helpdesk@example.org>",  # notifier's own From
        "RT <helpdesk@rt.example.org>",  # a trusted helpdesk sender
        f'"{JANE}" <support@rt.example.org>',  # a display name that is another address
    ],
)
def test_the_to_of_a_helpdesk_copy_is_never_the_requester(to: str) -> None:
    """RT's resolved mail blind-copied with To rewritten to a helpdesk address: no fallback."""
    rt = load_sample("rt-resolved.eml")
    with pytest.raises(InputError, match="ticket 1234: no requester address"):
        guarded("rt").interpret(replace(rt, to=(addr(to),)), nothing)


def test_a_to_whose_display_name_is_its_own_address_is_the_requester() -> None:
    """Outlook writes "jane.doe@example.org" <jane.doe@example.org>: that is still Jane."""
    rt = load_sample("rt-resolved.eml")
    facts = guarded("rt").interpret(replace(rt, to=(addr(f'"{JANE}" <{JANE}>'),)), nothing)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.requester_email, facts.requester_name) == (JANE, "")


def test_the_requester_in_the_html_part_is_used() -> None:
    """A copy to the mailbox whose HTML part names the caller with her address."""
    sn = load_sample("servicenow-resolved.eml")
    copy = replace(
        sn,
        to=(addr(f"IT Notifier <{MAILBOX}>"),),
        html_text=sn.html_text + "\nCaller: Jane Doe <jane.doe@example.org>\n",
    )
    facts = guarded("servicenow").interpret(copy, nothing)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.requester_email, facts.requester_name) == (JANE, "Jane Doe")


def test_a_requester_line_with_an_address_wins_over_to() -> None:
    """ "Requester : Jane Doe <address>" in GLPI's body is the requester, whatever To says."""
    glpi = load_sample("glpi-resolved.eml")
    copy = replace(
        glpi,
        to=(addr("Tom Tech <tom@it.example.org>"),),
        text=glpi.text.replace("Requester : Jane Doe", f"Requester : Jane Doe <{JANE}>"),
    )
    facts = guarded("glpi").interpret(copy, nothing)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.requester_email, facts.requester_name) == (JANE, "Jane Doe")


# --- item 3: what the products send the customer -------------------------------------------


def test_customer_facing_resolutions_carry_the_technicians_words() -> None:
    """osTicket's reply and the JSM customer notification carry the agent's text as the note;
    the Zammad trigger's text is the admin's template, so it gives none."""
    notes = {
        "osticket-reply-resolved.eml": "The VPN profile on your laptop was out of date, so the "
        "tunnel was\nrenewed every hour and dropped.\nI installed the new profile; the "
        "connection has now held for two hours.",
        "jsm-customer-resolved.eml": "Updated the dock's firmware.\nBoth monitors are detected "
        "again; restart once if one stays dark.",
        "zammad-trigger-resolved.eml": "",
    }
    for sample, note in notes.items():
        facts = interpret(sample)
        assert isinstance(facts, TicketFacts), facts
        assert facts.resolution_note == note, sample


@pytest.mark.parametrize("status", ["Open", "Pending"])
def test_an_osticket_reply_with_another_status_is_an_update(status: str) -> None:
    """Only Resolved or Closed in the reply's status line resolves; quoted lines never do."""
    reply = load_sample("osticket-reply-resolved.eml")
    other = replace(reply, text=reply.text.replace("Ticket status: Resolved", f"Status: {status}"))
    verdict = PRESETS["osticket"].interpret(other, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update"
    quoted = replace(
        reply, text=reply.text.replace("Ticket status: Resolved", "> Status: Resolved")
    )
    verdict = PRESETS["osticket"].interpret(quoted, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update"


def test_the_default_osticket_reply_without_a_status_line_is_an_update() -> None:
    """osTicket's default ticket.reply has no status: a reply alone is never taken for done."""
    reply = load_sample("osticket-reply-resolved.eml")
    plain = replace(reply, text=reply.text.replace("Ticket status: Resolved", ""))
    verdict = PRESETS["osticket"].interpret(plain, nothing)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Tom Tech resolved this as Done.", "resolved"),
        ("Request resolved", "resolved"),
        ("Your request status changed to Done.", "resolved"),
        ("Your request status changed to Waiting for customer.", "update"),
        ("Tom Tech reopened this request.", "reopened"),
    ],
)
def test_jsm_customer_notification_wordings(line: str, kind: str) -> None:
    """The customer notification's status sentence decides; a comment alone is an update."""
    sample = load_sample("jsm-customer-resolved.eml")
    text = sample.text.replace("Your request status changed to Resolved.", line)
    verdict = PRESETS["jsm"].interpret(replace(sample, text=text), nothing)
    got = "resolved" if isinstance(verdict, TicketFacts) else verdict.kind
    assert got == kind, verdict


def test_a_zammad_reply_to_the_customer_without_closing_is_an_update() -> None:
    """An agent's article mailed to the customer says nothing about the state."""
    trigger = load_sample("zammad-trigger-resolved.eml")
    reply = replace(
        trigger,
        subject="RE: Cannot open shared mailbox [Ticket#31001]",
        text="Could you send a screenshot of the error?\n\nTom Tech",
    )
    verdict = PRESETS["zammad"].interpret(reply, Mailbox(ZAMMAD_ORIGINAL).find)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "update"
