"""The gate as a whole: the issue's examples, protected spans, rewriting, languages, scores."""

from __future__ import annotations

import pytest

from notifier.plain import READABILITY_KINDS, Gate, GateSettings
from notifier.plain.readability import count, flesch_kincaid_grade, split_sentences, syllables


@pytest.fixture(scope="module")
def gate() -> Gate:
    """One gate for the module: building it loads the word lists and the glossary."""
    return Gate()


def test_issue_example_is_blocked(gate: Gate) -> None:
    """The note from the issue is blocked, with the DNS phrase, the profile and the KB code."""
    analysis = gate.analyze("flushed the DNS cache, re-provisioned your VPN profile, see KB0012345")
    assert analysis.blocked
    assert {(f.kind, f.text) for f in analysis.findings} >= {
        ("glossary", "flushed the DNS cache"),
        ("glossary", "re-provisioned"),
        ("glossary", "VPN profile"),
        ("ticket_code", "KB0012345"),
    }


def test_plain_sentence_has_no_findings_and_low_grade(gate: Gate) -> None:
    """A plain notice gives zero findings and a grade of 6 or less."""
    analysis = gate.analyze("Your printer works again. You can print from your laptop now.")
    assert analysis.findings == ()
    assert not analysis.blocked
    assert analysis.scores.flesch_kincaid_grade <= 6
    assert analysis.scores.unfamiliar_share == 0.0


def test_hard_plain_cases_are_quiet(gate: Gate) -> None:
    """E-mail addresses, links, times, rooms, prices, dates and products are plain."""
    text = (
        "Hello Sam, we set up single sign-on (SSO), so SSO now signs you in once. "
        "Come to room B12 at 10:30 on 27/11/2026; the screen costs €12.50, not $1,299. "
        "Mail sam@example.com or read https://help.example.org/vpn on your iPhone or in Teams."
    )
    assert gate.analyze(text).jargon == ()


def test_findings_carry_positions_and_suggestions(gate: Gate) -> None:
    """Each finding's offsets point at its text, and it says what to write instead."""
    text = "We rebooted SRV01 at 10.0.0.5 after error 0x80070005."
    analysis = gate.analyze(text)
    assert [f.kind for f in analysis.findings] == ["glossary", "machine_name", "ipv4", "error_code"]
    for finding in analysis.findings:
        assert text[finding.start : finding.end] == finding.text
        assert finding.suggestion
    assert analysis.findings[0].suggestion == "say 'restarted' instead of 'rebooted'"


def test_ip_inside_a_link_is_still_reported(gate: Gate) -> None:
    """A link is fine, but an IP address inside one is not."""
    analysis = gate.analyze("Open http://10.1.2.3/admin to see it.")
    assert [f.kind for f in analysis.findings] == ["ipv4"]


def test_protected_spans_are_never_reported(gate: Gate) -> None:
    """Values a template allowed are not reported but still count for readability."""
    text = "Your request INC0012345 is done."
    start = text.index("INC")
    plain = gate.analyze(text, protected=[(start, start + 10)])
    assert plain.findings == ()
    assert plain.scores.words == gate.analyze(text).scores.words == 5
    assert [f.kind for f in gate.analyze(text).findings] == ["ticket_code"]


def test_acronym_spelled_out_anywhere_in_text_is_fine(gate: Gate) -> None:
    """SSO and MFA are explained once and then free to use; DHCP is not explained."""
    text = "We turned on multi-factor authentication (MFA). MFA protects you. DHCP is fixed."
    analysis = gate.analyze(text)
    assert [f.text for f in analysis.jargon] == ["DHCP"]


def test_everyday_acronyms_and_familiar_words_are_configurable() -> None:
    """A team can add its own acronyms and words."""
    settings = GateSettings(
        everyday_acronyms=frozenset({"NHS"}), extra_familiar_words=frozenset({"rota"})
    )
    analysis = Gate(settings).analyze(
        "The NHS rota is online again for everyone in the ward today."
    )
    assert analysis.findings == ()
    assert "NHS" in [f.text for f in Gate().analyze("The NHS rota is online.").findings]


