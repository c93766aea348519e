"""Word lists and the tests that use them: familiar words, everyday acronyms, product names.

The lists are data files under ``notifier/plain/data`` (see ``docs/plain-language.md`` for where
each comes from). They are read once per process and kept as frozensets; every check here is a
set lookup on a few candidate base forms, so a 100-word message costs a few hundred lookups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

# A word for the word lists and the readability counts: letters and digits, with inner
# apostrophes, hyphens and dots ("don't", "sign-in", "3.14"), so "Wi-Fi" is one word.
WORD_RE = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")
ALPHA_WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

_PREFIXES = ("re", "un", "pre")


def _data_lines(name: str) -> list[str]:
    text = (
        resources.files("notifier.plain")
        .joinpath("data")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@lru_cache(maxsize=1)
def dale_chall_words() -> frozenset[str]:
    """The Dale-Chall list of about 3,000 words familiar to most readers."""
    return frozenset(word.lower() for word in _data_lines("dale_chall.txt"))


@lru_cache(maxsize=1)
def everyday_words() -> frozenset[str]:
    """Everyday adult and IT words written for this project (email, password, printer, ...)."""
    return frozenset(word.lower() for word in _data_lines("everyday.txt"))


@lru_cache(maxsize=1)
def everyday_acronyms() -> frozenset[str]:
    """Acronyms most adults read without help (PC, USB, PDF, VPN, ...)."""
    return frozenset(_data_lines("acronyms.txt"))


@lru_cache(maxsize=1)
def product_names() -> frozenset[str]:
    """Product names people use (iPhone, PowerPoint, OneDrive, ...), lower-cased for lookup."""
    return frozenset(word.lower() for word in _data_lines("products.txt"))


def base_forms(word: str) -> Iterable[str]:
    """Candidate dictionary forms of an inflected English word, cheapest guess first.

    Over-generation is harmless (the candidates are only looked up), so the rules are simple:
    plural and third person (-s, -es, -ies), past (-ed, -ied, doubled consonant), -ing,
    comparatives (-er, -est), adverbs (-ly, -ily) and the possessive 's.
    """
    yield word
    if word.endswith(("'s", "’s")):
        word = word[:-2]
        yield word
    n = len(word)
    if n > 3 and word.endswith("ies"):
        yield word[:-3] + "y"
    if n > 3 and word.endswith("es"):
        yield word[:-2]
    if n > 2 and word.endswith("s") and not word.endswith("ss"):
        yield word[:-1]
    for suffix in ("ed", "ing", "er", "est"):
        if n > len(suffix) + 2 and word.endswith(suffix):
            stem = word[: -len(suffix)]
            yield stem
            yield stem + "e"
            if len(stem) > 2 and stem[-1] == stem[-2]:
                yield stem[:-1]  # stopped -> stop
            if stem.endswith("i"):
                yield stem[:-1] + "y"  # copied -> copy, easier -> easy
    if n > 4 and word.endswith("ily"):
        yield word[:-3] + "y"
    if n > 3 and word.endswith("ly"):
        yield word[:-2]
        yield word[:-2] + "le"  # simply -> simple
    if n > 5 and word.endswith("ment"):
        yield word[:-4]  # replacement -> replace


class Familiarity:
    """Decides whether a word is familiar: Dale-Chall plus the everyday list plus extras."""

    __slots__ = ("_cache", "_words")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._words = dale_chall_words() | everyday_words() | {w.lower() for w in extra}
        self._cache: dict[str, bool] = {}

    def __contains__(self, word: str) -> bool:
        return self.is_familiar(word)

    def is_familiar(self, word: str) -> bool:
        """True when the word, a base form of it, or each part of a hyphenated word is known."""
        lowered = word.lower().replace("’", "'")
        known = self._cache.get(lowered)
        if known is None:
            known = self._check(lowered)
            if len(self._cache) < 50_000:  # bounded: requester text is open-ended
                self._cache[lowered] = known
        return known

    def _check(self, word: str) -> bool:
        if self._known(word):
            return True
        if "-" in word:
            return all(self._known(part) for part in word.split("-") if part)
        return False

    def _known(self, word: str) -> bool:
        words = self._words
        if any(form in words for form in base_forms(word)):
            return True
        for prefix in _PREFIXES:
            rest = word[len(prefix) :]
            if word.startswith(prefix) and len(rest) > 3:
                return any(form in words for form in base_forms(rest))
        return False
