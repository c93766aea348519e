"""Folder mode, match rules, the text helpers and build_interpreter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from notifier.core.errors import ConfigError, InputError
from notifier.sources.mail.interpreter import build_interpreter
from notifier.sources.mail.presets import PRESETS
from notifier.sources.mail.rules import (
    FolderInterpreter,
    MatchInterpreter,
    clean_title,
    compile_rule,
    strip_quoted,
)
from notifier.sources.mail.types import NotAResolution, ParsedMail, TicketFacts

from .mailbuilders import Mailbox, mail, nothing

REQUEST = mail(
    subject="Printer on floor 3 prints blank pages",
    sender="Jane Doe <jane@example.org>",
    to=["IT <it@example.org>"],
    text="Since this morning every page comes out blank.",
    message_id="<request-1@example.org>",
    date=datetime(2024, 3, 4, 8, 0, tzinfo=UTC),
)


def reply(**overrides: Any) -> ParsedMail:
    """A technician's answer to REQUEST; overrides any field."""
    fields: dict[str, Any] = {
        "subject": "RE: [IT] Printer on floor 3 prints blank pages",
        "sender": "Tom Tech <tom@it.example.org>",
        "to": ["Jane Doe <jane@example.org>"],
        "text": "Replaced the toner.\n\nOn Mon, 4 Mar 2024 Jane Doe wrote:\n> blank pages",
        "message_id": "<reply-1@it.example.org>",
        "in_reply_to": "<request-1@example.org>",
        "references": ["<request-1@example.org>"],
    }
    fields.update(overrides)
    return mail(**fields)


# --- titles and quotes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("Re: Printer broken", "Printer broken"),
        ("RE: Re: re: Printer broken", "Printer broken"),
        ("Fwd: FW: Printer broken", "Printer broken"),
        ("AW: WG: Drucker defekt", "Drucker defekt"),
        ("SV: Antw: Skrivare trasig", "Skrivare trasig"),
        # Outlook's and Gmail's prefixes in the other languages of the reply samples.
        ("R: Stampante non funziona", "Stampante non funziona"),
        ("RIF: Stampante non funziona", "Stampante non funziona"),
        ("RV: Portátil muy lento", "Portátil muy lento"),
        ("RES: ENC: Erro ao abrir o sistema", "Erro ao abrir o sistema"),
        ("Odp: PD: Drukarka sieciowa", "Drukarka sieciowa"),
        ("VB: Skärmen är svart", "Skärmen är svart"),
        ("Doorst: Outlook start niet op", "Outlook start niet op"),
        ("Ответ: Re: Не работает принтер", "Не работает принтер"),
        ("回复: 电脑无法连接网络", "电脑无法连接网络"),
        ("答复：转发：打印机卡纸", "打印机卡纸"),
        ("返信: 転送: プリンターが印刷できない", "プリンターが印刷できない"),
        ("[IT] Re: Printer broken", "Printer broken"),
        ("Re: [#123] Printer broken", "Printer broken"),
        ("[rt.example.org #42] Printer broken", "Printer broken"),
        ("(Ticket#10001) Printer broken", "Printer broken"),
        ("Re: Printer broken [Ticket#31001]", "Printer broken"),
        ("Re:   Printer\n broken  ", "Printer broken"),
        ("Need [urgent] help", "Need [urgent] help"),
        ("Reorder toner", "Reorder toner"),
    ],
)
def test_clean_title(subject: str, title: str) -> None:
    """Reply/forward prefixes and ticket tags go, repeated and in any case; real words stay."""
    assert clean_title(subject) == title


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("Done.\n\nOn Mon, 4 Mar 2024 at 09:00, Jane <j@x.org> wrote:\n> help", "Done."),
        ("Done.\n\nOn Mon, 4 Mar 2024 at 09:00, Jane Doe\n<j@x.org> wrote:\n> help", "Done."),
        ("Erledigt.\n\nAm 04.03.2024 um 09:00 schrieb Jane Doe <j@x.org>:\n> Hilfe", "Erledigt."),
        ("Done.\n\n-----Original Message-----\nFrom: Jane\nhelp", "Done."),
        ("Done.\n\nFrom: Jane Doe <j@x.org>\nSent: Monday\nTo: IT\nSubject: help", "Done."),
        ("Done.\n\nVon: Jane Doe\nGesendet: Montag\nAn: IT", "Done."),
        ("Done.\n> quoted line\nStill mine.", "Done.\nStill mine."),
        ("Done.\n\n-- \nTom Tech\nIT Service Desk", "Done."),
        ("  Line one.  \n\n\n\nLine two.\n\n", "Line one.\n\nLine two."),
        ("Done.\r\n\r\nOn Mon, Jane wrote:\r\n> x", "Done."),
    ],
)
def test_strip_quoted(text: str, note: str) -> None:
    """Only the technician's new words remain: quotes, Outlook headers, signature removed."""
    assert strip_quoted(text) == note


