"""Write the frequency word lists under notifier/plain/data/ (words.<lang>.txt) from wordfreq.

Run once, with wordfreq installed beside the project (it is not a dependency: the lists are
data, committed with their licence next to them):

    pip install --target /tmp/wordfreq wordfreq==3.1.1
    PYTHONPATH=/tmp/wordfreq .venv/bin/python scripts/word_lists.py

Each list holds the most frequent N word forms of the language (wordfreq's "best" list, which
mixes subtitles, Wikipedia, books, news and web text), letters only, lower-case. See
notifier/plain/data/words.LICENSE.txt and docs/language.md.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import wordfreq  # type: ignore[import-not-found]

DATA = Path(__file__).resolve().parents[1] / "notifier" / "plain" / "data"
SIZES = {"de": 30000, "fr": 25000, "es": 25000}


def main() -> None:
    for language, size in SIZES.items():
        words = [
            word
            for word in wordfreq.top_n_list(language, size, wordlist="best")
            if word.replace("-", "").replace("'", "").isalpha()
        ]
        header = (
            f"# The {len(words)} most frequent word forms of '{language}' in wordfreq "
            f"{metadata.version('wordfreq')} "
            "(wordlist 'best'), letters only.\n"
            "# Data: CC BY-SA 4.0, see words.LICENSE.txt. Made by scripts/word_lists.py.\n"
        )
        (DATA / f"words.{language}.txt").write_text(header + "\n".join(words) + "\n", "utf-8")
        print(f"{language}: {len(words)} words", file=sys.stderr)


if __name__ == "__main__":
    main()
