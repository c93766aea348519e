"""Bounding a test's wait on a peer that may never answer (the unfixed code hangs for ever)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def finishes_within(seconds: float, work: Callable[[], T]) -> tuple[T, float]:
    """Run ``work`` in a thread; fail (instead of hanging the suite) if it runs too long."""
    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    if thread.is_alive():
        pytest.fail(f"still running after {seconds:g} s (the peer keeps it waiting)")
    if errors:
        raise errors[0]
    return box[0], elapsed
