"""The glossary: IT terms, their plain replacements, and a fast matcher over word tokens.

Entries come from ``notifier/plain/data/glossary.toml`` (written for this project), then from
team files, then from entries given in configuration; a later entry with the same term replaces
an earlier one, and ``severity = "off"`` removes it. Each entry expands into its surface forms
(reboot, reboots, rebooted, rebooting) once, when the glossary is built; matching is then a dict
lookup per word of the text, longest phrase first, with no regular expression per term.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal, cast

from notifier.core.errors import ConfigError
from notifier.plain.textcache import text_cache

EntrySeverity = Literal["block", "warn", "info", "off"]
PartOfSpeech = Literal["verb", "noun", "fixed"]

SEVERITIES: tuple[EntrySeverity, ...] = ("block", "warn", "info", "off")
PARTS_OF_SPEECH: tuple[PartOfSpeech, ...] = ("verb", "noun", "fixed")
_KEYS = frozenset({"term", "plain", "severity", "safe", "pos", "forms", "plain_forms", "note"})

# Words for glossary matching: like WORD_RE but a dot always splits, so "cache." is "cache".
TOKEN_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# Characters that are neither in a word nor white space: no phrase goes across one, so a text
# is matched piece by piece between them, and each piece's matches are cached per glossary (a
# template's own pieces recur in every notice).
_BREAK_RE = re.compile(r'[.,;:!?()"]')

# Plain-word verbs whose past tense is not "-ed" (replacements are plain words, so few).
_IRREGULAR_PAST = {
    "set": "set",
    "reset": "reset",
    "put": "put",
    "cut": "cut",
    "shut": "shut",
    "let": "let",
    "send": "sent",
    "build": "built",
    "keep": "kept",
    "make": "made",
    "find": "found",
    "hold": "held",
    "lose": "lost",
    "tell": "told",
    "bring": "brought",
    "undo": "undone",
}
_VOWEL_GROUP_RE = re.compile(r"[aeiouy]+")


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """One term and how to say it plainly."""

    term: str
    plain: str
    severity: EntrySeverity = "block"
    safe: bool = False
    pos: PartOfSpeech = "noun"
    forms: tuple[str, ...] = ()
    plain_forms: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class GlossaryMatch:
    """A glossary term found in a text, with the replacement for the exact form found."""

    start: int
    end: int
    entry: GlossaryEntry
    replacement: str


@dataclass(frozen=True, slots=True)
class _Form:
    keys: tuple[str, ...]
    entry: GlossaryEntry
    replacement: str


@dataclass(frozen=True)
class Glossary:
    """All active entries, and an index from a first word to the phrases that start with it."""

    entries: Mapping[str, GlossaryEntry]
    _index: Mapping[str, tuple[_Form, ...]] = field(repr=False, compare=False)

    @classmethod
    def build(cls, entries: Mapping[str, GlossaryEntry]) -> Glossary:
        """Expand every active entry into its forms and index them by first word."""
        index: dict[str, dict[tuple[str, ...], _Form]] = {}
        for entry in entries.values():
            if entry.severity == "off":
                continue
            for surface, replacement in expand(entry):
                keys = tuple(word_key(word) for word in TOKEN_RE.findall(surface))
                if keys:
                    index.setdefault(keys[0], {})[keys] = _Form(keys, entry, replacement)
        frozen = {
            first: tuple(sorted(forms.values(), key=lambda form: -len(form.keys)))
            for first, forms in index.items()
        }
        active = {key: entry for key, entry in entries.items() if entry.severity != "off"}
        return cls(active, frozen)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and _term_key(term) in self.entries

    def get(self, term: str) -> GlossaryEntry | None:
        """The active entry for a term, if any."""
        return self.entries.get(_term_key(term))

    def find(self, text: str) -> Iterator[GlossaryMatch]:
        """Every glossary phrase in the text, leftmost-longest, never overlapping."""
        offset = 0
        for piece in _BREAK_RE.split(text):
            for match in self._piece_matches(piece):
                yield GlossaryMatch(
                    match.start + offset, match.end + offset, match.entry, match.replacement
                )
            offset += len(piece) + 1  # the piece and the break character after it

    @cached_property
    def _piece_matches(self) -> Callable[[str], tuple[GlossaryMatch, ...]]:
        """_find_in_piece with a cache of this glossary's own (made on first use)."""
        return text_cache(self._find_in_piece)

    def _find_in_piece(self, text: str) -> tuple[GlossaryMatch, ...]:
        """Every glossary phrase in a text, leftmost-longest, never overlapping."""
        index = self._index
        words = TOKEN_RE.findall(text)
        lowered = list(map(str.lower, words))
        # Only words that start a phrase are tried: a few per text, often none.
        starts = [i for i, word in enumerate(words) if word in index or lowered[i] in index]
        if not starts:
            return ()
        tokens = list(TOKEN_RE.finditer(text))
        found: list[GlossaryMatch] = []
        free = 0  # the first word not inside a phrase already found
        for i in starts:
            if i < free:
                continue
            word = words[i]
            forms = index.get(word)
            if lowered[i] != word:
                more = index.get(lowered[i])
                if more:
                    forms = more if forms is None else tuple(sorted((*forms, *more), key=_longest))
            matched = None
            if forms:
                for form in forms:
                    if _matches(form.keys, tokens, i, text):
                        matched = form
                        break
            if matched is None:
                continue
            free = i + len(matched.keys)
            end = tokens[free - 1].end()
            found.append(GlossaryMatch(tokens[i].start(), end, matched.entry, matched.replacement))
        return tuple(found)


