"""The plain-language gate: find IT jargon in a rendered notice before a requester sees it.

Usage::

    gate = Gate()                        # build once: word lists, glossary index
    analysis = gate.analyze(text)        # findings and readability scores
    if analysis.blocked: ...
    text = gate.rewrite(text, analysis)  # apply the replacements marked safe

See ``docs/plain-language.md`` for what is checked and why.
"""

from notifier.plain.detectors import Finding, Severity
from notifier.plain.gate import READABILITY_KINDS, Analysis, Gate, GateSettings, Scores
from notifier.plain.glossary import Glossary, GlossaryEntry, load_glossary

__all__ = [
    "READABILITY_KINDS",
    "Analysis",
    "Finding",
    "Gate",
    "GateSettings",
    "Glossary",
    "GlossaryEntry",
    "Scores",
    "Severity",
    "load_glossary",
]
