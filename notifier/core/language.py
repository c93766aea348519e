"""Which language a ticket's requester reads: what the mail headers say, else what the text is.

Pure apart from loading the identifier's model once per process. :func:`detect` takes the
header values in the order they are trusted and the texts to identify, and returns the language
with a sentence saying how it was chosen (recorded with the ticket). docs/language.md explains
the order and the numbers behind the identifier and the threshold.

The identifier is py3langid (a naive Bayes model over byte n-grams, shipped in its wheel; no
download, deterministic). It is asked to choose only among the languages the deployment has
templates for plus :data:`COMMON_LANGUAGES`: fewer candidates, fewer confusions between close
languages. An answer below :data:`MIN_CONFIDENCE` is "unsure", and the ticket gets no language,
so the notice is written in ``[plain] default_language``.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Languages the identifier may answer besides those with templates: the ones helpdesk mail in
# Europe is most often written in. Restricting the choice is what makes one- or two-sentence
# texts reliable (see docs/language.md).
COMMON_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "ru", "pl", "sv", "da", "fi", "cs")
# Below this the identifier is unsure (softmax over the candidate languages, 0..1). Measured on
# tests/data/language/short_texts.tsv: its one wrong answer ("Laptop-Akku leer" as Finnish,
# 0.37) is below it; the few right answers below it are three-word titles ("Screen flickers").
MIN_CONFIDENCE = 0.5
# The most of the text that is identified: a few sentences decide, and the cost is linear.
MAX_SAMPLE_CHARS = 1000
_TAG = re.compile(r"^([a-z]{2,3})(?:-[a-z0-9]{1,8})*$")
_NOT_LANGUAGES = frozenset({"und", "mul", "zxx", "mis"})  # BCP 47: undetermined, multiple...


@dataclass(frozen=True, slots=True)
class Guess:
    code: str  # ISO 639-1 where there is one: "fr"
    confidence: float  # 0..1


@dataclass(frozen=True, slots=True)
class Detected:
    """The language chosen, "" when nothing said it with confidence (the default is used)."""

    code: str
    how: str  # "Content-Language of the original request (de-DE)", "text (fr, 0.99)", ...


def language_tag(value: str) -> str:
    """The primary language of a Content-Language or Accept-Language value, lower-case, or "".

    ``"de-DE, en"`` gives ``de`` (the first); ``"en;q=0.5, fr-CA;q=0.9"`` gives ``fr`` (the
    highest weight, the first on a tie). ``*``, private and undetermined tags give nothing.
    """
    best, best_weight = "", -1.0
    for item in value.split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                weight = float(match.group(1))
            except ValueError:
                continue
        parsed = _TAG.match(tag.strip().lower().replace("_", "-"))
        if parsed is None or parsed.group(1) in _NOT_LANGUAGES or weight <= 0:
            continue
        if weight > best_weight:
            best, best_weight = parsed.group(1), weight
    return best


def detect(
    headers: Iterable[tuple[str, str]],
    texts: Sequence[str],
    languages: Collection[str] = COMMON_LANGUAGES,
    *,
    min_confidence: float = MIN_CONFIDENCE,
    when_unsure: Iterable[tuple[str, str]] = (),
) -> Detected:
    """The language of a ticket: the first header that names one, else the texts' language,
    else the first of ``when_unsure`` that names one.

    ``headers``: (where, value) pairs in the order they are trusted, for example
    ``("Content-Language of the original request", "fr-FR")``. ``texts``: what the requester
    will read (title, note) and what they wrote, joined and clipped to
    :data:`MAX_SAMPLE_CHARS`. ``languages``: the candidates for the text (a header is taken as
    it is, whatever it names). ``when_unsure``: headers that say less than a confident text
    (a technician's mail program states its own setting, not the requester's language).
    """
    found = _from_headers(headers)
    if found is not None:
        return found
    sample = " ".join(" ".join(text.split()) for text in texts if text.strip())
    guess = identify(sample[:MAX_SAMPLE_CHARS], languages) if sample else None
    if guess is not None and guess.confidence >= min_confidence:
        return Detected(guess.code, f"text ({guess.code}, {guess.confidence:.2f})")
    found = _from_headers(when_unsure)
    if found is not None:
        return found
    if not sample:
        return Detected("", "no language header and no text: default language")
    if guess is None:
        return Detected("", "text: no letters to identify: default language")
    return Detected(
        "",
        f"text: unsure ({guess.code}, {guess.confidence:.2f} < {min_confidence:g}): "
        "default language",
    )


def _from_headers(headers: Iterable[tuple[str, str]]) -> Detected | None:
    for where, value in headers:
        code = language_tag(value)
        if code:
            return Detected(code, f"{where} ({value.strip()[:40]})")
    return None


def identify(text: str, languages: Collection[str] = COMMON_LANGUAGES) -> Guess | None:
    """The most likely of ``languages`` for ``text``; None when it has no letters at all."""
    if not any(char.isalpha() for char in text):
        return None
    code, confidence = _identifier(frozenset(languages)).classify(text)
    return Guess(str(code), float(confidence))


_lock = threading.Lock()
_base: Any = None
_restricted: dict[frozenset[str], Any] = {}


def _identifier(languages: frozenset[str]) -> Any:
    """py3langid's identifier restricted to ``languages`` (those it knows), built once each."""
    global _base
    with _lock:
        found = _restricted.get(languages)
        if found is not None:
            return found
        if _base is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _base = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        known = [code for code in sorted(languages) if code in set(_base.labels)]
        restricted = copy.copy(_base)
        restricted.set_languages(known or list(COMMON_LANGUAGES))
        if len(_restricted) < 16:  # a deployment has one or two sets; bounded all the same
            _restricted[languages] = restricted
        return restricted
