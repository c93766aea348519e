"""One IMAP source, many products: the preset is picked per mail (issue 15 item 4)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.core.errors import ConfigError, InputError
from notifier.runtime.config import ImapSettings
from notifier.sources.mail.products import TRIAL_ORDER, build_presets, products_of
from notifier.sources.mail.rules import FolderInterpreter
from notifier.sources.mail.types import NotAResolution, TicketFacts

from .mailbuilders import SAMPLES, Mailbox, addr, load_sample, mail
from .test_mailpresets import NOT_RESOLVED, RESOLVED, ZAMMAD_ORIGINAL, preset_of

ALL = sorted(p.name for p in SAMPLES.glob("*.eml"))


@pytest.mark.parametrize("sample", ALL)
def test_every_sample_carries_exactly_its_products_marks(sample: str) -> None:
    """Each product's default headers or sender name it, and no other product."""
    assert products_of(load_sample(sample)) == (preset_of(sample),)


@pytest.mark.parametrize(("sample", "ticket_id", "requester", "title"), [r for r in RESOLVED])
def test_auto_reads_every_products_resolution(
    sample: str, ticket_id: str, requester: str, title: str
) -> None:
    """presets = "auto" gives the same facts as the product's own preset."""
    facts = build_presets("auto").interpret(load_sample(sample), Mailbox(ZAMMAD_ORIGINAL).find)
    assert isinstance(facts, TicketFacts), facts
    assert (facts.ticket_id, facts.requester_email, facts.title) == (ticket_id, requester, title)
    assert facts.fields["preset"] == preset_of(sample)


@pytest.mark.parametrize(("sample", "kind", "ticket_id"), NOT_RESOLVED)
def test_auto_reads_every_products_update_and_reopen(
    sample: str, kind: str, ticket_id: str
) -> None:
    verdict = build_presets("auto").interpret(load_sample(sample), Mailbox().find)
    assert isinstance(verdict, NotAResolution)
    assert (verdict.kind, verdict.ticket_id) == (kind, ticket_id)


def test_a_loose_reader_never_takes_another_products_marked_mail() -> None:
    """osTicket reads any "[#123]" subject; a FreeScout mail with its header is FreeScout's,
    and with only osTicket configured it is no match, not an osTicket update."""
    freescout = load_sample("freescout-reopened.eml")
    verdict = build_presets(["osticket"]).interpret(freescout, Mailbox().find)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "no_match"
    assert "FreeScout" in verdict.reason and "osticket" in verdict.reason


def test_unmarked_mail_is_offered_to_every_preset_and_a_decision_wins() -> None:
    """A relay that dropped the product headers: osTicket's "Closed" subject still decides,
    although Freshdesk's reader would have called the same "[#n]" subject an update."""
    closed = load_sample("osticket-resolved.eml")
    bare = replace(closed, headers={k: v for k, v in closed.headers.items() if k != "x-mailer"})
    assert products_of(bare) == ()
    facts = build_presets(["freshdesk", "osticket"]).interpret(bare, Mailbox().find)
    assert isinstance(facts, TicketFacts) and facts.fields["preset"] == "osticket"


def test_folder_mode_an_unmarked_update_is_a_technicians_reply() -> None:
    """In folder mode a technician's own reply whose subject carries "[#123]" is a reply that
    resolves the request, not a product's update."""
    request = mail(
        subject="VPN disconnects every hour",
        sender="Sam Lee <sam.lee@example.org>",
        message_id="<sam-1@example.org>",
    )
    reply = mail(
        subject="Re: VPN disconnects every hour [#482913]",
        sender="Tom Tech <tom@it.example.org>",
        to=["Sam Lee <sam.lee@example.org>"],
        in_reply_to="<sam-1@example.org>",
        text="New VPN profile installed; it holds now.",
    )
    chooser = build_presets("auto", otherwise=FolderInterpreter(), folder_mode=True)
    facts = chooser.interpret(reply, Mailbox(request).find)
    assert isinstance(facts, TicketFacts) and facts.fields == {"mode": "folder"}
    assert facts.requester_email == "sam.lee@example.org"


def test_preset_mode_unrecognised_mail_is_no_match() -> None:
    verdict = build_presets("auto").interpret(mail(subject="Lunch?"), Mailbox().find)
    assert isinstance(verdict, NotAResolution) and verdict.kind == "no_match"


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (["rt", "nope"], "unknown preset 'nope'"),
        ("all", "use 'auto' or a list"),
        ([], "the list is empty"),
    ],
)
def test_bad_preset_lists_are_configuration_errors(chosen: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_presets(chosen)


def test_auto_covers_every_preset() -> None:
    from notifier.sources.mail.presets import PRESETS

    assert set(TRIAL_ORDER) == set(PRESETS)
    assert [p.key for p in build_presets("auto").presets] == list(TRIAL_ORDER)


BOX: dict[str, Any] = {
    "name": "mail",
    "host": "imap.example.org",
    "username": "notifier@it.example.org",
    "password_file": "/etc/notifier/imap-password",
}


def test_the_old_preset_key_is_a_one_item_presets_list() -> None:
    old = ImapSettings.model_validate({**BOX, "mode": "preset", "preset": "rt"})
    new = ImapSettings.model_validate({**BOX, "mode": "preset", "presets": ["rt"]})
    assert old.preset_keys == new.preset_keys == ["rt"]
    auto = ImapSettings.model_validate({**BOX, "mode": "folder", "presets": "auto"})
    assert auto.preset_keys == "auto"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mode": "preset", "preset": "rt", "presets": ["rt"]}, "not both"),
        ({"mode": "preset"}, "needs presets"),
        ({"mode": "preset", "presets": []}, "names no preset"),
    ],
)
def test_inconsistent_preset_settings_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImapSettings.model_validate({**BOX, **extra})


