"""The gate: run every check over a rendered message and return findings and scores.

Everything costly is built once in :class:`Gate` (word lists, the glossary index, compiled
patterns live at module level); :meth:`Gate.analyze` only scans the text. Protected spans (values
a template explicitly allowed) are blanked out for the detectors, so nothing inside them is ever
reported, but the readability counts still see the real text.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from notifier.plain import readability
from notifier.plain.detectors import (
    DETECTORS,
    KIND_PRIORITY,
    Finding,
    Severity,
    explained_acronyms,
    find_acronyms,
    find_links,
)
from notifier.plain.glossary import Glossary, load_glossary
from notifier.plain.textcache import text_cache
from notifier.plain.words import ALPHA_WORD_RE, Familiarity, everyday_acronyms, product_names

# Analyses kept per gate for identical texts (see Gate.analyze).
ANALYSIS_CACHE_SIZE = 256
# Kinds that judge how the text reads rather than point at a piece of jargon.
READABILITY_KINDS = frozenset({"long_sentence", "unfamiliar_words", "grade"})
_PRIORITY = {kind: rank for rank, kind in enumerate(KIND_PRIORITY)}
_ARTICLE_BEFORE = ("a ", "an ", "A ", "An ")
_NOT_SPACE_RE = re.compile(r"\S")  # \S is exactly "not str.isspace()"


@dataclass(frozen=True, slots=True)
class Scores:
    """Readability numbers of one text."""

    words: int
    sentences: int
    average_sentence_words: float
    longest_sentence_words: int
    flesch_reading_ease: float
    flesch_kincaid_grade: float
    unfamiliar_share: float | None  # None when there is no word list for the language
    unfamiliar_words: tuple[str, ...]
    language: str
    word_lists: bool  # False: detectors only for this language


@dataclass(frozen=True, slots=True)
class GateSettings:
    """Thresholds; the defaults are the ones the issue asks for."""

    unfamiliar_share_block: float = 0.15  # more than this share of unfamiliar words blocks
    min_words_for_share: int = 12  # short texts: the share is not meaningful, only warn
    grade_warn: float = 8.0  # FK grade above this warns only
    sentence_words_warn: int = 25
    everyday_acronyms: frozenset[str] = frozenset()  # added to the built-in everyday list
    extra_familiar_words: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the gate found in one text."""

    findings: tuple[Finding, ...]
    scores: Scores

    @property
    def blocked(self) -> bool:
        """True when any finding blocks sending."""
        return any(finding.severity == "block" for finding in self.findings)

    @property
    def jargon(self) -> tuple[Finding, ...]:
        """Findings that point at jargon (warn or block), leaving out readability ones."""
        return tuple(
            f for f in self.findings if f.kind not in READABILITY_KINDS and f.severity != "info"
        )


def is_english(language: str) -> bool:
    """True for "en", "en-GB", "en_US" and the like: the glossary and grade are English."""
    return primary_language(language) == "en"


def is_product(word: str) -> bool:
    return word.lower() in product_names()


def primary_language(language: str) -> str:
    """ "fr" for "fr-CA" or "FR"; a mixed "en+ru" (template+ticket text) stays as it is."""
    return language.strip().lower().replace("_", "-").split("-")[0]


def detectors_only_note(language: str) -> Finding:
    """The note recorded when no word list fits the text: what was and was not checked."""
    template, _, text = language.partition("+")
    why = (
        f"the template is in '{template}' and the ticket text in '{text}': no one word list fits"
        if text
        else f"no word list for '{language}'"
    )
    return Finding(
        "detectors_only",
        language,
        -1,
        -1,
        f"{why}: detectors only (no unfamiliar-word share, no reading grade)",
        "info",
    )


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