def _longest(form: _Form) -> int:
    return -len(form.keys)


def _matches(keys: tuple[str, ...], tokens: list[re.Match[str]], i: int, text: str) -> bool:
    if i + len(keys) > len(tokens):
        return False
    for offset in range(1, len(keys)):
        token = tokens[i + offset]
        # Words of a phrase are separated by white space only ("DNS cache", not "DNS, cache").
        if text[tokens[i + offset - 1].end() : token.start()].strip():
            return False
        word, key = token.group(), keys[offset]
        if word != key and word.lower() != key:
            return False
    return True


def word_key(word: str) -> str:
    """How a word of a term is matched: as written when it has capitals past its first letter
    (DNS, IdP, PowerShell), else in any case (reboot, Kerberos)."""
    if word[1:] != word[1:].lower() or (word.isupper() and len(word) > 0):
        return word
    return word.lower()


def _term_key(term: str) -> str:
    return " ".join(word_key(word) for word in TOKEN_RE.findall(term)) or term.strip().lower()


# -- inflection ---------------------------------------------------------------------------


def _doubles(word: str) -> bool:
    """One-syllable words ending consonant-vowel-consonant double it: stop -> stopped."""
    lowered = word.lower()
    return (
        len(lowered) >= 3
        and len(_VOWEL_GROUP_RE.findall(lowered)) == 1
        and lowered[-1] not in "aeiouwxy"
        and lowered[-2] in "aeiou"
        and lowered[-3] not in "aeiou"
    )


def verb_forms(word: str) -> tuple[str, str, str]:
    """(third person, past, -ing) of a regular English verb, with a few irregular pasts."""
    lowered = word.lower()
    if lowered.endswith(("s", "x", "z", "ch", "sh", "o")):
        third = word + "es"
    elif lowered.endswith("y") and lowered[-2:-1] not in set("aeiou"):
        third = word[:-1] + "ies"
    else:
        third = word + "s"
    if lowered in _IRREGULAR_PAST:
        past = _IRREGULAR_PAST[lowered]
    elif lowered.endswith("e"):
        past = word + "d"
    elif lowered.endswith("y") and lowered[-2:-1] not in set("aeiou"):
        past = word[:-1] + "ied"
    elif _doubles(word):
        past = word + word[-1] + "ed"
    else:
        past = word + "ed"
    if lowered.endswith("ie"):
        ing = word[:-2] + "ying"
    elif lowered.endswith("e") and not lowered.endswith(("ee", "ye", "oe")):
        ing = word[:-1] + "ing"
    elif _doubles(word):
        ing = word + word[-1] + "ing"
    else:
        ing = word + "ing"
    return third, past, ing


def plural(word: str) -> str:
    """The plural of a regular English noun; words already ending in -s stay as they are."""
    if word.isupper():
        return word if word.endswith("S") else word + "s"  # VLANs, CPUs
    lowered = word.lower()
    if lowered.endswith(("ss", "x", "z", "ch", "sh")):
        return word + "es"
    if lowered.endswith("s"):
        return word  # "settings", "details"
    if lowered.endswith("y") and lowered[-2:-1] not in set("aeiou"):
        return word[:-1] + "ies"
    return word + "s"


def _swap_word(phrase: str, index: int, new: str) -> str:
    words = phrase.split(" ")
    words[index] = new
    return " ".join(words)


