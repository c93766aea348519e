"""Tools for people who write templates and notes: ``lint``, ``plain`` and ``preview`` output.

Pure functions from rendered or plain text to report text; the command line prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from notifier.core.compose import Composed, TeamProfile, compose, profile_for
from notifier.core.errors import TemplateError
from notifier.core.model import Resolution
from notifier.core.printable import json_text, printable
from notifier.core.render import Renderer, language_of
from notifier.core.review import ReviewedFinding, describe_finding
from notifier.plain import Analysis, Gate, Scores

# Sample tickets every template is rendered with by `notifier lint`: a plain note, the kind
# of jargon-heavy note technicians really write, no note at all, and a long title.
SAMPLE_TICKETS = (
    Resolution(
        source="lint", ticket_id="HD-1001", requester_email="jane.doe@example.org",
        requester_name="Jane Doe", title="Printer on the third floor jams",
        resolved_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
        resolution_note="We replaced a worn part. The printer works again.",
    ),
    Resolution(
        source="lint", ticket_id="INC0012345", requester_email="sam.lee@example.org",
        requester_name="Lee, Sam", title="VPN keeps dropping",
        resolved_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        resolution_note=(
            "Flushed the DNS cache, re-provisioned your VPN profile and pushed a GPO via "
            "gpupdate /force on PC-4411 (10.20.30.40). See KB0012345."
        ),
    ),
    Resolution(
        source="lint", ticket_id="HD-1003", requester_email="ana@example.org",
        title="New starter needs an account",
    ),
    Resolution(
        source="lint", ticket_id="HD-1004", requester_email="max@example.org",
        requester_name="Max", title="Please move my desk phone and my second screen to room B12",
        resolution_note="Your phone and screen are in room B12 now.",
    ),
)  # fmt: skip


def _sample(ticket_id: str, title: str, note: str = "", name: str = "") -> Resolution:
    """A sample like the English one with the same id, in another language's words."""
    english = next(t for t in SAMPLE_TICKETS if t.ticket_id == ticket_id)
    return Resolution(
        **{**asdict(english), "title": title, "resolution_note": note,
           "requester_name": name or english.requester_name},
    )  # fmt: skip