# --- folder mode ---------------------------------------------------------------------------


def test_folder_original_found_via_in_reply_to() -> None:
    """Requester and title come from the original request found through In-Reply-To."""
    box = Mailbox(REQUEST)
    facts = FolderInterpreter().interpret(reply(to=["someone@else.org"]), box.find)
    assert isinstance(facts, TicketFacts)
    assert (facts.requester_email, facts.requester_name) == ("jane@example.org", "Jane Doe")
    assert facts.title == "Printer on floor 3 prints blank pages"
    assert facts.ticket_id == facts.original_message_id == "<request-1@example.org>"
    assert facts.resolved_at == datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    assert facts.resolution_note == "Replaced the toner."
    assert box.lookups == ["<request-1@example.org>"]


def test_folder_original_found_via_references_newest_first() -> None:
    """Without In-Reply-To, References are tried newest first; the first found wins."""
    box = Mailbox(REQUEST)
    facts = FolderInterpreter().interpret(
        reply(in_reply_to="", references=["<request-1@example.org>", "<missing@example.org>"]),
        box.find,
    )
    assert isinstance(facts, TicketFacts)
    assert facts.requester_email == "jane@example.org"
    assert box.lookups == ["<missing@example.org>", "<request-1@example.org>"]


def test_folder_skips_the_technicians_own_earlier_mail() -> None:
    """An earlier message from the same technician in the thread is not the request."""
    earlier = mail(
        subject="Re: Printer on floor 3 prints blank pages",
        sender="Tom Tech <tom@it.example.org>",
        message_id="<tom-earlier@it.example.org>",
    )
    box = Mailbox(REQUEST, earlier)
    facts = FolderInterpreter().interpret(
        reply(
            in_reply_to="<tom-earlier@it.example.org>",
            references=["<request-1@example.org>", "<tom-earlier@it.example.org>"],
        ),
        box.find,
    )
    assert isinstance(facts, TicketFacts)
    assert facts.requester_email == "jane@example.org"
    assert facts.original_message_id == "<request-1@example.org>"


def test_folder_original_not_found_uses_reply_to_field() -> None:
    """With the original gone, the reply's first To (not the sender) is the requester."""
    facts = FolderInterpreter().interpret(
        reply(to=["Tom Tech <tom@it.example.org>", "Jane Doe <jane@example.org>"]),
        nothing,
    )
    assert isinstance(facts, TicketFacts)
    assert facts.requester_email == "jane@example.org"
    assert facts.title == "Printer on floor 3 prints blank pages"
    # No original: the ticket is the message the reply answers, and the notice threads there.
    assert facts.ticket_id == facts.original_message_id == "<request-1@example.org>"


def test_folder_falls_back_to_the_configured_header() -> None:
    """When To holds only the sender, a configured header such as X-Requester names the requester."""
    message = reply(
        to=["Tom Tech <tom@it.example.org>"],
        headers={"X-Requester": "Jane Doe <jane@example.org>"},
    )
    facts = FolderInterpreter(requester_header="X-Requester").interpret(message, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.requester_email, facts.requester_name) == ("jane@example.org", "Jane Doe")