def test_rewrite_applies_safe_replacements_only_and_keeps_case(gate: Gate) -> None:
    """Safe entries are replaced with the first letter's case kept; unsafe ones stay."""
    text = "Reboot the laptop. We rebooted it, fixed the latency and flushed the DNS cache."
    analysis = gate.analyze(text)
    rewritten = gate.rewrite(text, analysis)
    assert rewritten == (
        "Restart the laptop. We restarted it, fixed the delay and flushed the DNS cache."
    )
    again = gate.analyze(rewritten)
    assert {f.text for f in again.findings if f.kind == "glossary"} == {"flushed the DNS cache"}


def test_rewrite_fixes_the_article(gate: Gate) -> None:
    """ "an SSD" becomes "a storage drive", "a endpoint" would not be written."""
    text = "We fitted an SSD and checked a URL."
    assert gate.rewrite(text, gate.analyze(text)) == (
        "We fitted a storage drive and checked a web address."
    )


def test_rewrite_never_touches_protected_spans(gate: Gate) -> None:
    """A protected value stays exactly as written even when a safe entry matches it."""
    text = "Reboot done by the reboot team."
    start = text.index("reboot team")
    protected = [(start, start + len("reboot team"))]
    analysis = gate.analyze(text, protected=protected)
    assert gate.rewrite(text, analysis, protected=protected) == "Restart done by the reboot team."
    # Even an analysis made without the spans does not get through.
    assert gate.rewrite(text, gate.analyze(text), protected=protected) == (
        "Restart done by the reboot team."
    )


def test_languages_without_word_lists_run_detectors_only_and_say_so(gate: Gate) -> None:
    """For Italian (no word list ships) the detectors run, the glossary and word lists do not,
    and an info note says so; the same for a notice that mixes a template's language with a
    ticket text in another."""
    analysis = gate.analyze("La sua stampante 10.0.0.5 funziona. La cache è vuota.", language="it")
    assert [f.kind for f in analysis.findings] == ["ipv4", "detectors_only"]
    note = analysis.findings[-1]
    assert note.severity == "info" and "no word list for 'it'" in note.suggestion
    assert analysis.scores.word_lists is False
    assert analysis.scores.unfamiliar_share is None
    mixed = gate.analyze("Hello. Принтер снова работает.", language="en+ru").findings
    assert [f.kind for f in mixed] == ["detectors_only"]
    assert "the template is in 'en' and the ticket text in 'ru'" in mixed[0].suggestion
    assert gate.analyze("Hello.", language="en-GB").scores.word_lists is True


@pytest.mark.parametrize(
    ("language", "plain", "jargon"),
    [
        (
            "fr",
            "Bonjour Claire, le bac à papier était coincé. Nous l'avons remis en place et "
            "nous avons imprimé une page de test. Vous pouvez de nouveau imprimer.",
            "Nous avons purgé le cache du spouleur, réinstancié la file d'attente et "
            "resynchronisé l'annuaire après propagation des stratégies de groupe.",
        ),
        (
            "de",
            "Hallo Jonas, das Papierfach hatte sich verklemmt. Wir haben es wieder richtig "
            "eingesetzt und eine Testseite gedruckt. Sie können jetzt wieder drucken.",
            "Wir haben den Spooler-Dienst terminiert, die Warteschlange reinitialisiert und "
            "die Gruppenrichtlinienobjekte nach Replikation der Domänencontroller propagiert.",
        ),
        (
            "es",
            "Hola Lucía, la bandeja del papel estaba atascada. La hemos vuelto a colocar y "
            "hemos impreso una página de prueba. Ya puede volver a imprimir.",
            "Hemos purgado la caché del spooler, reinstanciado la cola de impresión y "
            "resincronizado el directorio tras la propagación de las directivas de grupo.",
        ),
    ],
)
def test_german_french_spanish_texts_are_judged_with_their_own_word_lists(
    gate: Gate, language: str, plain: str, jargon: str
) -> None:
    """A plain note passes on its language's everyday words; a jargon-heavy one in the same
    language is over the unfamiliar-word share (which English lists could not tell apart)."""
    passed = gate.analyze(plain, language=language)
    assert passed.scores.word_lists is True and passed.scores.language == language
    assert passed.scores.unfamiliar_share is not None
    assert passed.scores.unfamiliar_share <= 0.15, passed.scores.unfamiliar_words
    assert not passed.blocked
    failed = gate.analyze(jargon, language=language)
    assert failed.scores.unfamiliar_share is not None
    assert failed.scores.unfamiliar_share > 0.15, failed.scores.unfamiliar_words
    assert "unfamiliar_words" in {f.kind for f in failed.findings}


