"""The sandbox team templates run in: Jinja's immutable sandbox, bounded in time and size.

A team's template is code its team wrote: it may loop for ever or ask for gigabytes
(``'a' * 10**9``, ``'%999999999s' % x``, ``x | center(10**9)``, nested loops). One notice's
rendering therefore runs under a :class:`Budget` and stops with :class:`RenderLimit`, whose
message names the bound, when it goes over one of these (docs/templates.md, "Limits"):

- :data:`RENDER_STEPS` steps: every loop round (its filter included), call, attribute or item
  lookup, intercepted operator, filter, printed value, and every element a size check visits.
  Counting, not timing: the same template and ticket always stop at the same place.
- :data:`RENDER_DEADLINE` seconds of wall time (monotonic), checked at every step: the
  backstop for steps that are slow in themselves.
- :data:`OUTPUT_CAP` characters in one part (subject, text or HTML) of the notice, checked as
  the template streams its output (``generate()``), so a long output is never joined.
- :data:`MADE_CAP` characters or items made in one notice: every string or list an operator,
  filter, call, slice, ``~`` or ``{{ }}`` makes, and the template's own text each time it is
  output, blocks, macros and ``{% set %}`` blocks included. This bounds the memory a render can
  hold whatever it keeps in variables.
- :data:`VALUE_CAP` characters or items in any one value: repetitions (``*``), joins (``+``,
  ``~``, ``join``, ``replace``, ``indent``, ``wordwrap``, ``%`` and ``format``) are estimated
  before they run and refused when the result would be longer; a list printed or turned into
  text is measured first (a few nested list literals can otherwise print as gigabytes).
- :data:`WIDTH_CAP` for every width, precision, indent, batch or slice count, in ``%``
  formatting, ``str.format``, filters and string methods (``center``, ``ljust``, ``zfill``...).
- :data:`NUMBER_BITS_CAP` bits for integers made by ``*`` and ``**``.
- ``range()`` at :data:`jinja2.sandbox.MAX_RANGE` numbers, as Jinja's sandbox does, with the
  same message style; ``lipsum()`` at 100 paragraphs of 1000 words.

How a loop that prints nothing is bounded without tracing: the code generator adds one step to
the body of every ``{% for %}`` (and to its ``if`` filter) through an internal filter, so nested
loops over a range stop after :data:`RENDER_STEPS` rounds, and the template's own text is
counted each time an output statement runs. Nothing here needs a thread, a signal or
``sys.settrace``: the checks run inside the template's own code, between its operations.
A single operation is never longer than the caps allow, because the size-making ones are
checked before they run.
"""

from __future__ import annotations

