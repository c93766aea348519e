"""Which extractor gives the requester the technician's answer, and only it: measured side by side.

Run: ``.venv/bin/python bench/reply_extraction.py``. Every candidate gets the same input, the
body text notifier's parser makes of each reply in ``tests/data/mail/replies`` (the HTML-only
replies converted by ``notifier.core.htmltext``), and is scored against the answer written beside
it (``<name>.answer.txt``) and the request it quotes (``<name>.request.txt``):

- **no quote**: no line of the quoted request is left (precision, the part that matters most:
  the requester must not read their own mail back as "what we did");
- **answer only**: every line left belongs to the answer (no greeting, sign-off, signature,
  footer, reply header either);
- **answer whole**: every line of the answer is kept (recall);
- **exact**: answer only and answer whole;
- line precision / recall over all samples, and the median cost per mail.

The libraries are optional: a candidate that is not installed is listed as such. To measure
them all, install them into a scratch virtualenv (not the project's: talon pulls numpy, scipy
and scikit-learn) and run the script with it from the repository root::

    python -m venv /tmp/reply-bench
    /tmp/reply-bench/bin/pip install mail-parser-reply quotequail email-reply-parser talon
    /tmp/reply-bench/bin/python bench/reply_extraction.py

Prints the table (Markdown) and writes ``bench/results/reply_extraction.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _support as bench  # puts the checkout on sys.path

from notifier.sources.mail.parse import parse_mail
from notifier.sources.mail.reply import extract_reply, strip_quoted

SAMPLES = bench.ROOT / "tests" / "data" / "mail" / "replies"
RESULT = bench.RESULTS / "reply_extraction.json"
ROUNDS = 5  # each candidate runs over all samples this often; the median time is reported

Extractor = Callable[[str], str]


def _mail_parser_reply() -> Extractor:
    from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]
    from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-not-found]

    parser = EmailReplyParser(languages=[lang for lang in MAIL_LANGUAGES if lang != "david"])
    return lambda text: parser.parse_reply(text) or ""


def _quotequail() -> Extractor:
    import quotequail  # type: ignore[import-not-found]

    def run(text: str) -> str:
        parts = quotequail.quote(text, quote_intro_line=True)
        return "\n".join(part for shown, part in parts if shown)

    return run


def _email_reply_parser() -> Extractor:
    from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]

    return lambda text: EmailReplyParser.parse_reply(text)


def _talon() -> Extractor:
    from talon import quotations  # type: ignore[import-not-found]
    from talon.signature.bruteforce import extract_signature  # type: ignore[import-not-found]

    def run(text: str) -> str:
        body, _signature = extract_signature(quotations.extract_from_plain(text))
        return str(body)

    return run


def _then_notifier(factory: Callable[[], Extractor]) -> Callable[[], Extractor]:
    """A library for the quotes, then notifier's greeting/sign-off/footer rules on what is left:
    shows whether the library's quote detection would add anything to the hand-written one."""

    def make() -> Extractor:
        library = factory()
        return lambda text: extract_reply(library(text))

    return make


# (name, distribution for the version column, factory)
CANDIDATES: list[tuple[str, str | None, Callable[[], Extractor]]] = [
    ("notifier extract_reply (hand-written)", None, lambda: extract_reply),
    ("notifier strip_quoted (quotes only)", None, lambda: strip_quoted),
    ("mail-parser-reply", "mail-parser-reply", _mail_parser_reply),
    ("quotequail", "quotequail", _quotequail),
    ("email-reply-parser", "email-reply-parser", _email_reply_parser),
    ("talon (quotations + bruteforce signature)", "talon", _talon),
    (
        "mail-parser-reply, then notifier's rules",
        "mail-parser-reply",
        _then_notifier(_mail_parser_reply),
    ),
    ("talon, then notifier's rules", "talon", _then_notifier(_talon)),
]


@dataclass
class Sample:
    name: str
    text: str
    answer: list[str]
    request: list[str]


@dataclass
class Score:
    candidate: str
    version: str = ""
    installed: bool = True
    error: str = ""
    no_quote: int = 0
    answer_only: int = 0
    answer_whole: int = 0
    exact: int = 0
    kept_right: int = 0  # output lines that are answer lines
    kept: int = 0  # output lines
    wanted: int = 0  # answer lines
    found: int = 0  # answer lines found in the output
    ms_per_mail: float = 0.0
    misses: list[str] = field(default_factory=list)


