"""The technician's answer in folder mode: quotes, reply headers, signatures, greetings cut.

tests/data/mail/replies holds replies as Outlook (desktop and web), Gmail, Apple Mail and
Thunderbird write them in 12 languages, text and HTML-only; each ``<name>.eml`` has the
answer the requester should read in ``<name>.answer.txt``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.sources.mail.parse import parse_mail
from notifier.sources.mail.reply import extract_reply, strip_quoted
from notifier.sources.mail.rules import FolderInterpreter
from notifier.sources.mail.types import TicketFacts

REPLIES = Path(__file__).resolve().parents[1] / "data" / "mail" / "replies"
SAMPLES = sorted(REPLIES.glob("*.eml"))
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "ru", "ja", "zh")


def expected_answer(sample: Path) -> str:
    return sample.with_name(sample.stem + ".answer.txt").read_text(encoding="utf-8").strip()


def test_the_samples_cover_every_language_and_client() -> None:
    """At least 24 replies, every language twice, and the HTML-only shapes of Outlook and Gmail."""
    names = [sample.stem for sample in SAMPLES]
    assert len(names) >= 24
    for language in LANGUAGES:
        assert sum(name.startswith(f"{language}-") for name in names) >= 2, language
    raw = b"".join(sample.read_bytes() for sample in SAMPLES)
    for marker in (b"divRplyFwdMsg", b"appendonsend", b"gmail_quote", b"X-Mailer: Microsoft"):
        assert marker in raw.replace(b"=\n", b""), marker


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.stem for sample in SAMPLES])
def test_folder_mode_note_is_the_answer_alone(sample: Path) -> None:
    """Through the real parser and the folder interpreter: the note is the technician's answer,
    without greeting, sign-off, signature, mobile line, legal footer, reply header or quote."""
    mail = parse_mail(sample.read_bytes(), origin=sample.name)
    facts = FolderInterpreter().interpret(mail, lambda _message_id: None)
    assert isinstance(facts, TicketFacts)
    assert facts.resolution_note == expected_answer(sample)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        # A greeting before the answer on the same line goes, the answer stays.
        ("Hi Ann, the printer works again.\n\nTom", "the printer works again.\n\nTom"),
        ("Hallo Frau Becker, der Drucker geht wieder.", "der Drucker geht wieder."),
        ("Добрый день, Анна! Принтер снова работает.", "Принтер снова работает."),
        # ... but only a greeting and a name: "Hi, I think" or "Dear customer, ..." stay whole.
        ("Dear customers, the portal is back.", "Dear customers, the portal is back."),
        # "Thanks for ..." is a sentence, not a sign-off.
        (
            "Thanks for waiting: the share is back.\nBest,\nTom",
            "Thanks for waiting: the share is back.",
        ),
        # Bottom-posting (Thunderbird's default): the answer below the quote stays.
        (
            "On 04.03.24 09:00, Ann wrote:\n> help\n\nFixed the share.\n\n-- \nTom",
            "Fixed the share.",
        ),
        # A list in the answer is not a signature (mail-parser-reply's "- word" rule).
        ("Done:\n- new toner\n- test page\n\nRegards\nTom", "Done:\n- new toner\n- test page"),
        # "<who> wrote:" without a date only counts when a quote follows.
        ("The log wrote: disk full.\nI cleaned it.", "The log wrote: disk full.\nI cleaned it."),
        ("Cleaned it.\n\nAnn Smith wrote:\n> disk full", "Cleaned it."),
        # Gmail wraps long attributions over lines.
        (
            "Done.\n\nOn Mon, Mar 4, 2024 at 9:12 AM Ann Smith <\nann.smith@example.org> wrote:\n\n> x",
            "Done.",
        ),
        # French typography: a no-break space before the colon.
        ("C'est fait.\n\nLe 4 mars 2024, Claire a\u00a0écrit\u00a0:\n> aide", "C'est fait."),
        # An address names the writer of the quote even when no ">" follows (HTML turned text).
        ("Done.\n\nAnn Smith <ann@example.org> wrote:\n\nhelp me", "Done."),
        # Gmail's app: the attribution on top, the answer inline below it, unmarked.
        ('On 8 May 2024 17:34, "Ann" <ann@example.org> wrote:\n\nFixed it.', "Fixed it."),
        ("Fixed.\n\nSent from Outlook Mobile<https://aka.ms/x>\n", "Fixed."),
        # "Pozdrawiam serdecznie" (kind regards): the adverb is no name.
        ("Działa.\n\nPozdrawiam serdecznie\nTomasz\nDział IT, tel. 22 123 44 10", "Działa."),
        # Windows Mail's and phones' lines in other languages.
        ("Erledigt.\n\nGesendet von Mail für Windows", "Erledigt."),
        ("C'est réglé.\n\nEnvoyé à partir de Courrier pour Windows", "C'est réglé."),
        ("Klaar.\n\nVerzonden vanuit Mail voor Windows", "Klaar."),
        ("Готово.\n\nОтправлено из мобильной Почты", "Готово."),
        # Neighbouring languages: cs, fi.
        ("Hotovo.\n\nDne 4. 3. 2024 v 9:12 Jana Nováková napsal(a):\n> pomoc", "Hotovo."),
        ("Korjattu.\n\nma 4.3.2024 klo 9.12 Anna Virtanen kirjoitti:\n> apua", "Korjattu."),
        # A reply that is only a sign-off keeps its words rather than becoming empty.
        ("Thanks,\nTom", "Thanks,\nTom"),
        ("", ""),
        # A legal footer only when it closes the mail; a sentence mentioning it stays.
        (
            "The confidential e-mail archive is restored.\n\nTom",
            "The confidential e-mail archive is restored.\n\nTom",
        ),
    ],
)
def test_extract_reply_edges(text: str, answer: str) -> None:
    """What must stay and what must go in the cases rules get wrong most easily."""
    assert extract_reply(text) == answer


def test_strip_quoted_keeps_greeting_and_sign_off() -> None:
    """strip_quoted (used by the presets on notes) removes only quotes, headers and "-- "."""
    text = "Hi Ann,\n\nDone.\n\nBest regards,\nTom\n\nVon: Ann\nGesendet: Montag\n\nHilfe"
    assert strip_quoted(text) == "Hi Ann,\n\nDone.\n\nBest regards,\nTom"


def test_hostile_lines_cost_linear_time() -> None:
    """100,000 characters of near-attributions and near-headers, of tiny paragraphs, of
    attributions without quotes: all three read in well under two seconds."""
    line = "On 2024 <" + "a" * 300 + "@" + "b" * 300 + ">" + " wrote " * 30
    text = "\n".join([line, "From: x", "2024 " * 40 + "<a@b> :", "Am " + "schrieb " * 60] * 60)
    many_paragraphs = "Done.\n\n" + "a\n\n" * 33_000
    many_attributions = "x\n" + "On 4 Mar 2024, Ann wrote:\nmore\n" * 3_000
    started = time.perf_counter()
    for body in (text[:100_000], many_paragraphs, many_attributions[:100_000]):
        extract_reply(body)
    assert time.perf_counter() - started < 2.0  # quadratic was 340 s; linear is ~0.3 s


_REPLY_LINES = st.sampled_from(
    [
        "",
        "Hi Ann,",
        "Done.",
        "> quoted",
        "On Mon, 4 Mar 2024 at 09:12, Ann <ann@example.org> wrote:",
        "From: Ann <ann@example.org>",
        "Sent: Monday",
        "-- ",
        "Best regards,",
        "Tom",
        "Sent from my iPhone",
        "CONFIDENTIAL: this e-mail is for the addressee.",
        "2024年3月4日(月) 9:12 田中 <tanaka@example.jp>:",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_REPLY_LINES, st.text(max_size=60)), max_size=40))
def test_extract_reply_only_ever_keeps_the_writers_own_lines(lines: list[str]) -> None:
    """Whatever the body, nothing is invented: every line kept is (part of) an input line that
    is not quoted, and strip_quoted keeps at least what extract_reply keeps."""
    text = "\n".join(lines)
    kept = extract_reply(text).split("\n")
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    source = {line.strip() for line in normalised.split("\n")}
    for line in kept:
        assert not line or any(line.strip() in original for original in source)
        assert not line.lstrip().startswith(">")
    assert len(extract_reply(text)) <= len(strip_quoted(text)) or not strip_quoted(text)


@pytest.mark.parametrize("indent", ["\x1f", "\x0b", "\x0c", "\xa0", "\u2003", " \t"])
def test_a_quote_marker_after_any_whitespace_is_a_quote(indent: str) -> None:
    """Whitespace the kept lines are stripped of (str.strip) cannot hide a quote marker: a line
    "<control or no-break space>> old words" is quoted, not the writer's own (found by the
    property test above: extract_reply("\\x1f>") kept ">")."""
    text = f"Done, your printer works again.\n{indent}> When will the printer work?"
    assert extract_reply(text) == "Done, your printer works again."
    assert extract_reply(f"{indent}>") == ""