def test_folder_without_any_requester_is_input_error() -> None:
    """A reply with no original, no other recipient and no header is unusable input."""
    with pytest.raises(InputError, match=r"no requester address.*X-Requester"):
        FolderInterpreter(requester_header="X-Requester").interpret(
            reply(to=["Tom Tech <tom@it.example.org>"]),
            nothing,
        )


def test_folder_never_takes_a_helpdesk_address_from_to() -> None:
    """With the original gone and the reply addressed to the helpdesk only, the To is no
    requester: an input problem says why, instead of a notice meant for the helpdesk (which
    the last-line guard then suppressed, hiding that the requester was never found)."""
    interpreter = FolderInterpreter(not_requesters=("helpdesk@it.example.org",))
    message = reply(to=["IT Helpdesk <HelpDesk@it.example.org>"], in_reply_to="", references=[])
    with pytest.raises(InputError, match=r"no requester address.*helpdesk's own"):
        interpreter.interpret(message, nothing)
    also = reply(to=["IT Helpdesk <helpdesk@it.example.org>", "Jane Doe <jane@example.org>"])
    facts = interpreter.interpret(also, nothing)
    assert isinstance(facts, TicketFacts) and facts.requester_email == "jane@example.org"


def test_folder_standalone_message_uses_its_own_message_id() -> None:
    """A message answering nothing is its own ticket; its Date is the resolution time."""
    facts = FolderInterpreter().interpret(
        reply(in_reply_to="", references=[], subject="Fwd: Toner replaced"),
        nothing,
    )
    assert isinstance(facts, TicketFacts)
    assert facts.ticket_id == "<reply-1@it.example.org>"
    assert facts.title == "Toner replaced"
    assert facts.original_message_id == ""


# --- match mode ----------------------------------------------------------------------------


def test_match_named_groups_from_subject_and_body() -> None:
    """Named groups fill ticket id, requester, title, team and note."""
    rule = compile_rule(
        "helpdesk",
        senders=["@helpdesk.example.org"],
        subject=r"^\[HD-(?P<ticket_id>\d+)\] Closed: (?P<title>.+)$",
        body=r"(?m)^Requester: (?P<requester_name>[^<]+) <(?P<requester>[^>]+)>$"
        r"[\s\S]*^Team: (?P<team>.+)$[\s\S]*^Resolution: (?P<resolution_note>.+)$",
    )
    message = mail(
        subject="[HD-991] Closed: New badge for Jane",
        sender="Helpdesk <NoReply@HELPDESK.example.org>",
        to=["it-archive@example.org"],
        text="Requester: Jane Doe <jane@example.org>\nTeam: Facilities\nResolution: Badge printed.\n",
    )
    facts = MatchInterpreter([rule]).interpret(message, nothing)
    assert isinstance(facts, TicketFacts)
    assert facts.ticket_id == "991"
    assert (facts.requester_email, facts.requester_name) == ("jane@example.org", "Jane Doe")
    assert (facts.title, facts.team) == ("New badge for Jane", "Facilities")
    assert facts.resolution_note == "Badge printed."
    assert facts.fields == {"mode": "match", "rule": "helpdesk"}


def test_match_first_matching_rule_wins() -> None:
    """Rules are tried in order; a later rule never overrides an earlier match."""
    first = compile_rule(
        "first", subject=r"Closed (?P<ticket_id>\d+)", body="(?P<requester>a@x.org)"
    )
    second = compile_rule("second", subject=r"Closed", body="(?P<requester>b@x.org)")
    message = mail(subject="Closed 5", text="a@x.org b@x.org")
    facts = MatchInterpreter([first, second]).interpret(message, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.fields["rule"], facts.requester_email) == ("first", "a@x.org")
    facts = MatchInterpreter([second, first]).interpret(message, nothing)
    assert isinstance(facts, TicketFacts)
    assert facts.fields["rule"] == "second"


