"""The plain-language policy applied to one rendered message: send it, rewrite it, or hold it.

Pure: it takes the rendered (marked) message, a team's gate and policy, and returns the clean
words to send with the findings. The service stores the findings with the notice either way.

- ``warn``: send, and record the findings.
- ``hold``: blocking findings hold the notice for review (``notifier held``/``release``/``cancel``).
- ``rewrite``: apply the glossary replacements marked safe, check again; hold if blocking
  findings remain. A rewritten message goes out as plain text only, since the HTML part was
  not rewritten.

The HTML part is checked too, as the text a reader sees in it, for what it says (detectors and
glossary); the reading scores come from the text part alone. Its findings that the subject or
text part already has are not repeated; what is left is the HTML's own. ``warn`` records them,
``hold`` holds for blocking ones, and ``rewrite`` leaves the HTML part out (plain text only)
when it has a blocking finding or one the rewrite would have replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from notifier.core.htmltext import html_to_text, strip_tags
from notifier.core.language import language_tag
from notifier.core.marks import MarkedText, split_marks, strip_marks
from notifier.core.model import RenderedMessage
from notifier.core.printable import printable
from notifier.core.render import language_of
from notifier.plain import READABILITY_KINDS, Analysis, Finding, Gate, Scores

PolicyMode = Literal["warn", "hold", "rewrite"]


@dataclass(frozen=True, slots=True)
class ReviewedFinding:
    part: str  # "subject", "text" or "html"
    origin: str  # "template" (the template's own words) or "data" (ticket or team data)
    kind: str
    text: str
    start: int
    end: int
    suggestion: str
    severity: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Review:
    subject: str
    text: str
    html: str | None
    findings: tuple[ReviewedFinding, ...]
    scores: Scores
    rewritten: bool
    hold_reason: str  # empty when the notice may be sent
    html_left_out: bool = False  # the template has an HTML part, and it is not sent


def review(
    rendered: RenderedMessage, gate: Gate, mode: PolicyMode, text_language: str = ""
) -> Review:
    """``text_language``: the ticket's own language. When the template is in another one (no
    template for it), the text mixes two languages and the gate runs its detectors only."""
    language = rendered.language
    ticket_language = language_tag(text_language)  # "" for a name such as "English"
    if ticket_language and ticket_language != language_of(language):
        language = f"{language_of(language)}+{ticket_language}"
    subject = split_marks(rendered.subject)
    text = split_marks(rendered.text)
    subject_analysis = gate.analyze(subject.text, language=language, protected=subject.allowed)
    text_analysis = gate.analyze(text.text, language=language, protected=text.allowed)
    html_findings: tuple[ReviewedFinding, ...] = ()
    html_needs_rewrite = False
    if rendered.html is not None:
        # What a reader sees of the HTML; the marks survive the conversion.
        try:
            visible = html_to_text(rendered.html)
        except Exception:  # html.parser on a template's odd markup: check the words anyway
            visible = strip_tags(rendered.html)
        html_view = split_marks(visible)
        own: list[Finding] = []
        # Most HTML templates show the text part's words in another layout: then the HTML part
        # says nothing of its own, and checking it again would only double the gate's cost.
        if html_view.text.split() != text.text.split():
            seen = {
                (f.kind, f.text.casefold())
                for f in (*subject_analysis.findings, *text_analysis.findings)
            }
            html_analysis = gate.analyze(
                html_view.text, language=language, protected=html_view.allowed
            )
            own = [
                f
                for f in html_analysis.findings
                # How a text reads is judged on the text part: the HTML part shows the same
                # message in another layout (shorter, other line breaks); scored again it would
                # report the message twice, or block it for being shorter.
                if f.kind not in READABILITY_KINDS and (f.kind, f.text.casefold()) not in seen
            ]
        html_findings = _reviewed("html", html_view, own)
        html_needs_rewrite = any(f.severity == "block" or f.replacement is not None for f in own)
    rewritten = False
    if mode == "rewrite" and (_replaceable(subject_analysis) or _replaceable(text_analysis)):
        subject, subject_analysis = _rewrite(gate, subject, subject_analysis, language)
        text, text_analysis = _rewrite(gate, text, text_analysis, language)
        rewritten = True
    send_html = rendered.html is not None and not (
        rewritten or (mode == "rewrite" and html_needs_rewrite)
    )
    findings = _reviewed(
        "subject",
        subject,
        # The detectors-only note is about the notice's language: said once, for the text.
        [f for f in subject_analysis.findings if f.kind != "detectors_only"],
    ) + _reviewed("text", text, text_analysis.findings)
    # An HTML part that is left out cannot hold the notice: the requester does not get it.
    counted = findings + html_findings if send_html else findings
    blocked = [f for f in counted if f.severity == "block"]
    hold_reason = ""
    if blocked and mode in ("hold", "rewrite"):
        shown = "; ".join(
            f"{f.kind} {f.text!r}" + (" (HTML part)" if f.part == "html" else "")
            for f in blocked[:5]
        )
        more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
        hold_reason = f"plain-language gate: {len(blocked)} blocking finding(s): {shown}{more}"
    return Review(
        subject=subject.text,
        text=text.text,
        html=strip_marks(rendered.html) if send_html and rendered.html is not None else None,
        findings=findings + html_findings,
        scores=text_analysis.scores,
        rewritten=rewritten,
        hold_reason=hold_reason,
        html_left_out=rendered.html is not None and not send_html,
    )


def _replaceable(analysis: Analysis) -> bool:
    return any(f.replacement is not None for f in analysis.findings)


def _rewrite(
    gate: Gate, marked: MarkedText, analysis: Analysis, language: str
) -> tuple[MarkedText, Analysis]:
    if not _replaceable(analysis):
        return marked, analysis
    new_text = gate.rewrite(marked.text, analysis, protected=marked.allowed)
    # Offsets moved; what matters after a rewrite is the words, so spans are dropped except
    # for allowed values, which are found again by their text.
    allowed = tuple(
        (start, start + len(piece))
        for piece in (marked.text[s:e] for s, e in marked.allowed)
        if (start := new_text.find(piece)) >= 0
    )
    fresh = MarkedText(new_text, allowed, ((0, len(new_text)),) if marked.data else ())
    return fresh, gate.analyze(new_text, language=language, protected=allowed)


def _reviewed(
    part: str, marked: MarkedText, findings: Sequence[Finding]
) -> tuple[ReviewedFinding, ...]:
    return tuple(
        ReviewedFinding(
            part=part,
            origin=marked.origin(finding.start) if finding.start >= 0 else "template",
            kind=finding.kind,
            text=finding.text,
            start=finding.start,
            end=finding.end,
            suggestion=finding.suggestion,
            severity=finding.severity,
        )
        for finding in findings
    )


def describe_finding(finding: ReviewedFinding | Finding) -> str:
    where = f"{finding.start}-{finding.end}" if finding.start >= 0 else "whole text"
    return printable(
        f"[{finding.severity}] {finding.kind} {finding.text!r} at {where}: {finding.suggestion}"
    )


BLOCK_OPEN, BLOCK_CLOSE = "»", "«"


def mark_findings(words: str, findings: Sequence[dict[str, object]], part: str) -> str:
    """``words`` with each blocking finding of ``part`` between »…«, for a reviewer to read.

    Findings are the stored ones (``ReviewedFinding.as_dict``); their offsets are into these
    words. Findings about the whole text, offsets that no longer fit (the words were changed)
    and overlapping spans are not marked: they are listed beside the words anyway.
    """
    spans: list[tuple[int, int]] = []
    for finding in findings:
        start, end = finding.get("start"), finding.get("end")
        if finding.get("part") != part or finding.get("severity") != "block":
            continue
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        if 0 <= start < end <= len(words) and words[start:end] == finding.get("text"):
            spans.append((start, end))
    marked: list[str] = []
    position = 0
    for start, end in sorted(set(spans)):
        if start < position:  # overlaps the span just marked
            continue
        marked += [words[position:start], BLOCK_OPEN, words[start:end], BLOCK_CLOSE]
        position = end
    marked.append(words[position:])
    return "".join(marked)