def _norm(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def load_samples() -> list[Sample]:
    samples = []
    for path in sorted(SAMPLES.glob("*.eml")):
        mail = parse_mail(path.read_bytes(), origin=path.name)
        answer = _norm(path.with_name(path.stem + ".answer.txt").read_text(encoding="utf-8"))
        request = _norm(path.with_name(path.stem + ".request.txt").read_text(encoding="utf-8"))
        # A requester's name alone ("Ann") is too short to tell a quote from a signature.
        request = [line for line in request if len(line) >= 8]
        samples.append(Sample(path.stem, mail.text, answer, request))
    return samples


def load_trimmer_fixtures(root: Path) -> list[Sample]:
    """Discourse's email_reply_trimmer fixtures (real replies, many languages): ``emails/`` in,
    ``trimmed/`` the reply kept, ``elided/`` what it cut (quotes, headers, "--" signatures).
    Written by others, so a check of what the rules here were not written against. Its
    trimmed text keeps greetings and sign-offs, which extract_reply drops by design: recall
    against it is a lower bound."""
    samples = []
    for path in sorted((root / "emails").glob("*.txt")):
        trimmed = root / "trimmed" / path.name
        elided = root / "elided" / path.name
        if not trimmed.exists() or not elided.exists():
            continue
        cut = _norm(elided.read_text(encoding="utf-8"))
        cut = [line for line in cut if len(line) >= 8 and line not in trimmed.read_text()]
        text = path.read_text(encoding="utf-8")
        samples.append(Sample(path.stem, text, _norm(trimmed.read_text(encoding="utf-8")), cut))
    return samples


def score(name: str, version: str, extractor: Extractor, samples: list[Sample]) -> Score:
    result = Score(name, version)
    for sample in samples:
        try:
            out = _norm(extractor(sample.text))
        except Exception as exc:  # a library crashing on a sample is a result, not a stop
            out = []
            result.error = f"{type(exc).__name__} on {sample.name}"
        answer = set(sample.answer)
        no_quote = not any(line in sample.request for line in out)
        only = all(line in answer for line in out)
        whole = all(line in out for line in sample.answer)
        result.no_quote += no_quote
        result.answer_only += only
        result.answer_whole += whole
        result.exact += only and whole
        result.kept += len(out)
        result.kept_right += sum(line in answer for line in out)
        result.wanted += len(sample.answer)
        result.found += sum(line in out for line in sample.answer)
        if not (only and whole):
            result.misses.append(sample.name)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for sample in samples:
            try:
                extractor(sample.text)
            except Exception:  # noqa: S112 - already recorded above
                continue
        timings.append((time.perf_counter() - started) / len(samples))
    result.ms_per_mail = statistics.median(timings) * 1000
    return result


def measure(samples: list[Sample]) -> list[Score]:
    scores: list[Score] = []
    for name, dist, factory in CANDIDATES:
        version = ""
        if dist:
            try:
                version = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                scores.append(Score(name, installed=False))
                continue
        try:
            extractor = factory()
        except Exception as exc:  # an import that fails is reported, the others still run
            scores.append(Score(name, version, installed=False, error=repr(exc)))
            continue
        scores.append(score(name, version, extractor, samples))
    return scores


def table(title: str, samples: list[Sample], scores: list[Score], quote: str) -> None:
    n = len(samples)
    print(f"\n{title}: {n} samples\n")
    print(
        f"| candidate | version | {quote} | answer only | answer whole | exact "
        "| line precision | line recall | ms/mail |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in scores:
        if not s.installed:
            print(f"| {s.candidate} | not installed | | | | | | | |")
            continue
        precision = s.kept_right / s.kept if s.kept else 0.0
        recall = s.found / s.wanted if s.wanted else 0.0
        print(
            f"| {s.candidate} | {s.version or 'this tree'} | {s.no_quote}/{n} | "
            f"{s.answer_only}/{n} | {s.answer_whole}/{n} | {s.exact}/{n} | "
            f"{precision:.0%} | {recall:.0%} | {s.ms_per_mail:.2f} |"
        )
    for s in scores:
        if s.installed and s.misses:
            print(f"\n{s.candidate} misses ({len(s.misses)}): {', '.join(s.misses)}")
        if s.error:
            print(f"{s.candidate}: {s.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--trimmer-fixtures",
        type=Path,
        help="the test/ folder of a discourse/email_reply_trimmer checkout: a second, held-out table",
    )
    args = parser.parse_args()
    samples = load_samples()
    scores = measure(samples)
    table(f"Technician replies ({SAMPLES.relative_to(bench.ROOT)})", samples, scores, "no quote")
    payload: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": bench.machine(),
        "code": bench.code_version(),
        "samples": len(samples),
        "scores": [s.__dict__ for s in scores],
    }
    if args.trimmer_fixtures:
        held_out = load_trimmer_fixtures(args.trimmer_fixtures)
        held_scores = measure(held_out)
        table("Held out: email_reply_trimmer fixtures", held_out, held_scores, "nothing it cuts")
        payload["trimmer_fixtures"] = {
            "samples": len(held_out),
            "scores": [s.__dict__ for s in held_scores],
        }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten {RESULT.relative_to(bench.ROOT)}")


if __name__ == "__main__":
    main()