def test_match_every_condition_must_hold() -> None:
    """A rule with sender, header and subject conditions fails if any one fails."""
    rule = compile_rule(
        "tool",
        senders=["tool@example.org"],
        headers={"X-Tool-Event": "^resolved$"},
        subject="(?P<ticket_id>T-\\d+)",
    )
    interpreter = MatchInterpreter([rule])
    good = mail(
        subject="T-7 done",
        sender="tool@example.org",
        headers={"X-Tool-Event": "resolved"},
        in_reply_to="<request-1@example.org>",
    )
    assert isinstance(interpreter.interpret(good, Mailbox(REQUEST).find), TicketFacts)
    for bad in (
        mail(subject="T-7 done", sender="other@example.org", headers={"X-Tool-Event": "resolved"}),
        mail(subject="T-7 done", sender="tool@example.org", headers={"X-Tool-Event": "updated"}),
        mail(subject="T-7 done", sender="tool@example.org"),
        mail(subject="nothing", sender="tool@example.org", headers={"X-Tool-Event": "resolved"}),
    ):
        assert interpreter.interpret(bad, nothing) == NotAResolution("no_match", "matches no rule")


def test_match_requester_falls_back_to_the_original_request() -> None:
    """Without a requester group, the original request in the thread names the requester."""
    rule = compile_rule("any-closed", subject=r"^Closed:")
    message = mail(subject="Closed: printer", in_reply_to="<request-1@example.org>")
    facts = MatchInterpreter([rule]).interpret(message, Mailbox(REQUEST).find)
    assert isinstance(facts, TicketFacts)
    assert facts.requester_email == "jane@example.org"
    assert facts.ticket_id == "<request-1@example.org>"
    assert facts.title == "Printer on floor 3 prints blank pages"


def test_match_without_any_requester_is_input_error() -> None:
    """A matching message with no requester anywhere is bad input naming the rule."""
    rule = compile_rule("any-closed", subject=r"^Closed:")
    with pytest.raises(InputError, match="rule 'any-closed' matched but found no requester"):
        MatchInterpreter([rule]).interpret(mail(subject="Closed: printer"), nothing)


def test_match_requester_group_must_be_an_address() -> None:
    """A requester group that captured a name instead of an address is rejected clearly."""
    rule = compile_rule("loose", subject=r"^Closed for (?P<requester>\w+)")
    with pytest.raises(InputError, match="'jane' is not an email address"):
        MatchInterpreter([rule]).interpret(mail(subject="Closed for jane"), nothing)


def test_compile_rule_bad_regex_names_rule_and_regex() -> None:
    """An invalid regex is a ConfigError naming the rule, the field and the pattern."""
    with pytest.raises(ConfigError, match=r"imap.rules 'broken': subject regex '\(unclosed'"):
        compile_rule("broken", subject="(unclosed")
    with pytest.raises(ConfigError, match=r"imap.rules 'broken': header 'X-Event' regex"):
        compile_rule("broken", headers={"X-Event": "[z-a]"})


def test_compile_rule_unknown_group_is_config_error() -> None:
    """Only the documented named groups are allowed."""
    with pytest.raises(ConfigError, match=r"'grp'.*unknown named group\(s\) ticket"):
        compile_rule("grp", body=r"(?P<ticket>\d+)")


def test_compile_rule_bad_sender_is_config_error() -> None:
    """A sender entry must be an address or '@domain'."""
    with pytest.raises(ConfigError, match="sender 'helpdesk' is neither"):
        compile_rule("s", senders=["helpdesk"])


# --- build_interpreter ---------------------------------------------------------------------


def test_build_interpreter_modes() -> None:
    """Each mode builds its interpreter with the configured options."""
    folder = build_interpreter("folder", requester_header="X-Requester")
    assert folder == FolderInterpreter(requester_header="X-Requester")
    rule = compile_rule("r", subject="x")
    match = build_interpreter("match", rules=[rule])
    assert isinstance(match, MatchInterpreter) and list(match.rules) == [rule]
    assert build_interpreter("preset", preset="glpi") is PRESETS["glpi"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "imap"}, "imap.mode: unknown mode 'imap'"),
        ({"mode": "preset", "preset": "otrs"}, "imap.preset: unknown preset 'otrs'; known: "),
        ({"mode": "preset"}, "imap.preset: mode = 'preset' needs a preset"),
        ({"mode": "match"}, r"imap.rules: mode = 'match' needs at least one"),
    ],
)
def test_build_interpreter_config_errors(kwargs: dict[str, str], message: str) -> None:
    """A bad mode or preset is a ConfigError naming the key and the value."""
    mode = kwargs.pop("mode")
    with pytest.raises(ConfigError, match=message):
        build_interpreter(mode, **kwargs)  # type: ignore[arg-type]