@dataclass
class Gate:
    """The plain-language analysis engine. Build once; call :meth:`analyze` per message."""

    settings: GateSettings = field(default_factory=GateSettings)
    glossary: Glossary | None = None

    def __post_init__(self) -> None:
        if self.glossary is None:
            self.glossary = load_glossary()
        self._glossary: Glossary = self.glossary
        self._familiar = Familiarity(self.settings.extra_familiar_words)
        # Word lists of the other languages, loaded when a notice in that language comes.
        self._word_lists: dict[str, Familiarity | None] = {"en": self._familiar}
        self._word_lists_lock = threading.Lock()
        self._everyday = everyday_acronyms() | frozenset(self.settings.everyday_acronyms)
        # analyze() is pure and Analysis immutable: identical texts (a subject line, a repeated
        # note) are analysed once. Bounded, least recently used first out.
        self._analyses: OrderedDict[tuple[str, str, tuple[tuple[int, int], ...]], Analysis] = (
            OrderedDict()
        )
        self._analyses_lock = threading.Lock()
        self._sentence_unfamiliar = text_cache(self._unfamiliar_in_sentence)

    # -- analysis --------------------------------------------------------------------------

    def analyze(
        self, text: str, *, language: str = "en", protected: Sequence[tuple[int, int]] = ()
    ) -> Analysis:
        """Findings and scores for one plain-text message.

        ``protected`` lists (start, end) spans a template explicitly allowed: nothing inside
        them is reported, but they still count for readability.
        """
        key = (text, language, tuple((start, end) for start, end in protected))
        with self._analyses_lock:
            cached = self._analyses.get(key)
            if cached is not None:
                self._analyses.move_to_end(key)
                return cached
        analysis = self._analyze(text, language, key[2])
        with self._analyses_lock:
            self._analyses[key] = analysis
            if len(self._analyses) > ANALYSIS_CACHE_SIZE:
                self._analyses.popitem(last=False)
        return analysis

    def word_list(self, language: str) -> Familiarity | None:
        """The familiar-word test for ``language``, None when there is no list for it."""
        code = primary_language(language)
        with self._word_lists_lock:
            if code not in self._word_lists:
                try:
                    found = Familiarity(self.settings.extra_familiar_words, code)
                except ValueError:
                    found = None
                if found is None and len(self._word_lists) >= 64:
                    return None  # languages are ticket data: remember only so many misses
                self._word_lists[code] = found
            return self._word_lists[code]

    def _analyze(self, text: str, language: str, protected: Sequence[tuple[int, int]]) -> Analysis:
        english = is_english(language)
        familiar = self.word_list(language)
        scan = _blank(text, protected) if protected else text
        links = find_links(scan)
        candidates: list[Finding] = []
        for detector in DETECTORS:
            candidates.extend(detector(scan))
        explained = explained_acronyms(scan)
        if english:
            candidates.extend(self._glossary_findings(scan, explained))
        candidates.extend(
            find_acronyms(
                scan,
                everyday=self._everyday,
                is_familiar=self._familiar.is_familiar,
                explained=explained,
            )
        )
        findings = _resolve(candidates, links)

        counts = readability.count(text, language if not english else "en")
        scores, whole_text = self._scores(
            text, counts, language, english, familiar is not None, findings, protected, links
        )
        return Analysis(tuple(findings) + tuple(whole_text), scores)

    def _glossary_findings(self, text: str, explained: frozenset[str]) -> Iterable[Finding]:
        for match in self._glossary.find(text):
            found = text[match.start : match.end]
            entry = match.entry
            if found.rstrip("s") in explained:
                continue  # "single sign-on (SSO)": SSO is explained in this text
            suggestion = entry.note or (
                f"say '{match.replacement}' instead of '{found}'"
                if entry.safe
                else f"say something like '{match.replacement}' instead of '{found}'"
            )
            severity: Severity = "info" if entry.severity == "off" else entry.severity
            yield Finding(
                "glossary",
                found,
                match.start,
                match.end,
                suggestion,
                severity,
                match.replacement if entry.safe else None,
            )

    def _scores(
        self,
        text: str,
        counts: readability.Counts,
        language: str,
        english: bool,
        word_lists: bool,
        findings: Sequence[Finding],
        protected: Sequence[tuple[int, int]],
        links: Sequence[tuple[int, int]],
    ) -> tuple[Scores, list[Finding]]:
        settings = self.settings
        words = counts.words
        sentence_count = len(counts.sentences)
        fre = readability.flesch_reading_ease(words, sentence_count, counts.syllables)
        grade = readability.flesch_kincaid_grade(words, sentence_count, counts.syllables)
        longest = max((s.words for s in counts.sentences), default=0)
        extra: list[Finding] = []
        for sentence in counts.sentences:
            if sentence.words > settings.sentence_words_warn:
                extra.append(
                    Finding(
                        "long_sentence",
                        text[sentence.start : sentence.end],
                        sentence.start,
                        sentence.end,
                        f"split this sentence: {sentence.words} words "
                        f"(aim for {settings.sentence_words_warn} or fewer)",
                        "warn",
                    )
                )
        share: float | None = None
        unfamiliar: tuple[str, ...] = ()
        if not word_lists:
            extra.append(detectors_only_note(language))
        if word_lists:
            unfamiliar = self._unfamiliar(text, counts, language, findings, protected, links)
            share = len(unfamiliar) / words if words else 0.0
            if share > settings.unfamiliar_share_block:
                short = words < settings.min_words_for_share
                extra.append(
                    Finding(
                        "unfamiliar_words",
                        ", ".join(dict.fromkeys(unfamiliar)),
                        -1,
                        -1,
                        f"{share:.0%} of the words are not everyday words "
                        f"(limit {settings.unfamiliar_share_block:.0%}); use simpler ones",
                        "warn" if short else "block",
                    )
                )
            if english and grade > settings.grade_warn:
                extra.append(
                    Finding(
                        "grade",
                        f"{grade:.1f}",
                        -1,
                        -1,
                        f"reading grade {grade:.1f} is above {settings.grade_warn:g}: "
                        "use shorter sentences and shorter words",
                        "warn",
                    )
                )
        scores = Scores(
            words=words,
            sentences=sentence_count,
            average_sentence_words=words / sentence_count if sentence_count else 0.0,
            longest_sentence_words=longest,
            flesch_reading_ease=round(fre, 2),
            flesch_kincaid_grade=round(grade, 2),
            unfamiliar_share=None if share is None else round(share, 4),
            unfamiliar_words=unfamiliar,
            language=language,
            word_lists=word_lists,
        )
        return scores, extra

    def _unfamiliar(
        self,
        text: str,
        counts: readability.Counts,
        language: str,
        findings: Sequence[Finding],
        protected: Sequence[tuple[int, int]],
        links: Sequence[tuple[int, int]],
    ) -> tuple[str, ...]:
        """Words not on the familiar lists, skipping names, protected values and words inside
        pattern findings (an address or a path is reported once, by its detector)."""
        skip = [(f.start, f.end) for f in findings if f.kind not in ("glossary", "acronym")]
        skip.extend(protected)
        skip.extend(links)
        found: list[str] = []
        for sentence in counts.sentences:
            words = self._sentence_unfamiliar(
                text[sentence.start : sentence.end], primary_language(language)
            )
            for offset, word in words:
                if not _inside(sentence.start + offset, skip):
                    found.append(word)
        return tuple(found)

    def _unfamiliar_in_sentence(self, sentence: str, language: str) -> tuple[tuple[int, str], ...]:
        """(offset, word) of the words of one sentence that are not familiar, names and
        acronyms left out. Pure for a given gate, so cached per gate (see textcache)."""
        lists = self.word_list(language)
        assert lists is not None
        familiar = lists.is_familiar
        # German writes every noun with a capital: there a capital does not mark a name.
        names_by_capital = language != "de"
        found: list[tuple[int, str]] = []
        for index, match in enumerate(ALPHA_WORD_RE.finditer(sentence)):
            word = match.group()
            if word[0].isupper() and index > 0 and (names_by_capital or is_product(word)):
                continue  # a name (Sam, Outlook, Teams): not counted as unfamiliar
            if word.isupper() and len(word) > 1:
                continue  # acronyms have their own rule
            if len(word) <= 2 or familiar(word):
                continue
            found.append((match.start(), word))
        return tuple(found)

    # -- rewriting -------------------------------------------------------------------------

    def rewrite(
        self, text: str, analysis: Analysis, *, protected: Sequence[tuple[int, int]] = ()
    ) -> str:
        """Apply the safe glossary replacements, keeping a capital first letter and fixing
        "a"/"an" before the new words; never inside protected spans."""
        edits = sorted(
            (
                f
                for f in analysis.findings
                if f.replacement is not None
                and f.start >= 0
                and text[f.start : f.end] == f.text
                and not _overlaps(f.start, f.end, protected)
            ),
            key=lambda f: f.start,
            reverse=True,
        )
        for finding in edits:
            assert finding.replacement is not None
            replacement = _match_case(finding.text, finding.replacement, text, finding.start)
            start = finding.start
            before = text[max(0, start - 3) : start]
            article = _article_fix(before, replacement)
            if article is not None:
                cut = len(before) - before.rfind(article[0]) if article[0] in before else 0
                start -= cut
                replacement = article[1] + replacement
            text = text[:start] + replacement + text[finding.end :]
        return text