def test_unfamiliar_share_blocks_long_texts_and_warns_short_ones(gate: Gate) -> None:
    """Over 15 % unfamiliar words blocks a long text; a short one only warns."""
    long_text = (
        "The ephemeral orchestration layer reconciled heterogeneous manifests across "
        "the federated topology while idempotent reconcilers converged."
    )
    findings = {f.kind: f for f in gate.analyze(long_text).findings}
    assert findings["unfamiliar_words"].severity == "block"
    short = {f.kind: f for f in gate.analyze("Idempotent reconcilers converged.").findings}
    assert short["unfamiliar_words"].severity == "warn"


def test_names_mid_sentence_are_not_unfamiliar(gate: Gate) -> None:
    """Capitalised words after the first are taken as names (people, products)."""
    analysis = gate.analyze("Your colleague Siobhan can open Dynamics again.")
    assert analysis.scores.unfamiliar_words == ()


def test_long_sentence_and_grade_warn_only(gate: Gate) -> None:
    """A long, hard sentence warns (readability kinds) but does not block by itself."""
    text = (
        "Following comprehensive investigation, organisational infrastructure modifications "
        "were implemented, necessitating considerable reconfiguration of departmental "
        "communication arrangements, which unfortunately required additional administrative "
        "authorisation beyond what was originally anticipated by everybody involved here."
    )
    settings = GateSettings(unfamiliar_share_block=1.0)
    analysis = Gate(settings).analyze(text)
    kinds = {f.kind: f.severity for f in analysis.findings if f.kind in READABILITY_KINDS}
    assert kinds == {"long_sentence": "warn", "grade": "warn"}
    assert analysis.scores.flesch_kincaid_grade > 8


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("cat", 1),
        ("printer", 2),
        ("computer", 3),
        ("restarted", 3),
        ("area", 2),
        ("fixed", 1),
        ("updated", 3),
    ],
)
def test_syllables(word: str, expected: int) -> None:
    """Syllables: pyphen pieces or vowel groups, whichever is larger."""
    assert syllables(word) == expected


def test_flesch_kincaid_matches_a_hand_calculation() -> None:
    """ "The cat sat on the mat. The dog ran to the park." has 12 one-syllable words in 2
    sentences: 0.39 * 6 + 11.8 * 1.0 - 15.59 = -1.45 and 206.835 - 1.015 * 6 - 84.6 = 116.145."""
    text = "The cat sat on the mat. The dog ran to the park."
    counts = count(text)
    assert (counts.words, len(counts.sentences), counts.syllables) == (12, 2, 12)
    grade = flesch_kincaid_grade(counts.words, len(counts.sentences), counts.syllables)
    assert grade == pytest.approx(0.39 * 6 + 11.8 - 15.59, abs=0.01)
    scores = Gate().analyze(text).scores
    assert scores.flesch_kincaid_grade == pytest.approx(-1.45, abs=0.01)
    assert scores.flesch_reading_ease == pytest.approx(206.835 - 1.015 * 6 - 84.6, abs=0.01)


def test_sentence_splitting() -> None:
    """Sentences end at . ! ? before a capital, at blank lines and at greeting lines."""
    text = "Hello Sam,\nIt works, e.g. in Excel 3.14. Done!\n\nThanks"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Hello Sam,",
        "It works, e.g. in Excel 3.14.",
        "Done!",
        "Thanks",
    ]