# The same samples in the languages that ship templates and word lists: a template in German
# is judged with German words, so its samples must be German too (see docs/language.md).
SAMPLE_TICKETS_BY_LANGUAGE = {
    "de": (
        _sample("HD-1001", "Drucker im dritten Stock hat Papierstau",
                "Wir haben ein abgenutztes Teil ersetzt. Der Drucker geht wieder."),
        _sample("INC0012345", "VPN bricht ständig ab", SAMPLE_TICKETS[1].resolution_note),
        _sample("HD-1003", "Neuer Mitarbeiter braucht ein Konto"),
        _sample("HD-1004", "Bitte mein Tischtelefon und meinen zweiten Bildschirm in Raum B12 "
                "bringen", "Ihr Telefon und Ihr Bildschirm sind jetzt in Raum B12."),
    ),
    "fr": (
        _sample("HD-1001", "L'imprimante du troisième étage se bloque",
                "Nous avons changé une pièce usée. L'imprimante marche de nouveau."),
        _sample("INC0012345", "Le VPN coupe sans arrêt", SAMPLE_TICKETS[1].resolution_note),
        _sample("HD-1003", "Un nouvel arrivant a besoin d'un compte"),
        _sample("HD-1004", "Merci de déplacer mon téléphone de bureau et mon deuxième écran "
                "en salle B12", "Votre téléphone et votre écran sont maintenant en salle B12."),
    ),
    "es": (
        _sample("HD-1001", "La impresora de la tercera planta se atasca",
                "Hemos cambiado una pieza gastada. La impresora vuelve a funcionar."),
        _sample("INC0012345", "La VPN se corta todo el rato", SAMPLE_TICKETS[1].resolution_note),
        _sample("HD-1003", "Una persona nueva necesita una cuenta"),
        _sample("HD-1004", "Por favor, lleven mi teléfono de mesa y mi segunda pantalla a la "
                "sala B12", "Su teléfono y su pantalla ya están en la sala B12."),
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LintResult:
    team: str
    language: str
    ticket_id: str
    template: str
    findings: tuple[ReviewedFinding, ...]
    error: str = ""

    @property
    def template_blocked(self) -> bool:
        """The template's own words (not ticket data) have blocking findings."""
        return any(f.severity == "block" and f.origin == "template" for f in self.findings)


def lint(
    renderer: Renderer, teams: dict[str, TeamProfile], domain: str, only_team: str | None = None
) -> list[LintResult]:
    results: list[LintResult] = []
    for team in renderer.teams if only_team is None else [only_team]:
        profile = profile_for(team, teams)
        for language in renderer.languages(team):
            for ticket in SAMPLE_TICKETS_BY_LANGUAGE.get(language_of(language), SAMPLE_TICKETS):
                sample = Resolution(**{**asdict(ticket), "language": language})
                try:
                    composed = compose(sample, _warn_only(profile), renderer, domain=domain)
                except TemplateError as exc:
                    results.append(LintResult(team, language, ticket.ticket_id, "", (), str(exc)))
                    continue
                results.append(
                    LintResult(
                        team,
                        language,
                        ticket.ticket_id,
                        composed.notice.template,
                        composed.review.findings,
                    )
                )
    return results


def _warn_only(profile: TeamProfile) -> TeamProfile:
    # Lint reports what the gate sees; it must not rewrite the text it reports on.
    return TeamProfile(profile.name, profile.display_name, profile.reply_to, "warn", profile.gate)


def format_lint(results: Sequence[LintResult]) -> str:
    """One line per rendering, the template's own findings under it. The samples' findings
    (ticket data) are about the samples, so each distinct set is listed once and later
    renderings refer to it."""
    lines: list[str] = []
    listed: dict[frozenset[tuple[str, str, str]], str] = {}
    for result in results:
        head = (
            f"{printable(result.team)} [{printable(result.language)}] "
            f"with sample {printable(result.ticket_id)}"
        )
        if result.error:
            lines.append(f"{head}: TEMPLATE ERROR: {printable(result.error)}")
            continue
        template_findings = [f for f in result.findings if f.origin == "template"]
        data_findings = [f for f in result.findings if f.origin == "data"]
        verdict = "BLOCKED (template text)" if result.template_blocked else "ok"
        lines.append(f"{head} ({printable(result.template)}): {verdict}")
        for finding in template_findings:
            lines.append(f"  template {printable(finding.part)}: {describe_finding(finding)}")
        if not data_findings:
            continue
        key = frozenset((f.part, f.kind, f.text) for f in data_findings)
        if key in listed:
            lines.append(f"  the same ticket data findings as {listed[key]} ({len(data_findings)})")
            continue
        listed[key] = f"{printable(result.team)} [{printable(result.language)}]"
        for finding in data_findings:
            lines.append(f"  ticket data {printable(finding.part)}: {describe_finding(finding)}")
    failing = sum(1 for r in results if r.template_blocked or r.error)
    lines.append(
        f"{len(results)} renderings checked; {failing} with blocking findings in template text "
        "or template errors"
    )
    return "\n".join(lines)


def format_scores(scores: Scores) -> str:
    share = (
        f"{scores.unfamiliar_share:.0%} unfamiliar words"
        if scores.unfamiliar_share is not None
        else "no word list for this language: detectors only"
    )
    return (
        f"{scores.words} words, {scores.sentences} sentences (longest {scores.longest_sentence_words} "
        f"words), Flesch reading ease {scores.flesch_reading_ease:.0f}, grade "
        f"{scores.flesch_kincaid_grade:.1f}, {share}"
    )


def check_text(gate: Gate, text: str, language: str) -> Analysis:
    return gate.analyze(text, language=language)


def format_plain(analysis: Analysis, fmt: str) -> str:
    if fmt == "json":
        return json_text(
            {
                "blocked": analysis.blocked,
                "scores": asdict(analysis.scores),
                "findings": [asdict(f) for f in analysis.findings],
            },
            indent=2,
        )
    lines = [format_scores(analysis.scores)]
    lines += [describe_finding(f) for f in analysis.findings]
    lines.append("BLOCKED: a requester would not understand this" if analysis.blocked else "ok")
    return "\n".join(lines)


def format_preview_review(composed: Composed) -> str:
    checked = composed.review
    action = (
        f"would be HELD: {printable(checked.hold_reason)}"
        if checked.hold_reason
        else "would be sent"
    )
    if checked.rewritten:
        action += " (rewritten with safe replacements)"
    if checked.html_left_out:
        action += " (plain text only: the HTML part is left out)"
    lines = [f"# plain-language check: {action}", f"# {format_scores(checked.scores)}"]
    lines += [
        f"# {printable(f.part)} ({printable(f.origin)}): {describe_finding(f)}"
        for f in checked.findings
    ]
    return "\n".join(lines)
