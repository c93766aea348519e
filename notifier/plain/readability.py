"""Sentences, words, syllables and the two Flesch scores, computed here (not by textstat).

Syllables come from pyphen's hyphenation dictionaries. Hyphenation points are a lower bound on
syllables (dictionaries refuse to split near the ends of a word: "area" has none), so each word
counts the larger of pyphen's pieces and a vowel-group estimate. Counts are cached per word,
and per sentence: a template's own sentences recur in every notice.

Both formulas were fitted on English school texts. For other languages they are still computed
(with that language's pyphen dictionary when there is one) but the gate only reports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyphen  # type: ignore[import-untyped]  # no stubs or py.typed

from notifier.plain.textcache import text_cache
from notifier.plain.words import WORD_RE

# A sentence ends at . ! ? (or a run of them) followed by space and something that can start a
# sentence, at a blank line, or at a line break before a capital or a bullet. "e.g. the" and
# "3.14" do not end sentences; a greeting line ("Hello Sam,") does.
_SENTENCE_END_RE = re.compile(
    r"""[.!?…]+["'’”)\]]*(?=\s+["'‘“(\[]?[A-Z0-9À-Þ]|\s*$)"""
    r"""|\n[ \t]*\n\s*"""
    r"""|\n(?=[ \t]*(?:[A-ZÀ-Þ]|[-*•]\s))"""
)
_VOWEL_GROUP_RE = re.compile(r"[aeiouy]+")
_ALNUM_RE = re.compile(r"[^\W_]")  # a character for which str.isalnum() is true
_SOUNDED_ES = ("ses", "xes", "zes", "ches", "shes", "ges", "ces")
# pyphen's bare "en" is British; US patterns are the ones textstat and most tools use.
_DEFAULT_DICTIONARIES = {"en": "en_US"}


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: where it is and how many words it has."""

    start: int
    end: int
    words: int


@dataclass(frozen=True, slots=True)
class Counts:
    """The raw counts behind the scores."""

    words: int
    sentences: tuple[Sentence, ...]
    syllables: int


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty sentence, in order; whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        _add_span(text, start, match.end(), spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    trimmed = piece.lstrip()  # str.strip() trims exactly the characters str.isspace() accepts
    start += len(piece) - len(trimmed)
    trimmed = trimmed.rstrip()
    if _ALNUM_RE.search(trimmed):
        spans.append((start, start + len(trimmed)))


@lru_cache(maxsize=16)
def _dictionary(language: str) -> pyphen.Pyphen | None:
    language = language.replace("-", "_")
    found = _DEFAULT_DICTIONARIES.get(language) or pyphen.language_fallback(language)
    return pyphen.Pyphen(lang=found) if found else None


@lru_cache(maxsize=8192)
def syllables(word: str, language: str = "en") -> int:
    """Syllables in one word: max(pyphen pieces, vowel groups), at least 1; numbers count 1."""
    lowered = word.lower()
    if not any(ch.isalpha() for ch in lowered):
        return 1
    dictionary = _dictionary(language) or _dictionary("en")
    pieces = len(dictionary.positions(lowered)) + 1 if dictionary is not None else 1
    groups = len(_VOWEL_GROUP_RE.findall(lowered))
    if lowered.endswith("e") and not lowered.endswith(("le", "ee", "ye")) and groups > 1:
        groups -= 1  # silent e: "restore", "update"
    if groups > 1 and (
        (lowered.endswith("ed") and not lowered.endswith(("ted", "ded")))
        or (lowered.endswith("es") and not lowered.endswith(_SOUNDED_ES))
    ):
        groups -= 1  # "fixed", "saves" (but "updated", "boxes" keep theirs)
    return max(pieces, groups, 1)


def count(text: str, language: str = "en") -> Counts:
    """Words, sentences and syllables of a text."""
    sentences: list[Sentence] = []
    total_words = 0
    total_syllables = 0
    for start, end in split_sentences(text):
        words, syllable_count = _sentence_counts(text[start:end], language)
        if not words:
            continue
        sentences.append(Sentence(start, end, words))
        total_words += words
        total_syllables += syllable_count
    return Counts(total_words, tuple(sentences), total_syllables)


@text_cache
def _sentence_counts(sentence: str, language: str) -> tuple[int, int]:
    """Words and syllables of one sentence."""
    words = WORD_RE.findall(sentence)
    return len(words), sum(syllables(word, language) for word in words)


def flesch_reading_ease(words: int, sentences: int, syllable_count: int) -> float:
    """206.835 - 1.015 (words/sentence) - 84.6 (syllables/word); higher is easier."""
    if not words or not sentences:
        return 0.0
    return 206.835 - 1.015 * (words / sentences) - 84.6 * (syllable_count / words)


def flesch_kincaid_grade(words: int, sentences: int, syllable_count: int) -> float:
    """0.39 (words/sentence) + 11.8 (syllables/word) - 15.59: a US school grade."""
    if not words or not sentences:
        return 0.0
    return 0.39 * (words / sentences) + 11.8 * (syllable_count / words) - 15.59
