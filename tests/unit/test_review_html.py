"""The HTML part goes through the plain-language gate too, as the text a reader sees in it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from notifier.core.marks import mark_data
from notifier.core.model import RenderedMessage
from notifier.core.review import PolicyMode, Review, review
from notifier.plain import Analysis, Gate

TEXT = "Hi Jane,\n\nYour laptop works again.\n\nThanks,\nService Desk\n"
PLAIN_HTML = "<p>Hi Jane,</p><p>Your laptop works again.</p><p>Thanks,<br>Service Desk</p>"
# The template's own words in the HTML part only: a footer the text part does not have.
JARGON_FOOTER = PLAIN_HTML + "<p>We flushed the DNS cache on 10.0.0.12 for you.</p>"
# A ticket value only the HTML template shows (a field the text template leaves out).
DATA_ONLY_IN_HTML = PLAIN_HTML + f"<p>Details: {mark_data('re-provisioned your VPN profile')}</p>"
REPLACEABLE_ONLY = PLAIN_HTML + "<p>We rebooted it once more.</p>"


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate()


def rendered(html: str | None, text: str = TEXT) -> RenderedMessage:
    return RenderedMessage(
        subject="Your laptop works again",
        text=text,
        html=html,
        template="service-desk/resolved",
        template_version="test",
    )


def html_findings(checked: Review) -> list[tuple[str, str, str]]:
    return [(f.kind, f.text, f.origin) for f in checked.findings if f.part == "html"]


@pytest.mark.parametrize("mode", ["warn", "hold", "rewrite"])
def test_a_plain_html_part_is_sent_as_it_is(gate: Gate, mode: PolicyMode) -> None:
    checked = review(rendered(PLAIN_HTML), gate, mode)
    assert checked.html == PLAIN_HTML and not checked.html_left_out
    assert checked.findings == () and checked.hold_reason == ""


def test_warn_sends_the_html_part_and_records_its_own_findings(gate: Gate) -> None:
    checked = review(rendered(JARGON_FOOTER), gate, "warn")
    assert checked.html == JARGON_FOOTER and checked.hold_reason == ""
    assert ("ipv4", "10.0.0.12", "template") in html_findings(checked)
    assert ("glossary", "flushed the DNS cache", "template") in html_findings(checked)


def test_hold_holds_for_blocking_words_that_only_the_html_part_has(gate: Gate) -> None:
    checked = review(rendered(DATA_ONLY_IN_HTML), gate, "hold")
    assert "re-provisioned" in checked.hold_reason
    assert ("glossary", "re-provisioned", "data") in html_findings(checked)


@pytest.mark.parametrize("html", [JARGON_FOOTER, DATA_ONLY_IN_HTML, REPLACEABLE_ONLY])
def test_rewrite_leaves_out_an_html_part_it_cannot_rewrite_and_sends_the_text(
    gate: Gate, html: str
) -> None:
    """The text part is clean: the notice goes out as plain text, not held, not rewritten."""
    checked = review(rendered(html), gate, "rewrite")
    assert checked.html is None and checked.html_left_out
    assert checked.hold_reason == "" and not checked.rewritten
    assert checked.text == TEXT
    assert html_findings(checked)  # recorded for the template's owners


def test_findings_the_text_part_already_has_are_not_repeated_for_the_html(gate: Gate) -> None:
    note = "We flushed the DNS cache on 10.0.0.12."
    text = TEXT.replace("Your laptop works again.", mark_data(note))
    html = PLAIN_HTML.replace("Your laptop works again.", mark_data(note))
    checked = review(rendered(html, text=text), gate, "warn")
    assert {f.part for f in checked.findings} == {"text"}
    assert checked.html is not None  # warn sends it, with the same words the text has


def test_a_message_without_an_html_part_is_unchanged(gate: Gate) -> None:
    checked = review(rendered(None), gate, "rewrite")
    assert checked.html is None and not checked.html_left_out and checked.findings == ()


@pytest.mark.parametrize("mode", ["hold", "rewrite"])
def test_a_shorter_html_part_is_not_scored_again(gate: Gate, mode: PolicyMode) -> None:
    """How a message reads is judged on the text part. The HTML part without the reply line has
    a higher share of unfamiliar words (over the blocking limit here), but says nothing new."""
    note = mark_data("We recalibrated the thermal assembly.")
    text = (
        f"Hi Jane,\n\n{note}\n\nIs something still wrong? Just reply to this email. We will "
        "look at it again.\n\nThanks for your patience,\nService Desk\n"
    )
    html = f"<p>Hi Jane,</p><p>{note}</p><p>Thanks for your patience,<br>Service Desk</p>"
    checked = review(rendered(html, text=text), gate, mode)
    assert checked.findings == () and checked.hold_reason == ""
    assert checked.html is not None and not checked.html_left_out


def test_a_hold_for_the_html_part_says_so(gate: Gate) -> None:
    checked = review(rendered(JARGON_FOOTER), gate, "hold")
    assert "ipv4 '10.0.0.12' (HTML part)" in checked.hold_reason


def test_html_the_converter_cannot_read_is_still_checked_with_its_tags_stripped(
    gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template's odd markup must not stop the pass: its words are checked all the same."""

    def broken(html: str) -> str:
        raise AssertionError("unknown status keyword in marked section")  # as html.parser did

    monkeypatch.setattr("notifier.core.review.html_to_text", broken)
    checked = review(rendered(JARGON_FOOTER), gate, "hold")
    assert ("ipv4", "10.0.0.12", "template") in html_findings(checked)
    assert "(HTML part)" in checked.hold_reason


class CountingGate(Gate):
    """The real gate, counting the texts it is asked to analyse."""

    calls = 0

    def analyze(
        self, text: str, *, language: str = "en", protected: Sequence[tuple[int, int]] = ()
    ) -> Analysis:
        CountingGate.calls += 1
        return super().analyze(text, language=language, protected=protected)


@pytest.mark.parametrize(
    ("html", "analysed"),
    [
        (PLAIN_HTML, 2),  # the text part's words in another layout: subject and text only
        (PLAIN_HTML.replace("Thanks,", '<a href="https://it.example.org">Thanks</a>,'), 3),
        (JARGON_FOOTER, 3),
    ],
)
def test_an_html_part_with_the_text_parts_words_is_not_analysed_again(
    html: str, analysed: int
) -> None:
    CountingGate.calls = 0
    review(rendered(html), CountingGate(), "warn")
    assert CountingGate.calls == analysed
