"""The shortcuts that keep the gate cheap give exactly what the plain computations give.

Quick checks answered paragraph by paragraph, the glossary matched piece by piece, sentences
trimmed with str.strip, protected spans blanked by slices, and the per-text caches.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from hypothesis import given, settings
from hypothesis import strategies as st

import notifier.plain.detectors
from notifier.plain import Gate, readability
from notifier.plain.detectors import findings as detectors
from notifier.plain.gate import _blank
from notifier.plain.glossary import builtin_entries
from notifier.plain.textcache import LONGEST, text_cache
from notifier.plain.words import WORD_RE

GATE = Gate()
DETECTOR_MODULES = [
    importlib.import_module(f"notifier.plain.detectors.{info.name}")
    for info in pkgutil.iter_modules(notifier.plain.detectors.__path__)
]


def _texts(alphabet: str, fragments: list[str]) -> st.SearchStrategy[str]:
    part = st.text(alphabet=alphabet, max_size=6) | st.sampled_from(fragments)
    return st.lists(part, max_size=30).map("".join)


QUICK_TEXT = _texts(
    "0123456789abcdefxAEFZ:.-_/\\@ \t\n٣",
    ["Exception", "Error", "Traceback", 'File "', "\n  at ", "://", "www.", "\n\n", "HTTP 503"],
)


@settings(max_examples=400, deadline=None)
@given(QUICK_TEXT)
def test_quick_checks_answer_like_a_search_of_the_whole_text(text: str) -> None:
    for pattern in detectors._LINE_QUICK:
        assert detectors._quick(pattern, text) == bool(pattern.search(text)), pattern.pattern
        # What lets _quick() answer paragraph by paragraph: no match holds a line break.
        assert all("\n" not in match.group() for match in pattern.finditer(text))


def test_every_quick_check_but_two_is_answered_from_the_cache() -> None:
    """A new _QUICK_ pattern is asked through _quick(), so it must be in _LINE_QUICK."""
    patterns = {
        name: value
        for module in DETECTOR_MODULES
        for name, value in vars(module).items()
        if isinstance(value, re.Pattern)
    }
    quick = {name for name in patterns if name.startswith("_QUICK_")}
    cached = {name for name in quick if patterns[name] in detectors._LINE_QUICK}
    assert quick - cached == {"_QUICK_STATUS_REASON", "_QUICK_WORD_RE"}


GLOSSARY_WORDS = sorted({entry.term for entry in builtin_entries()})[:80]
GLOSSARY_TEXT = _texts(
    " \n,.:;()'-’", [*GLOSSARY_WORDS, "DNS", "cache", "the", "Rebooted", "VPN profile", "  "]
)


@settings(max_examples=300, deadline=None)
@given(GLOSSARY_TEXT)
def test_glossary_piece_by_piece_finds_what_the_whole_text_gives(text: str) -> None:
    glossary = GATE._glossary
    assert list(glossary.find(text)) == list(glossary._find_in_piece(text))


def _sentences_reference(text: str) -> list[tuple[int, int]]:
    spans = []
    bounds = [m.end() for m in readability._SENTENCE_END_RE.finditer(text)]
    for start, end in zip([0, *bounds], [*bounds, len(text)], strict=True):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if any(ch.isalnum() for ch in text[start:end]):
            spans.append((start, end))
    return spans


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=" \t\n\x1c\x85\u00a0\u2028\u3000._!?…Aé1²٣-", max_size=40))
def test_sentences_are_trimmed_like_isspace_and_kept_like_isalnum(text: str) -> None:
    assert readability.split_sentences(text) == _sentences_reference(text)


def test_counts_of_long_sentences_are_worked_out_without_the_cache() -> None:
    text = "We restored the shared calendar " * 40 + ". It works."
    assert len(text) > LONGEST
    counts = readability.count(text)
    words = WORD_RE.findall(text)
    assert counts.words == len(words)
    assert counts.syllables == sum(readability.syllables(word) for word in words)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ab \t\n\u2028", max_size=20),
    st.lists(st.tuples(st.integers(-3, 25), st.integers(-3, 25)), max_size=4),
)
def test_blank_spaces_out_protected_spans(text: str, spans: list[tuple[int, int]]) -> None:
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(chars), end)):
            if not chars[i].isspace():
                chars[i] = " "
    assert _blank(text, spans) == "".join(chars)


def test_a_gate_gives_the_same_analysis_whatever_it_saw_before() -> None:
    texts = [
        "Hello Sam,\n\nWe rebooted the VPN server. It works again.\n\nThank you,\nIT Help Desk",
        "Hello Ann,\n\nWe rebooted the VPN server. It works again.\n\nThank you,\nIT Help Desk",
        "Flushed the DNS cache on SRV01 (10.1.2.3). " * 30,
        "Your new password works. The quarantine folder is empty.",
    ]
    warm = Gate()
    for text in texts * 2:
        warm.analyze(text, protected=[(6, 9)])
    for text in reversed(texts):
        fresh = Gate()
        assert warm._analyze(text, "en", ((6, 9),)) == fresh._analyze(text, "en", ((6, 9),))


def test_text_cache_keeps_short_texts_only() -> None:
    calls: list[str] = []

    def length(text: str) -> int:
        calls.append(text)
        return len(text)

    cached = text_cache(length)
    short, long = "x" * LONGEST, "x" * (LONGEST + 1)
    for _ in range(2):
        assert cached(short) == LONGEST
        assert cached(long) == LONGEST + 1
    assert calls == [short, long, long]
