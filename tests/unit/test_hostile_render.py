"""Hostile ticket data through composing and message building (property-based)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.core.compose import TeamProfile, compose
from notifier.core.errors import PermanentDeliveryError, TemplateError
from notifier.core.model import Resolution
from notifier.core.render import Renderer
from notifier.delivery.message import build_message

ROOT = Path(__file__).resolve().parents[2]
RENDERER = Renderer.load(ROOT / "templates")
TEAM = TeamProfile("default", "IT Help Desk", "help@example.org", "rewrite")
NASTY = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200
) | st.sampled_from(
    [
        "=?utf-8?q?x=0D=0ABcc:_evil@example.com?=",
        "Hi\r\nBcc: evil@example.com",
        "{{ ''.__class__.__mro__ }}",
        "{% for x in range(10**9) %}x{% endfor %}",
        "\ue000INC0012345\ue001",  # a forged 'allowed' mark
        "\x00\x1b[31m",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=NASTY, note=NASTY, name=NASTY)
def test_hostile_ticket_data_never_escapes_or_adds_a_header(
    title: str, note: str, name: str
) -> None:
    """Whatever a ticket says, composing never runs it as a template, never raises anything but
    a clean refusal, and the built message has exactly the headers notifier sets."""
    resolution = Resolution(
        source="s", ticket_id="T-1", requester_email="ann@example.org", requester_name=name,
        title=title, resolution_note=note, resolved_at=datetime(2026, 11, 27, tzinfo=UTC),
    )  # fmt: skip
    composed = compose(resolution, TEAM, RENDERER, domain="example.org")
    assert "__mro__" not in composed.notice.subject or "__mro__" in title
    assert "\ue000" not in composed.notice.text and "\ue001" not in composed.notice.text
    try:
        message = build_message(
            composed.notice,
            from_address="it@example.org",
            from_name="IT",
            now=datetime(2026, 11, 27, tzinfo=UTC),
        )
    except PermanentDeliveryError:
        return  # a name that cannot be a display name is refused with a clear reason
    names = [name.lower() for name in message.keys()]  # noqa: SIM118 - every header, repeats too
    assert "bcc" not in names and names.count("to") == 1 and names.count("subject") == 1
    raw = message.as_bytes()
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block
    # The forged mark did not make the ticket code 'allowed': the gate still saw it.
    if "INC0012345" in note and "\ue000" in note:
        assert (
            any(f.text == "INC0012345" for f in composed.review.findings)
            or composed.review.rewritten
        )


# Hostile templates (issue 14, defect 8): one team's template must never stall or sink the
# others. Each case is one team's text template; the bound it trips is named in the reason.
BIG = "{% set s = 'x' * 100000 %}"
HOSTILE_TEMPLATES = {
    "nested loops printing": (
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "characters",
    ),
    "nested loops with only set": (
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% set k = j %}"
        "{% endfor %}{% endfor %}",
        "steps",
    ),
    "string repetition": ("{{ 'a' * 10**9 }}", "repetition"),
    "list repetition": ("{{ ([1] * 10**8) | length }}", "repetition"),
    "percent width": ("{{ '%999999999s' % 'x' }}", "width"),
    "percent precision": ("{{ '%.999999999f' % 1.5 }}", "width"),
    "percent star width": ("{{ '%*s' % (999999999, 'x') }}", "width"),
    "percent mapping width": ("{{ '%(a)999999999s' % {'a': 1} }}", "width"),
    "format width": ("{{ '{:999999999}'.format('x') }}", "width"),
    "format nested width": ("{{ '{:{w}}'.format('x', w=999999999) }}", "width"),
    "format_map width": ("{{ '{a:>999999999}'.format_map({'a': 'x'}) }}", "width"),
    "format filter width": ("{{ '%999999999s' | format('x') }}", "width"),
    "center filter": ("{{ 'x' | center(10**9) }}", "width"),
    "center filter literal": ("{{ 'x' | center(999999999) }}", "width"),
    "indent filter": ("{{ 'x\ny' | indent(999999999, true) }}", "width"),
    "indent filter with a long string": (BIG + "{{ ('a\n' * 50000) | indent(s) }}", "characters"),
    "ljust method": ("{{ 'x'.ljust(999999999) }}", "width"),
    "zfill method": ("{{ '1'.zfill(999999999) }}", "width"),
    "expandtabs method": ("{{ '\t'.expandtabs(999999999) }}", "width"),
    "batch filter": ("{{ [1] | batch(999999999, 0) | list }}", "width"),
    "slice filter": ("{{ [1] | slice(999999999) | list }}", "width"),
    "tojson indent": ("{{ [[1]] | tojson(indent=999999999) }}", "width"),
    "range list": ("{{ range(10**9) | list }}", "range"),
    "huge power": ("{{ 7 ** 1000000000 }}", "number"),
    "squaring in a loop": (
        "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}{{ ns.n % 7 }}",
        "number",
    ),
    "doubling with ~": (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
        "characters",
    ),
    "doubling with +": (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
        "characters",
    ),
    "nested list literals printed": (
        BIG + "{% set a = [s, s, s, s, s, s, s, s, s, s] %}{% set b = [a, a, a, a, a, a, a, a] %}"
        "{% set c = [b, b, b, b, b, b, b, b] %}{% set d = [c, c, c, c, c, c, c, c] %}{{ d }}",
        "characters",
    ),
    "nested list literals joined": (
        BIG + "{% set a = [s, s, s, s, s, s, s, s, s, s] %}{% set b = [a, a, a, a, a, a, a, a] %}"
        "{% set c = [b, b, b, b, b, b, b, b] %}{{ c | join(',') }}",
        "characters",
    ),
    "replace amplification": (BIG + "{{ s | replace('', s) | length }}", "characters"),
    "replace method amplification": (BIG + "{{ s.replace('x', s) | length }}", "characters"),
    "join amplification": (BIG + "{{ s | join(s) | length }}", "characters"),
    "wordwrap amplification": (
        BIG + "{{ ('a ' * 50000) | wordwrap(1, wrapstring=s) | length }}",
        "characters",
    ),
    "macro doubling": (
        "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% else %}"
        + "x" * 100
        + "{% endif %}"
        "{% endmacro %}{{ m(40) | length }}",
        "characters",
    ),
    "block buffer of literal text": (
        "{% set big %}{% for i in range(100000) %}{% for j in range(100) %}"
        + "y" * 1000
        + "{% endfor %}{% endfor %}{% endset %}{{ big | length }}",
        "characters",
    ),
    "copies by slicing kept in a list": (
        BIG + "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
        "{% set ns.l = [s[1:], ns.l] %}{% endfor %}",
        "characters",
    ),
    "output over the cap": (BIG + "{% for i in range(100000) %}{{ s }}{% endfor %}", "characters"),
    "lipsum": ("{{ lipsum(999999999) }}", "lipsum"),
}


def _hostile_renderer(tmp_path: Path, source: str) -> Renderer:
    files = {
        "default/resolved.subject.j2": "Done: {{ ticket.title }}",
        "default/resolved.txt.j2": "Hello {{ requester.name }}\n",
        "network/resolved.txt.j2": "Network fixed {{ ticket.title }} for {{ requester.name }}\n",
        "hostile/resolved.txt.j2": source,
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Renderer.load(tmp_path)


HOSTILE_TICKET = Resolution(
    source="s", ticket_id="T-1", requester_email="ann@example.org", requester_name="Ann",
    title="Printer", resolution_note="Fixed", resolved_at=datetime(2026, 11, 27, tzinfo=UTC),
)  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE_TEMPLATES))
def test_a_hostile_template_is_refused_naming_the_bound_and_other_teams_render(
    case: str, tmp_path: Path
) -> None:
    """Each hostile template stops at a bound with a reason naming its file and the bound,
    without a big allocation, and the other teams' templates render as before (also after)."""
    source, bound = HOSTILE_TEMPLATES[case]
    renderer = _hostile_renderer(tmp_path, source)
    normal = compose(HOSTILE_TICKET, TeamProfile("network", "Network"), renderer, domain="x.org")
    assert "Network fixed Printer for Ann" in normal.notice.text
    with pytest.raises(TemplateError) as refused:
        compose(HOSTILE_TICKET, TeamProfile("hostile", "Hostile"), renderer, domain="x.org")
    reason = str(refused.value)
    assert reason.startswith("hostile/resolved.txt.j2"), reason
    assert "render limit" in reason and bound in reason, reason
    again = compose(HOSTILE_TICKET, TeamProfile("network", "Network"), renderer, domain="x.org")
    assert again.notice.text == normal.notice.text