def expand(entry: GlossaryEntry) -> list[tuple[str, str]]:
    """Every surface form of an entry with the replacement for it, base form first."""
    term, plain = entry.term, entry.plain
    pairs: list[tuple[str, str]] = [(term, plain)]
    if entry.pos == "verb":
        given = entry.plain_forms
        plain_first = plain.split(" ")[0]
        plain_inflected = (
            list(given[1:4])
            if len(given) >= 4
            else [_swap_word(plain, 0, form) for form in verb_forms(plain_first)]
        )
        words = term.split(" ")
        positions = {0, len(words) - 1}  # "flush the cache" and "power cycle" alike
        for position in sorted(positions):
            for index, form in enumerate(verb_forms(words[position])):
                pairs.append((_swap_word(term, position, form), plain_inflected[index]))
            if _doubles(words[position]):
                # "remap" is two syllables but still "remapped": match both spellings.
                stem = words[position]
                pairs.append((_swap_word(term, position, stem + "ed"), plain_inflected[1]))
                pairs.append((_swap_word(term, position, stem + "ing"), plain_inflected[2]))
    elif entry.pos == "noun":
        words = term.split(" ")
        many = (
            entry.plain_forms[1]
            if len(entry.plain_forms) >= 2
            else _swap_word(plain, -1, plural(plain.split(" ")[-1]))
        )
        pairs.append((_swap_word(term, len(words) - 1, plural(words[-1])), many))
    pairs.extend((form, plain) for form in entry.forms)
    seen: set[str] = set()
    unique = []
    for surface, replacement in pairs:
        if surface not in seen:
            seen.add(surface)
            unique.append((surface, replacement))
    return unique


# -- loading ------------------------------------------------------------------------------


def _entry(raw: object, origin: str) -> GlossaryEntry:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: an entry must be a table with at least 'term' and 'plain'")
    term = raw.get("term")
    if not isinstance(term, str) or not TOKEN_RE.search(term):
        raise ConfigError(f"{origin}: 'term' must be a non-empty string")
    where = f"{origin} ({term!r})"
    unknown = sorted(str(key) for key in raw if key not in _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}"
        )
    severity = raw.get("severity", "block")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: 'severity' must be one of {', '.join(SEVERITIES)}")
    plain = raw.get("plain", "")
    if not isinstance(plain, str) or (severity != "off" and not plain.strip()):
        raise ConfigError(f"{where}: 'plain' must be a non-empty string (what to say instead)")
    safe = raw.get("safe", False)
    if not isinstance(safe, bool):
        raise ConfigError(f"{where}: 'safe' must be true or false")
    pos = raw.get("pos", "noun")
    if pos not in PARTS_OF_SPEECH:
        raise ConfigError(f"{where}: 'pos' must be one of {', '.join(PARTS_OF_SPEECH)}")
    forms = _strings(raw.get("forms", []), where, "forms")
    plain_forms = _strings(raw.get("plain_forms", []), where, "plain_forms")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise ConfigError(f"{where}: 'note' must be a string")
    return GlossaryEntry(
        term=term.strip(),
        plain=plain.strip(),
        severity=cast(EntrySeverity, severity),
        safe=safe,
        pos=cast(PartOfSpeech, pos),
        forms=forms,
        plain_forms=plain_forms,
        note=note,
    )


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _entries_from_toml(text: str, origin: str) -> list[GlossaryEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"terms"})
    if extra:
        raise ConfigError(f"{origin}: unknown top-level key(s) {', '.join(extra)}; use 'terms'")
    terms = data.get("terms", [])
    if not isinstance(terms, list):
        raise ConfigError(f"{origin}: 'terms' must be an array of tables")
    return [_entry(raw, f"{origin}: terms[{i}]") for i, raw in enumerate(terms)]


def _merge(merged: dict[str, GlossaryEntry], entries: Sequence[GlossaryEntry], origin: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        key = _term_key(entry.term)
        if key in seen:
            raise ConfigError(f"{origin}: the term {entry.term!r} is given twice")
        seen.add(key)
        merged[key] = entry  # a later source overrides an earlier one with the same term


def builtin_entries() -> list[GlossaryEntry]:
    """The entries of the glossary shipped with notifier."""
    text = (
        resources.files("notifier.plain")
        .joinpath("data")
        .joinpath("glossary.toml")
        .read_text("utf-8")
    )
    return _entries_from_toml(text, "built-in glossary")


def load_glossary(
    *, files: Sequence[Path] = (), entries: Sequence[Mapping[str, object]] = ()
) -> Glossary:
    """The built-in glossary, then each file, then the given entries; later ones win.

    Raises :class:`ConfigError` naming the file or the entry for anything malformed.
    """
    merged: dict[str, GlossaryEntry] = {}
    _merge(merged, builtin_entries(), "built-in glossary")
    for path in files:
        origin = f"glossary file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{origin}: cannot be read: {exc}") from exc
        _merge(merged, _entries_from_toml(text, origin), origin)
    parsed = [_entry(raw, f"glossary entry {i}") for i, raw in enumerate(entries)]
    _merge(merged, parsed, "glossary entries")
    return Glossary.build(merged)