# --- address lists where one requester is expected ----------------------------------------


def test_folder_rejects_an_original_request_from_an_address_list() -> None:
    listed = mail(
        subject=REQUEST.subject,
        sender="Jane Doe <jane@example.org>, Evil <evil@example.com>",
        message_id="<request-1@example.org>",
    )
    with pytest.raises(InputError, match=r"2 addresses in From \(an address list\)") as raised:
        FolderInterpreter().interpret(reply(origin="Support uid 12"), Mailbox(listed).find)
    assert raised.value.origin == "Support uid 12"


@pytest.mark.parametrize(
    "value",
    ["jane@example.org, evil@example.com", "jane@example.org; evil@example.com",
     '"Jane" <jane@example.org>, <evil@example.com>'],
)  # fmt: skip
def test_folder_rejects_an_address_list_in_the_requester_header(value: str) -> None:
    message = reply(in_reply_to="", references=[], to=[], headers={"X-Requester": value})
    with pytest.raises(InputError, match="the X-Requester header holds 2 addresses"):
        FolderInterpreter(requester_header="X-Requester").interpret(message, nothing)


def test_match_rejects_an_address_list_in_the_requester_group() -> None:
    rule = compile_rule("lists", subject=r"^Closed for (?P<requester>\S+)$")
    with pytest.raises(InputError, match=r"requester in rule 'lists': .* address list") as raised:
        MatchInterpreter([rule]).interpret(
            mail(subject="Closed for jane@example.org,evil@example.com", origin="Desk uid 3"),
            nothing,
        )
    assert raised.value.origin == "Desk uid 3"


def test_match_rejects_an_original_request_from_an_address_list() -> None:
    rule = compile_rule("any-closed", subject=r"^Closed:")
    listed = mail(sender="a@example.org, b@example.org", message_id="<req@example.org>")
    message = mail(subject="Closed: printer", in_reply_to="<req@example.org>")
    with pytest.raises(InputError, match=r"2 addresses in From"):
        MatchInterpreter([rule]).interpret(message, Mailbox(listed).find)


# --- match rules: header groups, the helpdesk's own addresses, update and reopen -----------

ROUNDUP_STYLE = mail(
    subject="[issue7] Printer on floor 2 is jammed",
    sender="IT Help <it-help@tracker.example.org>",
    to=["Anna Schmidt <anna@example.org>", "Tom Tech <tom@it.example.org>"],
    headers={
        "X-Roundup-issue-status": "resolved",
        "To": "Anna Schmidt <anna@example.org>, Tom Tech <tom@it.example.org>",
    },
    text="I cleared the paper jam.\n",
    message_id="<n-7@tracker.example.org>",
)


def test_match_named_groups_in_a_header_regex_fill_the_ticket() -> None:
    """A named group in a ``headers`` regex counts like one in subject or body (it used to
    pass check-config and be silently ignored)."""
    rule = compile_rule(
        "tool",
        headers={"X-Tool-Ticket": r"^HD-(?P<ticket_id>\d+)$", "X-Tool-Team": "(?P<team>.+)"},
        subject="^Closed",
        body="(?P<requester>jane@example.org)",
    )
    message = mail(
        subject="Closed: badge",
        headers={"X-Tool-Ticket": "HD-42", "X-Tool-Team": "Facilities"},
        text="for jane@example.org",
    )
    facts = MatchInterpreter([rule]).interpret(message, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.ticket_id, facts.team) == ("42", "Facilities")