class CountingClock:
    """A monotonic clock that moves on by ``tick`` seconds each time it is read."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick, self.reads = 0.0, tick, 0

    def __call__(self) -> float:
        self.now += self.tick
        self.reads += 1
        return self.now


def test_a_render_past_its_deadline_stops_naming_the_deadline(tmp_path: Path) -> None:
    """The wall-clock deadline is checked at every step: a render whose steps are slow stops
    once the clock passes RENDER_DEADLINE (a clock that moves 10 ms a read: 200 reads)."""
    _hostile_renderer(tmp_path, "{% for i in range(100000) %}{{ i }}{% endfor %}")
    clock = CountingClock(0.01)
    renderer = Renderer.load(tmp_path, clock=clock)
    with pytest.raises(TemplateError, match=r"^hostile/resolved\.txt\.j2:1: render limit: took "
                       r"longer than 2 s$"):  # fmt: skip
        compose(HOSTILE_TICKET, TeamProfile("hostile", "Hostile"), renderer, domain="x.org")
    assert 150 < clock.reads < 300
    # The deadline is per notice: the next one (another team) has its own.
    normal = compose(HOSTILE_TICKET, TeamProfile("network", "Network"), renderer, domain="x.org")
    assert "Network fixed" in normal.notice.text


def test_a_template_that_used_up_its_steps_is_not_run_again(tmp_path: Path) -> None:
    """One hostile template costs one step budget, not one per notice: the next notice of its
    team is held at once with the same reason, until templates are loaded again."""
    source, _ = HOSTILE_TEMPLATES["nested loops with only set"]
    _hostile_renderer(tmp_path, source)
    clock = CountingClock(0.0)
    renderer = Renderer.load(tmp_path, clock=clock)
    team = TeamProfile("hostile", "Hostile")
    with pytest.raises(TemplateError, match="more than 250000 steps") as first:
        compose(HOSTILE_TICKET, team, renderer, domain="x.org")
    assert clock.reads > 250_000  # it ran: one read a step
    reads = clock.reads
    with pytest.raises(TemplateError) as second:
        compose(HOSTILE_TICKET, team, renderer, domain="x.org")
    assert str(second.value).startswith(str(first.value))
    assert "not run again until the templates are loaded again" in str(second.value)
    assert clock.reads - reads < 100  # the subject only: the text template did not run
    fresh = Renderer.load(tmp_path, clock=clock)  # a reload runs it again
    with pytest.raises(TemplateError, match="more than 250000 steps"):
        compose(HOSTILE_TICKET, team, fresh, domain="x.org")


# What real templates do near the bounds keeps working, with the same words as before.
ORDINARY_TEMPLATES = {
    "{{ '-' * 40 }}": "-" * 40,
    "{{ '%5.2f|%-6s|%03d' % (3.14159, 'ab', 7) }}": " 3.14|ab    |007",
    "{{ '%(n)s done' % {'n': 2} }}": "2 done",
    "{{ '{:>8}|{:^7}|{:.3f}'.format('ab', 'c', 2.5) }}": "      ab|   c   |2.500",
    "{{ '{:%Y-%m-%d}'.format(ticket.resolved_at) }}": "2026-11-27",
    "{{ '{t.title}'.format(t=ticket) }}": "Printer",
    "{{ ticket.title | center(11) }}|": "  Printer  |",
    "{{ 'a\nb' | indent(4, true) }}": "    a\n    b",
    "{{ ['a', 'b', 'c'] | join(', ') }}": "a, b, c",
    "{{ (range(3) | list) + [9] }}": "[0, 1, 2, 9]",
    "{{ ticket.title ~ ' ' ~ ticket.id }}": "Printer T-1",
    "{{ ('word ' * 30) | wordwrap(20) | length }}": "149",
    "{{ ticket.title | replace('P', 'p') }}": "printer",
    "{{ [1, 2, 3, 4, 5] | batch(2) | list }}": "[[1, 2], [3, 4], [5]]",
    "{{ 2 ** 64 }} {{ 10 ** 30 * 10 ** 30 }}": f"{2**64} {10**60}",
    "{{ 'x'.ljust(3, '.') }}{{ '7'.zfill(3) }}": "x..007",
    "{% set ns = namespace(n=0) %}{% for i in range(1000) if i is even %}"
    "{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}": "249500",
    "{% macro hi(name) %}Hi {{ name }}{% endmacro %}{{ hi(requester.name) }}": "Hi Ann",
    "{{ {'b': 1, 'a': 2} | dictsort | list }}": "[('a', 2), ('b', 1)]",
    "{{ ticket.title[1:4] }}{{ 'x' * 0 }}{{ [1, 2, 3][::-1] }}{{ 'abc'[:-1] }}": "rin[3, 2, 1]ab",
}


@pytest.mark.parametrize("source", sorted(ORDINARY_TEMPLATES))
def test_ordinary_templates_render_as_before(source: str, tmp_path: Path) -> None:
    _hostile_renderer(tmp_path, "x")
    (tmp_path / "hostile" / "resolved.txt.j2").write_text(f"[{source}]", encoding="utf-8")
    renderer = Renderer.load(tmp_path)
    composed = compose(HOSTILE_TICKET, TeamProfile("hostile", "H"), renderer, domain="x.org")
    assert composed.notice.text == f"[{ORDINARY_TEMPLATES[source]}]\n"


def test_a_long_ordinary_notice_under_the_output_cap_renders(tmp_path: Path) -> None:
    """190,000 characters in one part is within OUTPUT_CAP (200,000)."""
    renderer = _hostile_renderer(
        tmp_path, "{% for i in range(1900) %}{{ 'abcdefghi ' * 10 }}{% endfor %}"
    )
    composed = compose(HOSTILE_TICKET, TeamProfile("hostile", "H"), renderer, domain="x.org")
    assert len(composed.notice.text) > 189_000


def test_templates_the_compiler_cannot_take_are_problems_not_a_crash(tmp_path: Path) -> None:
    """A file over 1 MiB, or nesting too deep for Jinja's compiler, is a problem of that file
    (check-config, held notices); loading the others goes on. An include of a file over the
    cap is refused when rendering."""
    renderer = _hostile_renderer(tmp_path, "{% include 'hostile/big.txt' %}")
    (tmp_path / "hostile" / "big.txt").write_text("x" * (1024 * 1024 + 1), encoding="utf-8")
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "resolved.txt.j2").write_text(
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", encoding="utf-8"
    )
    (tmp_path / "huge").mkdir()
    (tmp_path / "huge" / "resolved.txt.j2").write_text("y" * (1024 * 1024 + 1), "utf-8")
    renderer = Renderer.load(tmp_path)
    problems = renderer.problems()
    assert any(p.startswith("deep/resolved.txt.j2:") for p in problems), problems
    assert "huge/resolved.txt.j2: over 1048576 bytes" in problems, problems
    with pytest.raises(TemplateError, match=r"render limit: hostile/big\.txt: the file is over"):
        compose(HOSTILE_TICKET, TeamProfile("hostile", "H"), renderer, domain="x.org")
    for team in ("deep", "huge"):
        with pytest.raises(TemplateError, match=rf"^{team}/resolved\.txt\.j2"):
            compose(HOSTILE_TICKET, TeamProfile(team, "T"), renderer, domain="x.org")
    assert (
        "Network fixed"
        in compose(
            HOSTILE_TICKET, TeamProfile("network", "N"), renderer, domain="x.org"
        ).notice.text
    )
