"""Bounds on one render of a personalization template: its steps, its time and what it builds.

Jinja2's sandbox keeps a template away from Python's internals, not from running away (see
ARCHITECTURE.md): `{{ 'x' * 10**9 }}`, `{{ 99999 ** 99999999 }}` or two nested `range(99999)`
loops each kept a process busy for a minute or more. Here every operation that can build a value
much larger than its inputs (repeating, powers, printf widths, padding, replacing, joining,
printing a structure) is sized before it runs; loop rounds, calls and filters are counted and
timed; and what a render writes is counted as it is written. A render beyond a limit stops with
RenderLimitExceeded, which names the template text it stopped at.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import Template, nodes
from jinja2.exceptions import TemplateRuntimeError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_RENDER_SECONDS = 1.0
MAX_RENDER_STEPS = 100_000  # loop rounds, calls and filters
MAX_RENDER_CHARACTERS = 1_000_000  # of any value a render builds, and of all it writes
MAX_NUMBER_DIGITS = 4_300  # Python's own limit on printing a whole number

_LOOP_ROUND = "loop round"  # the filter counting a loop's rounds: no template can name it
_JINJA_KEYWORDS = frozenset(("_loop_vars", "_block_vars"))  # Jinja2's own, in every call
# filters whose result is never much larger than their input: not worth sizing
_SMALL_RESULTS = frozenset(
    {
        *("abs", "capitalize", "count", "d", "default", "e", "escape", "filesizeformat"),
        *("first", "float", "forceescape", "int", "last", "length", "lower", "max", "min"),
        *("random", "round", "safe", "striptags", "title", "trim", "truncate", "upper"),
        "wordcount",
    }
)
# a printf conversion's width and precision, e.g. `%-20.3f` (either may be `*`: an argument)
_PRINTF_SIZES = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class RenderLimitExceeded(TemplateRuntimeError):
    """A render stopped at one of its limits; `near` is the template text it stopped at (an
    operator, a filter's or function's name), which finds its column on the line."""

    def __init__(self, message: str, near: str) -> None:
        super().__init__(message)
        self.near = near


class _Budget:
    """What one render may still do: counted steps before a deadline, and characters written."""

    __slots__ = ("deadline", "steps", "written")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.steps = 0
        self.written = 0

    def step(self, near: str) -> None:
        self.steps += 1
        if self.steps > MAX_RENDER_STEPS:
            raise RenderLimitExceeded(
                f"the template takes more than {MAX_RENDER_STEPS:,} steps (loop rounds, calls "
                "and filters) to render",
                near,
            )
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(
                f"the template takes more than {MAX_RENDER_SECONDS:g} s to render", near
            )


_budget: ContextVar[_Budget | None] = ContextVar("render_budget", default=None)


def render(template: Template, context: Mapping[str, Any]) -> str:
    """`template` rendered with `context` within the limits; RenderLimitExceeded when beyond.

    The template must come from a BoundedEnvironment, through count_loop_rounds."""
    token = _budget.set(_Budget())
    try:
        return template.render(context)
    finally:
        _budget.reset(token)


def count_loop_rounds(tree: nodes.Template) -> nodes.Template:
    """The parsed template with each `for` loop's rounds counted as steps of the render."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_ROUND, [], [], None, None, lineno=loop.lineno)
    return tree


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every render bounded (see the module's docstring)."""

    intercepted_binops = frozenset(("*", "**", "%", "+"))

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, finalize=_written)
        del self.globals["lipsum"]  # writes paragraphs by the thousand; of no use in a mailing
        self.filters = {
            name: function if name in _SMALL_RESULTS else _sized_filter(name, function)
            for name, function in self.filters.items()
        }
        self.filters[_LOOP_ROUND] = _counted_rounds

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if isinstance(left, int) and isinstance(right, int):
            if _digits(operator, left, right) > MAX_NUMBER_DIGITS:
                raise RenderLimitExceeded(
                    f"{operator!r} makes a number of more than {MAX_NUMBER_DIGITS:,} digits",
                    operator,
                )
        else:
            _check(_binop_size(operator, left, right), f"{operator!r} makes", operator)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # the sandbox's own names: a template's keyword arguments may be `self` ...
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        name = str(getattr(__obj, "__name__", None) or getattr(__obj, "name", "("))
        budget = _budget.get()
        if budget is not None:
            budget.step(name)
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, str | bytes):  # `'x'.center(10**9)`, `sep.join(items)` ...
            if name == "join" and args:
                args = _items_listed(args, 0)
            given = {key: value for key, value in kwargs.items() if key not in _JINJA_KEYWORDS}
            estimate = _TEXT_METHODS.get(name, _sum_of_sizes)
            _check(estimate(receiver, *args, **given), f".{name}() makes", name)
        result = super().call(__context, __obj, *args, **kwargs)
        _check(size_of(result), f".{name}() makes", name)
        return result

    def concat(self, parts: Iterable[str]) -> str:
        """Every render's output and every block's, joined once it is known to be in bounds."""
        pieces = []
        size = 0
        for piece in parts:
            size += len(piece)
            if size > MAX_RENDER_CHARACTERS:
                error = _too_large("the template writes", "{{")
                if isinstance(parts, Generator):  # raised where the template stands, for its line
                    parts.throw(error)
                raise error
            pieces.append(piece)
        return "".join(pieces)


def size_of(value: Any, limit: int = MAX_RENDER_CHARACTERS) -> int:
    """About how many characters `value` prints as (nested values included), counted no
    further than just past `limit`."""
    if isinstance(value, str | bytes):
        return len(value)
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() * 3 // 10 + 1
        elif isinstance(item, Namespace):
            pending.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, dict | list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                pending.extend(item.items() if isinstance(item, dict) else item)
        else:
            total += 5  # None, a float, a date, an undefined value ...
    return total