# --- no notice to the helpdesk's own addresses, whatever the mail says ---------------------

MAILBOX = "notifier@it.example.org"
OWN_FROM = "it-helpdesk@example.org"
TRUSTED = "helpdesk@rt.example.org"
BLOCKED = (MAILBOX, OWN_FROM, TRUSTED)
PEOPLE = ("jane.doe@example.org", "sam.lee@example.org")
ANYONE = st.sampled_from(BLOCKED + PEOPLE)
DISPLAY = st.sampled_from(["", "Jane Doe", "Sam Lee", *BLOCKED, *PEOPLE])


@st.composite
def copies(draw: st.DrawFn) -> Any:
    """Any product's sample with To, Reply-To and the body's requester lines rewritten."""
    sample = load_sample(draw(st.sampled_from(ALL)))
    to = tuple(
        addr(f'"{name}" <{address}>' if name else address)
        for name, address in draw(st.lists(st.tuples(DISPLAY, ANYONE), max_size=3))
    )
    reply_to = tuple(addr(a) for a in draw(st.lists(ANYONE, max_size=1)))
    lines = "".join(
        f"\n{label}: {who}\n"
        for label, who in draw(
            st.lists(st.tuples(st.sampled_from(["Reporter", "Requester", "Caller"]), ANYONE),
                     max_size=2)
        )
    )  # fmt: skip
    where = draw(st.sampled_from(["text", "html_text"]))
    return replace(sample, to=to, reply_to=reply_to, **{where: getattr(sample, where) + lines})


@given(copies())
@settings(max_examples=200, deadline=None)
def test_no_preset_ever_picks_the_mailbox_notifiers_from_or_a_trusted_sender(copy: Any) -> None:
    """Whatever To, Reply-To and requester lines a notification carries, the requester is never
    one of the helpdesk's own addresses: either someone else, or nobody (recorded)."""
    chooser = build_presets("auto", not_requesters=BLOCKED)
    try:
        verdict = chooser.interpret(copy, Mailbox(ZAMMAD_ORIGINAL).find)
    except InputError:
        return
    if isinstance(verdict, TicketFacts):
        assert verdict.requester_email.lower() not in BLOCKED
        assert "@" not in verdict.requester_name


def test_the_helpdesks_own_addresses_come_from_the_configuration() -> None:
    """The watched mailbox, notifier's From, the teams' Reply-To and exact trusted senders are
    never requesters; a trusted domain is not blocked (it may be the requesters' own)."""
    from notifier.runtime.bootstrap import _not_requesters
    from notifier.runtime.config import Settings

    settings = Settings.model_validate(
        {
            "smtp": {"host": "smtp.example.org", "from_address": OWN_FROM},
            "teams": {"it": {"reply_to": "desk@example.org"}},
            "imap": [{**BOX, "trusted_senders": [TRUSTED, "@zammad.example.org"]}],
        }
    )
    assert set(_not_requesters(settings, settings.imap[0])) == {
        MAILBOX,
        OWN_FROM,
        TRUSTED,
        "desk@example.org",
    }


@pytest.mark.parametrize("sample", ["jsm-customer-resolved.eml", "servicenow-resolved.eml"])
def test_a_technicians_reply_quoting_a_notification_is_not_the_products_mail(sample: str) -> None:
    """Folder mode: a technician's own reply that quotes a product's notification (its footer,
    its watermark, its "resolved" sentence) is a reply, read by folder mode."""
    quoted = "\n".join(f"> {line}" for line in load_sample(sample).text.splitlines())
    request = mail(
        subject="Dock", sender="Sam Lee <sam.lee@example.org>", message_id="<sam-2@example.org>"
    )
    reply = mail(
        subject="Re: Dock",
        to=["Sam Lee <sam.lee@example.org>"],
        in_reply_to="<sam-2@example.org>",
        text=f"Same fix as for Jane: firmware updated.\n\n{quoted}",
    )
    assert products_of(reply) == ()
    chooser = build_presets("auto", otherwise=FolderInterpreter(), folder_mode=True)
    facts = chooser.interpret(reply, Mailbox(request).find)
    assert isinstance(facts, TicketFacts) and facts.fields == {"mode": "folder"}


def test_a_single_preset_name_as_a_string_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"presets = 'rt': use a list, presets = \['rt'\]"):
        ImapSettings.model_validate({**BOX, "mode": "preset", "presets": "rt"})
