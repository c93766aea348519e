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
# Languages other than English with a frequency list (words.<lang>.txt) and an everyday list.
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
# French and Italian elisions: "l'imprimante" is "imprimante".
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|un|dell|all|dall|nell|sull)['’]")
# German inflection endings, longest first; and the linking sounds of compounds (Arbeitsplatz).
_GERMAN_ENDINGS = ("ern", "en", "em", "er", "es", "e", "n", "s")
_GERMAN_LINKS = ("", "s", "es", "n", "en")


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


@lru_cache(maxsize=8)
def familiar_words(language: str) -> frozenset[str] | None:
    """The everyday words of a language, lower-case: for ``en`` Dale-Chall and the everyday
    list; for another language its frequency list and everyday list; None when there is none
    (the gate then runs its detectors only)."""
    if language == "en":
        return dale_chall_words() | everyday_words()
    if not _LANGUAGE_CODE.match(language):
        return None
    try:
        lines = _data_lines(f"words.{language}.txt") + _data_lines(f"everyday.{language}.txt")
    except FileNotFoundError:
        return None
    return frozenset(word.lower() for word in lines)


def other_forms(word: str, language: str) -> Iterable[str]:
    """Candidate listed forms of an inflected word in a language other than English.

    The frequency lists hold inflected forms already ("imprimé", "gedruckt"), so little is
    needed: elisions, plurals, German endings. Over-generation is harmless (only looked up)."""
    yield word
    if language in ("fr", "it"):
        bare = _ELISION.sub("", word)
        if bare != word:
            yield bare
            word = bare
    n = len(word)
    if language in ("fr", "es", "pt", "it") and n > 3 and word[-1] in "sx":
        yield word[:-1]
        if language == "es" and word.endswith("es"):
            yield word[:-2]
    if language == "de":
        for ending in _GERMAN_ENDINGS:
            if n > len(ending) + 3 and word.endswith(ending):
                yield word[: -len(ending)]


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
    """Decides whether a word is familiar: the language's everyday words plus extras."""

    __slots__ = ("_cache", "_language", "_words")

    def __init__(self, extra: Iterable[str] = (), language: str = "en") -> None:
        words = familiar_words(language)
        if words is None:
            raise ValueError(f"no word list for language {language!r}")
        self._language = language
        self._words = words | {w.lower() for w in extra}
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
        if self._language != "en":
            if any(form in words for form in other_forms(word, self._language)):
                return True
            return self._language == "de" and self._compound(word)
        if any(form in words for form in base_forms(word)):
            return True
        for prefix in _PREFIXES:
            rest = word[len(prefix) :]
            if word.startswith(prefix) and len(rest) > 3:
                return any(form in words for form in base_forms(rest))
        return False

    def _compound(self, word: str) -> bool:
        """A German compound of two known words: "Druckertreiber", "Arbeitsplatz"."""
        words = self._words
        for cut in range(3, len(word) - 2):
            head, tail = word[:cut], word[cut:]
            if not any(form in words for form in other_forms(tail, "de")):
                continue
            for link in _GERMAN_LINKS:
                if head.endswith(link) and len(head) - len(link) >= 3:
                    stem = head[: len(head) - len(link)]
                    if stem in words:
                        return True
        return False