def _match_case(original: str, replacement: str, text: str, start: int) -> str:
    if not replacement:
        return replacement
    first = original.split()[0]
    # "Reboot" -> "Restart"; but "VPN profile" starts with an acronym, not a capital letter.
    acronym = len(first) > 1 and first.rstrip("s").isupper()
    at_sentence_start = not text[:start].strip() or text[:start].rstrip()[-1] in ".!?\n"
    if (first[0].isupper() and not acronym) or at_sentence_start:
        return replacement[0].upper() + replacement[1:]
    return replacement


def _article_fix(before: str, replacement: str) -> tuple[str, str] | None:
    """("a ", "an ") swaps when the replacement starts with a vowel sound or stops doing so."""
    vowel = replacement[:1].lower() in "aeiou"
    for article in _ARTICLE_BEFORE:
        if before.endswith(article) and (
            before == article or not before[-len(article) - 1].isalpha()
        ):
            is_an = article.lower() == "an "
            if is_an == vowel:
                return None
            new = ("an " if vowel else "a ") if article[0].islower() else ("An " if vowel else "A ")
            return article, new
    return None


def _blank(text: str, protected: Sequence[tuple[int, int]]) -> str:
    """The text with every non-space character of the protected spans made a space."""
    for start, end in protected:
        start, end = max(0, start), min(len(text), end)
        if start < end:
            text = text[:start] + _NOT_SPACE_RE.sub(" ", text[start:end]) + text[end:]
    return text


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _overlaps(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < s_end and s_start < end for s_start, s_end in spans)


def _resolve(candidates: list[Finding], links: Sequence[tuple[int, int]]) -> list[Finding]:
    """Keep the longest finding where several overlap (the kind earlier in KIND_PRIORITY on a
    tie), and drop findings inside links and e-mail addresses except IP addresses."""
    ordered = sorted(
        candidates, key=lambda f: (-(f.end - f.start), _PRIORITY.get(f.kind, 99), f.start)
    )
    kept: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for finding in ordered:
        if finding.kind not in ("ipv4", "ipv6") and any(
            start <= finding.start and finding.end <= end for start, end in links
        ):
            continue
        if _overlaps(finding.start, finding.end, taken):
            continue
        kept.append(finding)
        taken.append((finding.start, finding.end))
    kept.sort(key=lambda f: (f.start, f.end))
    return kept
