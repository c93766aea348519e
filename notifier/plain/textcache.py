"""A bounded cache for pure functions of a short text: a sentence, a paragraph, a phrase.

A template's own sentences and paragraphs recur in every notice, so what the gate works out for
them is kept. A longer text is ticket data that seldom recurs: it is worked out each time, so a
cache never holds more than SIZE texts of at most LONGEST characters.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar, overload

SIZE = 2048
LONGEST = 1000

R = TypeVar("R")


@overload
def text_cache(function: Callable[[str], R]) -> Callable[[str], R]: ...
@overload
def text_cache(function: Callable[[str, str], R]) -> Callable[[str, str], R]: ...
def text_cache(function: Callable[..., R]) -> Callable[..., R]:
    """``function(text, *more)`` with a least-recently-used cache for short texts."""
    cached = lru_cache(maxsize=SIZE)(function)

    def call(text: str, *more: str) -> R:
        if len(text) > LONGEST:
            return function(text, *more)
        return cached(text, *more)

    return call