def _written(value: Any) -> Any:
    """Every `{{ ... }}` of a render, counted against the characters it may write."""
    budget = _budget.get()
    if budget is not None:
        budget.written += size_of(value)
        if budget.written > MAX_RENDER_CHARACTERS:
            raise _too_large("the template writes", "{{")
    return value


def _counted_rounds(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.step("for")
        yield item


def _sized_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (the filter `name`) counted as a step, its result sized before and after."""
    estimate = _FILTERS.get(name, _sum_of_sizes)
    passes_first = getattr(function, "jinja_pass_arg", None) is not None  # context, env ...

    @functools.wraps(function)
    def sized(*args: Any, **kwargs: Any) -> Any:
        budget = _budget.get()
        if budget is not None:
            budget.step(name)
        if name == "join":
            args = _items_listed(args, int(passes_first))
        _check(estimate(*args[passes_first:], **kwargs), f"|{name} makes", name)
        result = function(*args, **kwargs)
        _check(size_of(result), f"|{name} makes", name)
        return result

    return sized


def _items_listed(args: tuple[Any, ...], index: int) -> tuple[Any, ...]:
    """`args` with the items to join (at `index`) as a list: they are counted before they are
    joined, and an iterator can be read only once."""
    return (*args[:index], list(args[index]), *args[index + 1 :])


def _check(size: int, what: str, near: str) -> None:
    if size > MAX_RENDER_CHARACTERS:
        raise _too_large(what, near)


def _too_large(what: str, near: str) -> RenderLimitExceeded:
    return RenderLimitExceeded(
        f"{what} more than {MAX_RENDER_CHARACTERS:,} characters (the limit of a render)", near
    )


# -- estimates: how large a result would be, without making it ----------------------------------


def _digits(operator: str, left: int, right: int) -> int:
    """About how many digits `left operator right` has, for whole numbers."""
    if operator == "**" and right > 0 and abs(left) > 1:
        return right * left.bit_length() * 3 // 10
    if operator == "*":
        return (left.bit_length() + right.bit_length()) * 3 // 10
    return 0  # a sum or a remainder is no longer than its operands


def _binop_size(operator: str, left: Any, right: Any) -> int:
    """About how many characters `left operator right` has, for texts and lists (a float
    overflows at once rather than grow)."""
    if operator == "*":
        times, repeated = (left, right) if isinstance(left, int) else (right, left)
        if isinstance(times, int) and isinstance(repeated, str | bytes | list | tuple):
            return max(times, 0) * size_of(repeated)
    if operator == "%" and isinstance(left, str):
        return _printf_size(left, right)
    if operator == "+":
        return size_of(left) + size_of(right)
    return 0


def _printf_size(form: str, arguments: Any) -> int:
    """`form % arguments`: the form, the arguments, and every width and precision it asks."""
    values = arguments if isinstance(arguments, tuple) else (arguments,)
    size = len(form) + size_of(values)
    for match in _PRINTF_SIZES.finditer(form):
        for asked in match.groups():
            if asked == "*":  # the width is an argument: count the largest
                size += max((v for v in values if isinstance(v, int)), default=0)
            elif asked:
                size += int(asked) if len(asked) < 10 else MAX_RENDER_CHARACTERS + 1
    return size


def _sum_of_sizes(*args: Any, **kwargs: Any) -> int:
    """What a filter or method could make of its arguments: their sizes, and each whole number
    as a width (`center(80)`, `indent(4)`, `batch(3)`)."""
    size = 0
    for value in (*args, *kwargs.values()):
        size += size_of(value)
        if isinstance(value, int) and not isinstance(value, bool):
            size += max(value, 0)
    return size


# Each takes the arguments of the filter or method it sizes, under the same names.


def _join_size(d: Any, value: list[Any], *_: Any, **__: Any) -> int:
    return size_of(value) + len(d) * len(value)


def _join_filter_size(value: list[Any], d: Any = "", *_: Any, **__: Any) -> int:
    return _join_size(d, value)


def _replace_size(s: Any, old: Any, new: Any, count: Any = -1, *_: Any, **__: Any) -> int:
    s, old, new = str(s), str(old), str(new)
    found = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(s) + found * len(new)


def _indent_size(s: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = str(s)
    indent: int = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    return len(text) + (text.count("\n") + 1) * indent


def _batch_size(value: Any, linecount: Any, fill_with: Any = None, *_: Any, **__: Any) -> int:
    per_item = 2 + size_of(fill_with)
    return size_of(value) + (linecount * per_item if isinstance(linecount, int) else 0)


def _translate_size(text: str | bytes, table: Any = None, *_: Any, **__: Any) -> int:
    replaced = table.values() if isinstance(table, dict) else ()
    return len(text) * max((size_of(value) for value in replaced), default=1)


def _expandtabs_size(text: str | bytes, tabsize: Any = 8, *_: Any, **__: Any) -> int:
    tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
    return len(text) + tabs * (tabsize if isinstance(tabsize, int) else 8)


def _format_size(value: Any, *args: Any, **kwargs: Any) -> int:
    return _printf_size(str(value), kwargs or args)


_FILTERS: dict[str, Callable[..., int]] = {
    "batch": _batch_size,
    "format": _format_size,
    "indent": _indent_size,
    "join": _join_filter_size,
    "replace": _replace_size,
}
_TEXT_METHODS: dict[str, Callable[..., int]] = {
    "expandtabs": _expandtabs_size,
    "join": _join_size,
    "replace": _replace_size,
    "translate": _translate_size,
}