def test_match_requester_from_a_header_list_skips_the_helpdesks_own_addresses() -> None:
    """Roundup lists requester and technician in one To: the helpdesk's own addresses are
    never the requester, and the one left is."""
    rule = compile_rule(
        "roundup",
        headers={"X-Roundup-issue-status": "^resolved$", "To": "(?P<requester>.+)"},
        subject=r"^\[issue(?P<ticket_id>\d+)\]",
    )
    interpreter = MatchInterpreter([rule], not_requesters=("tom@it.example.org",))
    facts = interpreter.interpret(ROUNDUP_STYLE, nothing)
    assert isinstance(facts, TicketFacts)
    assert (facts.requester_email, facts.requester_name) == ("anna@example.org", "Anna Schmidt")
    with pytest.raises(InputError, match="address list"):  # two left: which asked is unknown
        MatchInterpreter([rule]).interpret(ROUNDUP_STYLE, nothing)


def test_match_requester_header_skips_the_helpdesks_own_addresses() -> None:
    rule = compile_rule("any", subject=r"^\[issue(?P<ticket_id>\d+)\]")
    message = mail(
        subject="[issue7] Printer", headers={"X-Requester": "IT <it@example.org>, jane@example.org"}
    )
    interpreter = MatchInterpreter(
        [rule], requester_header="X-Requester", not_requesters=("IT@example.org",)
    )
    facts = interpreter.interpret(message, nothing)
    assert isinstance(facts, TicketFacts)
    assert facts.requester_email == "jane@example.org"


@pytest.mark.parametrize("means", ["update", "reopened"])
def test_a_match_rule_can_mean_an_update_or_a_reopen(means: str) -> None:
    """Rules are tried in order, so an update or reopen rule before the resolved one stops a
    "resolved -> chatting" mail from counting as a resolution; the ticket id lines up."""
    reopen = compile_rule(
        "open again",
        means=means,
        headers={"X-Roundup-issue-status": "^(?!resolved$)"},
        subject=r"^\[issue(?P<ticket_id>\d+)\]",
    )
    resolved = compile_rule(
        "resolved", subject=r"^\[issue(?P<ticket_id>\d+)\]", headers={"To": "(?P<requester>.+)"}
    )
    rules = MatchInterpreter([reopen, resolved], not_requesters=("tom@it.example.org",))
    message = mail(
        subject="[issue7] Printer on floor 2 is jammed",
        headers={"X-Roundup-issue-status": "chatting"},
    )
    verdict = rules.interpret(message, nothing)
    assert verdict == NotAResolution(means, "rule 'open again' matched", "7")
    facts = rules.interpret(ROUNDUP_STYLE, nothing)
    assert isinstance(facts, TicketFacts) and facts.ticket_id == "7"


def test_a_reopen_rule_needs_a_ticket_id() -> None:
    rule = compile_rule("reopen", means="reopened", subject="^Reopened")
    with pytest.raises(InputError, match="rule 'reopen' matched but found no ticket id"):
        MatchInterpreter([rule]).interpret(mail(subject="Reopened", message_id=""), nothing)


def test_compile_rule_refuses_an_unknown_meaning() -> None:
    with pytest.raises(ConfigError, match=r"imap\.rules 'r': means 'closed' is not one of"):
        compile_rule("r", means="closed", subject="x")


def test_a_requester_group_holding_only_the_helpdesks_own_address_falls_back_to_the_thread() -> (
    None
):
    """The helpdesk's own address is never the requester, bare or in a list: the original
    request in the thread names the requester instead (no notice to the helpdesk itself)."""
    rule = compile_rule("own", subject=r"^Closed for (?P<requester>\S+)$")
    interpreter = MatchInterpreter([rule], not_requesters=("it@example.org",))
    message = mail(subject="Closed for IT@example.org", in_reply_to="<request-1@example.org>")
    facts = interpreter.interpret(message, Mailbox(REQUEST).find)
    assert isinstance(facts, TicketFacts) and facts.requester_email == "jane@example.org"
    with pytest.raises(InputError, match="found no requester"):
        interpreter.interpret(mail(subject="Closed for it@example.org"), nothing)
