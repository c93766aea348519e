"""Cost of the plain-language gate per typical 100-word notice, beside the cost of rendering it.

Run: ``.venv/bin/python bench/plain_gate.py [--rounds N]``. Both sides are measured in the same
run on the same messages: ``Gate.analyze()`` on each rendered message, and a Jinja template of
about the same size rendered in a SandboxedEnvironment with StrictUndefined, compiled once (the
way ``notifier.core.render`` does it). Every call gets a message never seen before (its own ticket
number, requester and note sentences), so the gate's caches help only with the template's fixed
sentences, as in production; a repeated text would only time a cache hit. Prints per-message costs, the ratio gate/render and PASS/MISS
against the goal of under 1 ms per message, and writes ``bench/results/plain_gate.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import _support as bench  # puts the checkout on sys.path
import jinja2
from jinja2.sandbox import SandboxedEnvironment

from notifier.plain import Gate

GOAL_MS = 1.0

TEMPLATE = """Hello {{ requester }},

{{ opening }} {{ note }}

If anything is still not right, reply to this email and we will pick it up again. You do not
need to open a new request. Your request number is {{ ticket_id }}, in case you call us.

Thank you for your patience,
{{ team }}
"""

# Technicians' notes: two plain, two jargon-heavy; each message comes to about 100 words. Every
# sentence carries the message's number ({n}), and every message has its own ticket number and
# requester, so no two messages share a note sentence: the gate's caches only help with the
# template's own fixed sentences, as they do in production.
NOTES = {
    "plain-printer": (
        "Your printer on floor {n} works again. The paper tray was stuck, so we fitted tray "
        "number {n} and printed a test page. You can print from laptop {n} now, in colour or "
        "black and white."
    ),
    "plain-laptop": (
        "We replaced the battery in laptop {n} and updated it. It now lasts a full day, {n} "
        "minutes more than before. Please keep it plugged in on Tuesday night so that update "
        "{n} can finish by itself."
    ),
    "jargon-network": (
        "Flushed the DNS cache, re-provisioned your VPN profile {n} and renewed the DHCP lease "
        "on LAPTOP-7GH2K (10.20.4.{n}). See KB00{n}; ran ipconfig /flushdns and gpupdate /force."
    ),
    "jargon-mail": (
        "Mailbox quota exceeded on SRV{n}, error 0x80070005 in Outlook. Rebuilt the OST file "
        "under C:\\Users\\user{n}\\AppData, fixed the MX record and escalated ticket {n} to "
        "second-line."
    ),
}
NAMES = ("Sam", "Ana", "Priya", "Tom", "Lena", "Omar", "Jo", "Mia", "Luis", "Kim")


def per_call_us(call: Callable[[int], object], rounds: int, repeats: int = 7) -> dict[str, float]:
    """Microseconds per call: the best and the median of `repeats` batches of `rounds` calls,
    each call on a message number never used before (``call(n)``)."""
    numbers = iter(range(1, 10**9))
    for _ in range(max(10, rounds // 20)):
        call(next(numbers))  # warm the caches a running daemon has: syllables, template text
    batches = []
    for _ in range(repeats):
        chosen = [next(numbers) for _ in range(rounds)]
        start = time.perf_counter()
        for n in chosen:
            call(n)
        batches.append((time.perf_counter() - start) / rounds * 1e6)
    return {"best_us": min(batches), "median_us": statistics.median(batches)}


def message(template: jinja2.Template, note: str, n: int) -> tuple[str, list[tuple[int, int]]]:
    """Message number ``n`` with this note, and the protected span of its ticket number."""
    ticket_id = f"INC{n:07d}"
    text = template.render(**context(note, n))
    start = text.index(ticket_id)
    return text, [(start, start + len(ticket_id))]


def context(note: str, n: int) -> dict[str, str]:
    return {
        "requester": NAMES[n % len(NAMES)],
        "opening": "Good news: the thing you asked us to fix is done.",
        "note": note.format(n=n),
        "ticket_id": f"INC{n:07d}",
        "team": "The IT service desk",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="calls per timed batch")
    args = parser.parse_args()

    build_start = time.perf_counter()
    gate = Gate()
    build_ms = (time.perf_counter() - build_start) * 1e3
    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    template = environment.from_string(TEMPLATE)

    results = []
    print(f"gate built in {build_ms:.1f} ms (once per process)")
    print(f"{'message':<16} {'words':>5} {'render us':>10} {'gate us':>9} {'ratio':>6} findings")
    for name, note in NOTES.items():
        # Contexts built and messages rendered beforehand: each timing holds only its side.
        numbers = range(1, 10 * args.rounds)
        contexts = {n: context(note, n) for n in numbers}
        texts = {n: message(template, note, n) for n in numbers}
        render = per_call_us(lambda n, c=contexts: template.render(**c[n]), args.rounds)  # type: ignore[misc]
        analyze = per_call_us(
            lambda n, t=texts: gate.analyze(t[n][0], protected=t[n][1]),  # type: ignore[misc]
            args.rounds,
        )
        text, protected = message(template, note, 0)
        analysis = gate.analyze(text, protected=protected)
        ratio = analyze["median_us"] / render["median_us"]
        results.append(
            {
                "message": name,
                "words": analysis.scores.words,
                "render": render,
                "analyze": analyze,
                "ratio_gate_to_render": ratio,
                "findings": len(analysis.findings),
                "blocked": analysis.blocked,
            }
        )
        print(
            f"{name:<16} {analysis.scores.words:>5} {render['median_us']:>10.1f} "
            f"{analyze['median_us']:>9.1f} {ratio:>6.1f} {len(analysis.findings)}"
            f"{' (blocked)' if analysis.blocked else ''}"
        )
    worst_ms = max(r["analyze"]["median_us"] for r in results) / 1e3  # type: ignore[index]
    verdict = "PASS" if worst_ms < GOAL_MS else "MISS"
    print(f"{verdict}: worst median gate cost {worst_ms:.3f} ms per message (goal < {GOAL_MS} ms)")
    data = {
        "benchmark": "plain_gate",
        "date": bench.now_utc(),
        "machine": bench.machine(),
        "code": bench.code_version(),
        "rounds": args.rounds,
        "gate_build_ms": build_ms,
        "goal_ms": GOAL_MS,
        "worst_median_ms": worst_ms,
        "verdict": verdict,
        "messages": results,
    }
    out = bench.write_result("plain_gate.json", data)
    print(f"wrote {out.relative_to(bench.ROOT)}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
