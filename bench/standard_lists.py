"""The five standard lists: their criteria for kith, and raw SQL for their floors and checks.

Each list has a floor (the least work any evaluation must do, in raw SQL on the raw connection)
and a check (the same question answered by hand-written SQL, independent of kith's compiler),
whose count kith's count must equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench.generate import NOW

POSTS = ("thread_started", "discussion_reply")
EITHER = ("Young Professionals", "Annual Conference")
BOARD = "Board"
CHAPTER = "Midwest"

FLOOR_EVENTS_GROUPED = "raw SQL: GROUP BY member over the (type, occurred_at) index"
FLOOR_EVENTS_DISTINCT = "raw SQL: DISTINCT member over the (type, occurred_at) index"
FLOOR_MEMBERS_SCAN = "raw SQL: one full scan of members"


@dataclass(frozen=True)
class StandardList:
    key: str
    title: str
    criteria: dict[str, Any]
    floor: str  # what the floor is, for the table

    def floor_sql(self, ids: bool) -> str:
        """Raw SQL with `?` parameters (see params); returns ids, or their count."""
        return _FLOORS[self.key](ids)

    def check_sql(self) -> str:
        """An independent count, hand-written, with `?` parameters (see params)."""
        return f"SELECT count(*) FROM ({_CHECKS[self.key]}) AS answer"


STANDARD_LISTS = (
    StandardList(
        "a",
        "posted 3+ times in 30 days",
        {"activity": list(POSTS), "min": 3, "within_days": 30},
        FLOOR_EVENTS_GROUPED,
    ),
    StandardList(
        "b",
        "ever started a thread",
        {"activity": "thread_started"},
        FLOOR_EVENTS_DISTINCT,
    ),
    StandardList(
        "c",
        "no activity in 90 days",
        {"activity": "any", "max": 0, "within_days": 90},
        FLOOR_MEMBERS_SCAN,
    ),
    StandardList(
        "d",
        "in either of two communities, not staff",
        {
            "all": [
                {"any": [{"member_of": EITHER[0]}, {"member_of": EITHER[1]}]},
                {"not": {"field": "member_type", "op": "eq", "value": "staff"}},
            ]
        },
        FLOOR_MEMBERS_SCAN,
    ),
    StandardList(
        "e",
        "nested any/all of three conditions",
        {
            "any": [
                {
                    "all": [
                        {"field": "joined_at", "op": "within_days", "value": 365},
                        {"activity": "login", "min": 5, "within_days": 90},
                    ]
                },
                {
                    "all": [
                        {"field": "chapter", "op": "eq", "value": CHAPTER},
                        {"not": {"member_of": BOARD}},
                    ]
                },
                {"activity": "badge_awarded"},
            ]
        },
        FLOOR_MEMBERS_SCAN,
    ),
)


def params(key: str, *, kind: str, types: dict[str, int], communities: dict[str, int]) -> Any:
    """The parameters of a floor (kind "floor") or a check (kind "check"), in `?` order.

    Datetimes are left as datetimes; the caller converts them for its backend.
    """
    days = timedelta(days=1)
    if key == "a":
        return [*(types[name] for name in POSTS), NOW - 30 * days]
    if key == "b":
        return [types["thread_started"]]
    if kind == "floor":
        return []
    if key == "c":
        return [NOW - 90 * days]
    if key == "d":
        return [communities[EITHER[0]], communities[EITHER[1]]]
    return [
        NOW - 365 * days,
        types["login"],
        NOW - 90 * days,
        CHAPTER.lower(),
        communities[BOARD],
        types["badge_awarded"],
    ]


def _grouped(ids: bool) -> str:
    inner = (
        "SELECT member_id FROM activity_events WHERE type_id IN (?, ?) AND occurred_at >= ? "
        "GROUP BY member_id HAVING count(*) >= 3"
    )
    return inner if ids else f"SELECT count(*) FROM ({inner}) AS grouped"


def _distinct(ids: bool) -> str:
    if ids:
        return "SELECT DISTINCT member_id FROM activity_events WHERE type_id = ?"
    return "SELECT count(DISTINCT member_id) FROM activity_events WHERE type_id = ?"


def _members_scan(ids: bool) -> str:
    # a filter on a column no index holds, so that every row of the table is read
    if ids:
        return "SELECT id FROM members WHERE joined_at IS NOT NULL OR joined_at IS NULL"
    return "SELECT count(*) FROM members WHERE joined_at IS NOT NULL OR joined_at IS NULL"


_FLOORS = {"a": _grouped, "b": _distinct, "c": _members_scan, "d": _members_scan}
_FLOORS["e"] = _members_scan

# `{chapter}` is replaced per backend by the expression that reads the custom field
_CHECKS = {
    "a": _grouped(ids=True),
    "b": _distinct(ids=True),
    "c": (
        "SELECT m.id FROM members m WHERE NOT EXISTS (SELECT 1 FROM activity_events e "
        "WHERE e.member_id = m.id AND e.occurred_at >= ?)"
    ),
    "d": (
        "SELECT m.id FROM members m WHERE EXISTS (SELECT 1 FROM memberships s "
        "WHERE s.member_id = m.id AND s.community_id IN (?, ?)) "
        "AND coalesce(lower(m.member_type), '') <> 'staff'"
    ),
    "e": (
        "SELECT m.id FROM members m WHERE "
        "(m.joined_at >= ? AND (SELECT count(*) FROM activity_events e WHERE e.member_id = m.id "
        "AND e.type_id = ? AND e.occurred_at >= ?) >= 5) "
        "OR (lower({chapter}) = ? AND NOT EXISTS (SELECT 1 FROM memberships s "
        "WHERE s.member_id = m.id AND s.community_id = ?)) "
        "OR EXISTS (SELECT 1 FROM activity_events e WHERE e.member_id = m.id AND e.type_id = ?)"
    ),
}


def by_key(key: str) -> StandardList:
    return next(item for item in STANDARD_LISTS if item.key == key)
