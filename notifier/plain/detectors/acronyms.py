"""Acronyms, and the ones the text explains itself."""

from __future__ import annotations

import re
from collections.abc import Callable

from notifier.plain.detectors.findings import Finding

# -- acronyms -----------------------------------------------------------------------------

_ACRONYM_RE = re.compile(r"(?<![\w'’&/.-])([A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*)(s)?(?![\w'’&/-]|\.\w)")
_PAREN_AFTER_RE = re.compile(r"\(\s*([A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&]*)s?\s*\)")
_PAREN_BEFORE_RE = re.compile(r"\b([A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*)s?\s*\(([^()\n]{3,80})\)")
_MEANS_RE = re.compile(
    r"\b([A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*)s?,?\s+(?:\(|-|–|—)?\s*(?:which\s+)?"
    r"(?:stands for|means|is short for|short for)\s+([^.;:\n]{3,80})"
)
_INITIAL_WORD_RE = re.compile(r"[A-Za-z0-9][\w']*")
# Each pattern that reads the words after an acronym needs one of these strings.
_AFTER_PATTERNS = ((_PAREN_BEFORE_RE, ("(",)), (_MEANS_RE, ("stands for", "means", "short for")))
_SMALL_WORDS = frozenset({"of", "and", "the", "for", "to", "a", "an", "in", "on", "by", "&"})
_ROMAN_RE = re.compile(r"[IVX]+")


def _initials_match(acronym: str, words: list[str]) -> bool:
    letters = "".join(ch for ch in acronym.lower() if ch.isalnum())
    full = "".join(word[0].lower() for word in words)
    short = "".join(word[0].lower() for word in words if word.lower() not in _SMALL_WORDS)
    return letters in {full, short}


def _words_of(phrase: str) -> list[str]:
    return _INITIAL_WORD_RE.findall(phrase.replace("-", " "))


def explained_acronyms(text: str) -> frozenset[str]:
    """Acronyms the text spells out: "single sign-on (SSO)", "SSO (single sign-on)",
    "SSO stands for single sign-on"; the initials of the words must give the letters."""
    explained: set[str] = set()
    for match in _PAREN_AFTER_RE.finditer(text):
        acronym = match.group(1)
        before = _words_of(text[max(0, match.start() - 120) : match.start()])
        size = sum(ch.isalnum() for ch in acronym)
        for count in range(1, min(len(before), size + 3) + 1):
            if _initials_match(acronym, before[-count:]):
                explained.add(acronym)
                break
    for pattern, needs in _AFTER_PATTERNS:
        if not any(literal in text for literal in needs):
            continue  # a cheap substring test spares a scan at every position
        for match in pattern.finditer(text):
            acronym = match.group(1)
            after = _words_of(match.group(2))
            size = sum(ch.isalnum() for ch in acronym)
            for count in range(1, min(len(after), size + 3) + 1):
                if _initials_match(acronym, after[:count]):
                    explained.add(acronym)
                    break
    return frozenset(explained)


def find_acronyms(
    text: str,
    *,
    everyday: frozenset[str],
    is_familiar: Callable[[str], bool],
    explained: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Runs of 2 to 6 capitals (digits allowed after the first: MP4) that are not everyday
    (PC, USB), not a word shouted in capitals (PLEASE, DONE), not a Roman numeral and not
    spelled out in the same text. Plurals count as the acronym (PCs)."""
    found = []
    for match in _ACRONYM_RE.finditer(text):
        acronym = match.group(1)
        digits = sum(ch.isdigit() for ch in acronym)
        # More than one digit is a code or a machine name (SRV01, AB12), reported elsewhere.
        if not 2 <= len(acronym) <= 6 or digits > 1 or len(acronym) - digits < 2:
            continue
        if acronym in everyday or acronym in explained or _ROMAN_RE.fullmatch(acronym):
            continue
        if acronym.isalpha() and is_familiar(acronym.lower()):
            continue
        found.append(
            Finding(
                "acronym",
                match.group(),
                match.start(),
                match.end(),
                f"spell out '{acronym}' the first time, or say what it is in plain words",
                "block",
            )
        )
    return found
