"""How large a List Builder criteria tree may be, checked before the tree is parsed or compiled.

Within these limits every tree compiles to one statement that both databases take (SQLite's
default 32,766 variables, 1,000-deep expressions and 50,000-byte LIKE patterns; PostgreSQL's
65,535 parameters), parsing and compiling never recurse deeper than Python allows, and the
costliest tree is planned in seconds: PostgreSQL plans an `all` of n activity or community
tests as an n-way join, in 0.3 s for 60, 2-4 s for 100 and a minute for 200. A List Builder
user never comes near them: a large list has a few dozen conditions nested a few levels, with
at most a few hundred values pasted into an `in`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MAX_CONDITIONS = 100  # nodes of the tree: all/any/not groups and the conditions in them
MAX_DEPTH = 20  # nodes on the way from the root to the deepest condition
MAX_VALUES_PER_CONDITION = 1_000  # items of one list, e.g. an `in` of emails
MAX_VALUES = 10_000  # list items in the whole tree
MAX_TEXT_LENGTH = 1_000  # characters of one text, e.g. a `contains`
MAX_NUMBER = 10**15  # magnitude of a number: both databases compare it exactly

GROUPS = ("all", "any")  # a node holding a list of child nodes
NOT = "not"  # a node holding one child node


def oversize(raw: Any, path: str, kinds: Sequence[str]) -> tuple[str, str] | None:
    """The path of the first node (in reading order) beyond a limit and what exceeds it, or None.

    `kinds` are the keys that say what a node is, in the order the parser looks for them
    (`all`, `any`, `not`, `field`, ...): a path names a node's kind as the parser's do, e.g.
    `criteria.all[0].field.value`.

    The tree is walked without recursion, so even one nested a million deep is refused at once.
    """
    conditions = 0
    values = _Values()
    pending: list[tuple[Any, str, int]] = [(raw, path, 1)]
    while pending:
        node, where, depth = pending.pop()
        conditions += 1
        if conditions > MAX_CONDITIONS:
            return where, f"the criteria have more than {MAX_CONDITIONS:,} conditions and groups"
        if depth > MAX_DEPTH:
            return where, f"the criteria are nested more than {MAX_DEPTH} deep"
        children, own = _split(node, where, kinds)
        for value, value_path in own:
            problem = values.problem(value, value_path)
            if problem is not None:
                return problem
        pending.extend((child, child_path, depth + 1) for child, child_path in reversed(children))
    return None


def _split(
    node: Any, where: str, kinds: Sequence[str]
) -> tuple[list[tuple[Any, str]], list[tuple[Any, str]]]:
    """A node's child nodes and its own values, each with its path."""
    if not isinstance(node, dict):
        return [], [(node, where)]
    kind = next((kind for kind in kinds if kind in node), None)
    named = where if kind is None else f"{where}.{kind}"
    children: list[tuple[Any, str]] = []
    own: list[tuple[Any, str]] = []
    for key, value in node.items():
        if isinstance(key, str) and len(key) > MAX_TEXT_LENGTH:
            return [], [(key, where)]
        if key in GROUPS and isinstance(value, list):
            # one more child than the limit allows is enough to refuse the tree
            first = value[: MAX_CONDITIONS + 1]
            children.extend((child, f"{where}.{key}[{index}]") for index, child in enumerate(first))
        elif key == NOT:
            children.append((value, f"{where}.{NOT}"))
        else:
            own.append((value, named if key == kind else f"{named}.{key}"))
    return children, own


class _Values:
    """The values of a tree's conditions (texts, numbers, lists of them), counted as they are
    checked."""

    def __init__(self) -> None:
        self.count = 0

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        """What makes `value` too large (or what it takes the tree's values beyond), if anything."""
        pending = [(value, path)]
        while pending:
            item, where = pending.pop()
            is_list = isinstance(item, list | dict)
            problem = self._list_problem(len(item)) if is_list else _scalar_problem(item)
            if problem is not None:
                return where, problem
            if isinstance(item, dict):  # keys before values: a key names its value's path
                pending.extend((entry, f"{where}[{key!r}]") for key, entry in item.items())
                pending.extend((key, where) for key in item)
            elif isinstance(item, list):
                pending.extend((entry, f"{where}[{index}]") for index, entry in enumerate(item))
        return None

    def _list_problem(self, length: int) -> str | None:
        if length > MAX_VALUES_PER_CONDITION:
            return f"{length:,} values; a condition takes at most {MAX_VALUES_PER_CONDITION:,}"
        self.count += length
        if self.count > MAX_VALUES:
            return f"the criteria hold more than {MAX_VALUES:,} values"
        return None


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        if len(item) > MAX_TEXT_LENGTH:
            return f"a text of {len(item):,} characters; a value has at most {MAX_TEXT_LENGTH:,}"
        if not _storable(item):
            return "a text holding a NUL character or a lone surrogate, which is not text"
    elif isinstance(item, float) and not math.isfinite(item):
        return f"{item} is not a number"
    elif isinstance(item, float | int) and not isinstance(item, bool) and abs(item) >= MAX_NUMBER:
        return f"a number beyond ±{MAX_NUMBER:,}; numbers have at most 15 digits"
    return None


def _storable(text: str) -> bool:
    """Whether both databases can take the text: PostgreSQL refuses NUL, UTF-8 lone surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
