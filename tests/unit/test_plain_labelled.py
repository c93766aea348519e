"""Precision and recall of the gate on the labelled sentences in tests/data/plain/labelled.tsv.

A sentence counts as *flagged* when ``analyze()`` returns at least one finding of a jargon kind
(every kind except the readability ones: long_sentence, unfamiliar_words, grade) with severity
"warn" or "block" (an "info" finding is a hint, not a flag). That is ``Analysis.jargon``.
"""

from __future__ import annotations

from pathlib import Path

from notifier.plain import Gate

LABELLED = Path(__file__).resolve().parents[1] / "data" / "plain" / "labelled.tsv"


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("label\t"):
            continue
        label, sentence = line.split("\t", 1)
        rows.append((label, sentence))
    return rows


def test_labelled_set_is_large_and_balanced() -> None:
    """At least 150 sentences, roughly half of each label, no duplicates."""
    rows = _rows()
    labels = [label for label, _ in rows]
    assert len(rows) >= 150
    assert set(labels) == {"plain", "jargon"}
    assert 0.4 <= labels.count("plain") / len(rows) <= 0.6
    assert len({sentence for _, sentence in rows}) == len(rows)


def test_precision_and_recall_for_contains_jargon() -> None:
    """Precision >= 0.95 and recall >= 0.90 for "contains jargon" on the labelled set."""
    gate = Gate()
    tp = fp = fn = tn = 0
    misses = []
    for label, sentence in _rows():
        flagged = bool(gate.analyze(sentence).jargon)
        if label == "jargon":
            tp, fn = (tp + 1, fn) if flagged else (tp, fn + 1)
        else:
            fp, tn = (fp + 1, tn) if flagged else (fp, tn + 1)
        if flagged != (label == "jargon"):
            misses.append(f"{label}: {sentence}")
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(
        f"\nlabelled set: tp={tp} fp={fp} fn={fn} tn={tn} "
        f"precision={precision:.3f} recall={recall:.3f}"
    )
    print("\n".join(misses))
    assert precision >= 0.95, misses
    assert recall >= 0.90, misses