import functools
import itertools
import re
import time
from collections.abc import Callable, Iterator, KeysView, Mapping, ValuesView
from collections.abc import ItemsView as _ItemsView
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from datetime import time as time_of_day
from pathlib import Path
from string import Formatter
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.sandbox import (
    MAX_RANGE,
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import Namespace, generate_lorem_ipsum
from markupsafe import Markup

RENDER_STEPS = 250_000
RENDER_DEADLINE = 2.0  # seconds
OUTPUT_CAP = 200_000  # characters in one part of a notice
MADE_CAP = 1_000_000  # characters or items made while rendering one notice
VALUE_CAP = 200_000  # characters or items in one value
WIDTH_CAP = 1_000
NUMBER_BITS_CAP = 4_096
TEMPLATE_FILE_CAP = 1024 * 1024  # bytes in one template file (includes too)
LIPSUM_PARAGRAPHS, LIPSUM_WORDS = 100, 1000

_STEP_FILTER = "notifier_step"  # internal: one step per loop round (see _BoundedCodeGenerator)


class RenderLimit(SecurityError):
    """A template went over a render limit; the message names the bound."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # "steps", "deadline", "output", "made", "value", "width", ...


class Budget:
    """What one notice's rendering may still spend."""

    __slots__ = ("clock", "deadline", "made", "steps")

    def __init__(self, clock: Callable[[], float], deadline: float = RENDER_DEADLINE) -> None:
        self.clock = clock
        self.deadline = clock() + deadline
        self.steps = RENDER_STEPS
        self.made = MADE_CAP

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise RenderLimit(
                f"more than {RENDER_STEPS} steps (loop rounds, calls, lookups)", kind="steps"
            )
        if self.clock() > self.deadline:
            raise RenderLimit(f"took longer than {RENDER_DEADLINE:g} s", kind="deadline")

    def make(self, count: int) -> None:
        self.made -= count
        if self.made < 0:
            raise RenderLimit(
                f"makes over {MADE_CAP} characters or items in one notice", kind="made"
            )


_BUDGET: ContextVar[Budget | None] = ContextVar("notifier_render_budget", default=None)


@contextmanager
def budget(clock: Callable[[], float] = time.monotonic) -> Iterator[Budget]:
    """Run one notice's rendering under a fresh budget (per thread: a ContextVar)."""
    current = Budget(clock)
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def _step(count: int = 1) -> None:
    current = _BUDGET.get()
    if current is not None:  # None while Jinja folds constants at compile time
        current.step(count)


def _made(value: Any) -> Any:
    """Count a value an operation made against the budget; refuse one over VALUE_CAP."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        _value_size(len(value))
        current = _BUDGET.get()
        if current is not None:
            current.make(len(value))
    return value


def _value_size(size: int) -> None:
    if size > VALUE_CAP:
        raise RenderLimit(f"a value of over {VALUE_CAP} characters or items", kind="value")


def _width(value: Any, what: str = "width") -> None:
    if isinstance(value, int) and abs(value) > WIDTH_CAP:
        raise RenderLimit(f"a {what} of {value}, over the width limit of {WIDTH_CAP}", kind="width")


def _bits(value: int) -> None:
    if value > NUMBER_BITS_CAP:
        raise RenderLimit(f"a number of over {NUMBER_BITS_CAP} bits", kind="number")


def text_size(value: Any, limit: int = VALUE_CAP) -> int:
    """An upper estimate of the length of ``str(value)``, counted up to just over ``limit``.

    Lists, tuples, sets, dicts, their views and namespaces are walked (shared elements count
    each time they would be printed); every element visited is a render step.
    """
    total = visited = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        visited += 1
        if isinstance(item, str | bytes):
            total += len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            for key, val in itertools.islice(item.items(), limit):
                pending += (key, val)
        elif isinstance(item, Namespace):
            pending.append(getattr(item, "_Namespace__attrs", {}))
            total += 12
        elif isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView | _ItemsView):
            total += 2 + 2 * len(item)
            pending.extend(itertools.islice(item, limit))
        else:
            total += 32  # dates, numbers, ranges, loop objects, generators: short texts
    _step(visited)
    return total


def _text_value(value: Any) -> None:
    """A value about to be turned into text: refuse it when the text would be over the cap."""
    if not isinstance(value, str | int | float):
        _value_size(text_size(value))


def _long_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would be over a cap, before they run."""
    if operator == "*":
        if _long_number(left) and _long_number(right):
            _bits(left.bit_length() + right.bit_length())
            return
        for count, sequence in ((right, left), (left, right)):
            if _long_number(count) and count > 0 and not _long_number(sequence):
                size = _size_of(sequence)
                if size * count > VALUE_CAP:
                    raise RenderLimit(
                        f"a repetition of {size * count} characters or items (at most {VALUE_CAP})",
                        kind="repetition",
                    )
    elif operator == "**":
        if _long_number(left) and _long_number(right) and right > 0 and abs(left) > 1:
            _bits(right * left.bit_length())
    elif operator == "+":
        if _long_number(left) and _long_number(right):
            _bits(max(left.bit_length(), right.bit_length()) + 1)
        elif not isinstance(left, int | float) and not isinstance(right, int | float):
            _value_size(_size_of(left) + _size_of(right))
    elif operator == "%" and isinstance(left, str):
        check_percent(left, right)
    elif operator == "%" and isinstance(left, bytes):
        check_percent(left.decode("latin-1"), right)


def _size_of(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else text_size(value)


_PERCENT = re.compile(
    r"%(?:\((?P<key>[^()]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
    r"[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)


def check_percent(template: str, values: Any) -> None:
    """``template % values``: every width and precision within WIDTH_CAP, and the result
    (estimated from the widths and the values' sizes) within VALUE_CAP."""
    positional = list(values) if isinstance(values, tuple) else [values]
    size = len(template)
    start = template.find("%")
    while start >= 0:
        spec = _PERCENT.match(template, start)
        if spec is None:  # Python may read it differently: do not guess
            raise RenderLimit("a % format notifier cannot check", kind="width")
        start = template.find("%", spec.end())
        if spec["type"] == "%":
            continue
        longest = 0
        for part in ("width", "precision"):
            if spec[part] == "*":
                given = positional.pop(0) if positional else 0
                _width(given, part)
                longest = max(longest, given if isinstance(given, int) else 0)
            elif spec[part]:
                _width(int(spec[part]), part)
                longest = max(longest, int(spec[part]))
        if spec["key"] is not None:
            value = values.get(spec["key"]) if isinstance(values, Mapping) else None
        else:
            value = positional.pop(0) if positional else None
        size += max(longest, text_size(value)) + 32
    _value_size(size)


# The format mini-language (str.format, format_map): fill, align, sign, z, #, 0, width,
# grouping, precision, type.
_FORMAT_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?", re.S
)


class _BoundedFormatting(Formatter):
    """str.format and format_map: widths within WIDTH_CAP, the result within VALUE_CAP."""

    _size = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion:
            _text_value(value)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        _step()
        _text_value(value)
        if len(format_spec) > WIDTH_CAP:
            raise RenderLimit(
                f"a format of {len(format_spec)} characters (at most {WIDTH_CAP})", kind="width"
            )
        if not isinstance(value, date | datetime | time_of_day):  # their spec is strftime's
            spec = _FORMAT_SPEC.fullmatch(format_spec)
            if spec is None:
                raise RenderLimit(f"a format {format_spec!r} notifier cannot check", kind="width")
            for part in ("width", "precision"):
                if spec[part]:
                    _width(int(spec[part]), part)
        result = super().format_field(value, format_spec)
        self._size += len(result)
        _value_size(self._size)
        return _made(result)


class _Formatter(_BoundedFormatting, SandboxedFormatter):
    pass


class _EscapeFormatter(_BoundedFormatting, SandboxedEscapeFormatter):
    pass


# Filters that never turn their value into text (the rest measure a list before they do).
_STRUCTURAL_FILTERS = frozenset(
    (
        "abs", "attr", "batch", "count", "d", "default", "dictsort", "filesizeformat", "first",
        "float", "groupby", "int", "items", "last", "length", "list", "map", "max", "min",
        "random", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice",
        "sort", "unique",
    )
)  # fmt: skip


class _Call:
    """The arguments Jinja passes a filter: ``[pass-arg,] value, *params``."""

    def __init__(self, offset: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.offset = offset
        self.args = list(args)
        self.kwargs = kwargs

    @property
    def value(self) -> Any:
        return self.args[self.offset]

    @value.setter
    def value(self, new: Any) -> None:
        self.args[self.offset] = new

    def param(self, position: int, name: str, default: Any) -> Any:
        index = self.offset + 1 + position
        if index < len(self.args):
            return self.args[index]
        return self.kwargs.get(name, default)


def _listed(call: _Call) -> list[Any]:
    """The filter's value as a list (a generator is read once, at most VALUE_CAP items)."""
    value = call.value
    if isinstance(value, str | list | tuple):
        return list(value)
    items = list(itertools.islice(iter(value), VALUE_CAP + 1))
    _value_size(len(items))
    call.value = items
    return items


def _joined_size(items: list[Any], separator: str) -> int:
    return sum(text_size(item) for item in items) + len(separator) * max(len(items) - 1, 0)


def _check_indent(call: _Call) -> None:
    width = call.param(0, "width", 4)
    _width(width)
    text = str(call.value)
    unit = len(width) if isinstance(width, str) else max(int(width), 0)
    _value_size(len(text) + (text.count("\n") + 1) * unit)


def _check_replace(call: _Call) -> None:
    text, old, new = str(call.value), call.param(0, "old", ""), call.param(1, "new", "")
    count = call.param(2, "count", None)
    _value_size(_replaced_size(text, str(old), str(new), count))


def _replaced_size(text: str, old: str, new: str, count: Any) -> int:
    times = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(len(new) - len(old), 0)


def _check_wordwrap(call: _Call) -> None:
    text = str(call.value)
    width = call.param(0, "width", 79)
    wrapstring = call.param(2, "wrapstring", None) or "\n"
    lines = text.count(" ") + text.count("\n") + len(text) // max(int(width), 1) + 1
    _value_size(len(text) + lines * len(str(wrapstring)))


def _check_join(call: _Call) -> None:
    _value_size(_joined_size(_listed(call), str(call.param(0, "d", ""))))


def _check_format(call: _Call) -> None:
    params = tuple(call.args[call.offset + 1 :])
    check_percent(str(call.value), call.kwargs or params)


_FILTER_CHECKS: dict[str, Callable[[_Call], None]] = {
    "center": lambda call: _width(call.param(0, "width", 80)),
    "indent": _check_indent,
    "batch": lambda call: _width(call.param(0, "linecount", 1), "batch size"),
    "slice": lambda call: _width(call.param(0, "slices", 1), "slice count"),
    "tojson": lambda call: _width(call.param(0, "indent", None), "indent"),
    "round": lambda call: _width(call.param(0, "precision", 0), "precision"),
    "format": _check_format,
    "join": _check_join,
    "replace": _check_replace,
    "wordwrap": _check_wordwrap,
}


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    check = _FILTER_CHECKS.get(name)
    textual = name not in _STRUCTURAL_FILTERS
    offset = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)  # keeps jinja_pass_arg: Jinja passes the same arguments
    def bounded(*args: Any, **kwargs: Any) -> Any:
        call = _Call(offset, args, kwargs)
        value = call.value
        _step(1 + (len(value) if isinstance(value, list | tuple | dict | set) else 0))
        if textual:
            _text_value(value)
        if check is not None:
            check(call)
        return _made(function(*call.args, **call.kwargs))

    return bounded


@jinja2.pass_context
def _step_filter(context: Context, value: Any) -> bool:
    """One loop round (pass_context: never folded away at compile time)."""
    _step()
    return True


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        count = len(numbers)
    except OverflowError:
        count = MAX_RANGE + 1
    if count > MAX_RANGE:
        raise RenderLimit(f"a range() of over {MAX_RANGE} numbers", kind="range")
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > LIPSUM_PARAGRAPHS or max > LIPSUM_WORDS:
        raise RenderLimit(
            f"lipsum() of over {LIPSUM_PARAGRAPHS} paragraphs or {LIPSUM_WORDS} words",
            kind="lipsum",
        )
    return str(generate_lorem_ipsum(n, html, min, max))


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """String methods that make text from a count or another text; the arguments to call
    them with (an iterator to join is read into a list first)."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str | bytes):
        return args
    name = getattr(method, "__name__", "")
    first = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("center", "ljust", "rjust", "zfill"):
        _width(first)
    elif name == "expandtabs":
        size = first if first is not None else 8
        _width(size, "tab size")
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        _value_size(len(owner) + tabs * size)
    elif name == "replace" and isinstance(owner, str) and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _value_size(_replaced_size(owner, str(args[0]), str(args[1]), count))
    elif name == "join" and args:
        items = args[0]
        if not isinstance(items, list | tuple):
            items = list(itertools.islice(iter(items), VALUE_CAP + 1))
            _value_size(len(items))
            args = (items, *args[1:])
        _value_size(_joined_size(list(items), str(owner)))
    elif name == "translate":
        table = args[0] if args else {}
        longest = max((text_size(v) for v in dict(table).values()), default=1)
        _value_size(len(owner) * max(longest, 1))
    return args


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with the steps a pure-Python check needs inside loops."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in list(node.find_all(nodes.For)):
            step = nodes.Filter(nodes.Const(None), _STEP_FILTER, [], [], None, None)
            step.set_lineno(loop.lineno)
            loop.body.insert(0, nodes.ExprStmt(step, lineno=loop.lineno))
            if loop.test is not None:  # rounds the loop's own filter skips count too
                test_step = nodes.Filter(nodes.Const(None), _STEP_FILTER, [], [], None, None)
                test_step.set_lineno(loop.lineno)
                loop.test = nodes.And(test_step, loop.test, lineno=loop.lineno)
        node.set_environment(self.environment)
        super().visit_Template(node, frame)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        # The template's own text counts each time it is output (a buffer in a block or a
        # macro is joined at once, so it must be bounded while it fills).
        text = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        if text:
            self.writeline(f"environment.count_text({text})")
        super().visit_Output(node, frame)

    @optimizeconst
    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        # Jinja writes ``x[a:b]`` as Python slicing, past the environment: a slice copies,
        # so it goes through the environment like any other item lookup.
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", slice(")
        for index, part in enumerate((node.arg.start, node.arg.stop, node.arg.step)):
            self.write(", " if index else "")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write("))")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # As Jinja's own, through a check of the operands first (``a ~ b`` prints a list).
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.bounded_concat({join}, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox (templates cannot change lists or dicts in place) with the
    bounds above. ``finalize`` and extra ``filters`` are bounded like Jinja's own."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(
        self,
        *,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        finalize: Callable[[Any], Any] | None = None,
        **options: Any,
    ) -> None:
        shown = finalize or str

        def bounded_finalize(value: Any) -> Any:
            _step()
            _text_value(value)
            return _made(shown(value))

        super().__init__(finalize=bounded_finalize, **options)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        every = {**self.filters, **(filters or {})}
        self.filters = {name: _bounded_filter(name, f) for name, f in every.items()}
        self.filters[_STEP_FILTER] = _step_filter

    def count_text(self, length: int) -> None:
        current = _BUDGET.get()
        if current is not None:
            current.make(length)

    def bounded_concat(self, join: Callable[[Any], str], values: tuple[Any, ...]) -> str:
        _step()
        size = 0
        for value in values:
            size += len(value) if isinstance(value, str) else text_size(value)
        _value_size(size)
        return str(_made(join(values)))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        check_binop(operator, left, right)
        return _made(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _step()
        value = super().getitem(obj, argument)
        return _made(value) if isinstance(argument, slice) else value

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        args = _check_method(__obj, args, kwargs)
        return _made(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        owner = value.__self__
        formatter: _BoundedFormatting
        if isinstance(owner, Markup):
            formatter = _EscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _Formatter(self)
        kind, is_map = type(owner), value.__name__ == "format_map"

        @functools.wraps(value)
        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs = args[0]
                args = ()
            formatter._size = 0
            return str(kind(formatter.vformat(owner, args, kwargs)))

        return bounded


def render_part(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render one part, streamed: stop as soon as its output is over OUTPUT_CAP."""
    chunks: list[str] = []
    size = 0
    stream = template.generate(context)
    try:  # a generator: closed at once when the cap stops it
        for chunk in stream:
            size += len(chunk)
            if size > OUTPUT_CAP:
                raise RenderLimit(
                    f"the rendered text is over {OUTPUT_CAP} characters", kind="output"
                )
            chunks.append(chunk)
    finally:
        stream.close()  # type: ignore[attr-defined]
    return "".join(chunks)


class BoundedLoader(jinja2.FileSystemLoader):
    """A file loader that refuses a template file over TEMPLATE_FILE_CAP (``include`` too)."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # where Jinja's own get_source looks
        for directory in self.searchpath:
            path = Path(directory).joinpath(*pieces)
            if path.is_file():
                if path.stat().st_size > TEMPLATE_FILE_CAP:
                    raise RenderLimit(
                        f"{template}: the file is over {TEMPLATE_FILE_CAP} bytes", kind="file"
                    )
                break
        return super().get_source(environment, template)
