"""Which community lists are meant for marketing, and the target group name each one gets.

The rule is shared: the connection applies it when it refreshes the target groups, and the
community's List Builder warns with it when a list saved there would not reach marketing.

A list is meant for marketing when its name begins with "Informz" (any case, after leading
spaces); its group is named by what follows, without the separators after the prefix:
"Informz Has Started Discussion Thread" -> "Has Started Discussion Thread". Lists that are not
taken are explained, and near-misses (a misspelt prefix, the prefix in the middle of the name)
are flagged so that a community manager can see why a list does not appear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "Informz"
SEPARATORS = " -:_"
_TAKEN = re.compile(rf"\s*{PREFIX}[{re.escape(SEPARATORS)}]*", re.IGNORECASE)
_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")
# How far a first word may be from the prefix (edits: insert, delete, replace, swap two
# neighbours) to count as a misspelling of it.
_NEAR = 2


@dataclass(frozen=True)
class ListVerdict:
    """A list's fate: the group name it gets, or why it gets none (and whether that is a
    near-miss of the prefix, which the report flags)."""

    group_name: str | None
    reason: str | None = None
    near_miss: bool = False


def judge_list_name(name: str) -> ListVerdict:
    taken = _TAKEN.match(name)
    if taken is not None:
        rest = name[taken.end() :].strip()
        if not rest:
            return ListVerdict(
                None, f"the name is only the prefix {PREFIX}: nothing to name a group"
            )
        return ListVerdict(rest)
    if PREFIX.lower() in name.lower():
        return ListVerdict(
            None,
            f"{PREFIX} is in the name but not at its start; rename the list to begin with it",
            near_miss=True,
        )
    first = _FIRST_WORD.match(name)
    if first is not None and _distance(first.group(1).lower(), PREFIX.lower()) <= _NEAR:
        return ListVerdict(
            None,
            f"the name begins with {first.group(1)!r}, which looks like a misspelling of "
            f"{PREFIX}; rename the list to begin with {PREFIX}",
            near_miss=True,
        )
    return ListVerdict(None, f"the name does not begin with {PREFIX}")


def _distance(a: str, b: str) -> int:
    """Edits between two words: insertions, deletions, replacements and swaps of neighbours."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (char_a != char_b),
            )
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]
