"""List Builder criteria evaluated in plain Python, straight from the issue's wording.

This is the oracle the SQL compilation is checked against: it reads the raw JSON tree (assumed
valid) and walks an in-memory community, one member at a time, with no SQL and no code shared
with `kith.community.criteria`. Where the issue is silent it follows the decisions the product
made: `ne`/`not_in` on text or dates include members with no value (NULL or ''); `is_empty` on
text counts NULL, '' and whitespace-only as empty; text `lt`/`gt` compare lower-cased text
alphabetically; a number value compares the stored text as a number (surrounding whitespace
ignored), and text that is not a plain decimal number never matches such a comparison.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

TEXT_FIELDS = (
    "contact_key",
    "legacy_contact_key",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "member_type",
)
DATE_FIELDS = ("joined_at", "last_login_at")
BOOLEAN_FIELDS = ("is_super_admin",)

# a longer whole part is no number (kith.community.criteria.as_number)
PLAIN_NUMBER = re.compile(r"-?[0-9]{1,255}(\.[0-9]+)?")


@dataclass
class PersonRecord:
    """A member as the reference sees it: standard fields plus free-form custom fields."""

    contact_key: str
    legacy_contact_key: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    member_type: str | None = None
    joined_at: datetime | None = None
    last_login_at: datetime | None = None
    is_super_admin: bool = False
    custom_fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventRecord:
    contact_key: str
    type: str
    occurred_at: datetime
    community: str | None


@dataclass(frozen=True)
class MembershipRecord:
    contact_key: str
    community: str
    role: str | None


@dataclass
class CommunityRecords:
    """Everything a criteria tree can look at, held in memory."""

    people: list[PersonRecord]
    events: list[EventRecord]
    memberships: list[MembershipRecord]
    communities: list[str]
    activity_types: list[str]
    custom_field_names: list[str]


def selected_contact_keys(
    criteria: dict[str, Any], records: CommunityRecords, *, now: datetime
) -> set[str]:
    """The contact keys of the members the criteria tree selects at instant `now`."""
    return {
        person.contact_key for person in records.people if holds(criteria, person, records, now=now)
    }


def holds(
    criteria: dict[str, Any], person: PersonRecord, records: CommunityRecords, *, now: datetime
) -> bool:
    """Whether one criteria node is true for one member."""
    if "all" in criteria:
        return all(holds(child, person, records, now=now) for child in criteria["all"])
    if "any" in criteria:
        return any(holds(child, person, records, now=now) for child in criteria["any"])
    if "not" in criteria:
        return not holds(criteria["not"], person, records, now=now)
    if "activity" in criteria:
        return _activity_holds(criteria, person, records, now)
    if "member_of" in criteria:
        return _member_of_holds(criteria, person, records)
    return _field_holds(criteria, person)


# -- activity --------------------------------------------------------------------------------


def _activity_holds(
    criteria: dict[str, Any], person: PersonRecord, records: CommunityRecords, now: datetime
) -> bool:
    types = criteria["activity"]
    wanted_types = None if types == "any" else {types} if isinstance(types, str) else set(types)
    since = _midnight(criteria.get("since"))
    until = _midnight(criteria.get("until"))
    within_days = criteria.get("within_days")
    earliest = None if within_days is None else now - timedelta(days=within_days)
    community = criteria.get("community")

    def counts(event: EventRecord) -> bool:
        return (
            event.contact_key == person.contact_key
            and event.occurred_at <= now
            and (wanted_types is None or event.type in wanted_types)
            and (since is None or event.occurred_at >= since)
            and (until is None or event.occurred_at < until)
            and (earliest is None or event.occurred_at >= earliest)
            and (
                community is None
                or (event.community is not None and event.community.lower() == community.lower())
            )
        )

    count = sum(1 for event in records.events if counts(event))
    maximum = criteria.get("max")
    minimum = criteria.get("min")
    if minimum is None:
        minimum = 0 if maximum is not None else 1
    return count >= minimum and (maximum is None or count <= maximum)


def _midnight(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)


# -- membership ------------------------------------------------------------------------------


def _member_of_holds(
    criteria: dict[str, Any], person: PersonRecord, records: CommunityRecords
) -> bool:
    community = criteria["member_of"].lower()
    role = criteria.get("role")
    return any(
        membership.contact_key == person.contact_key
        and membership.community.lower() == community
        and (
            role is None
            or (membership.role is not None and membership.role.lower() == role.lower())
        )
        for membership in records.memberships
    )


# -- member fields ---------------------------------------------------------------------------


def _field_holds(criteria: dict[str, Any], person: PersonRecord) -> bool:
    name, op, value = criteria["field"], criteria["op"], criteria.get("value")
    if name in DATE_FIELDS:
        return _date_holds(getattr(person, name), op, value)
    if name in BOOLEAN_FIELDS:
        return _boolean_holds(getattr(person, name), op, value)
    stored = getattr(person, name) if name in TEXT_FIELDS else person.custom_fields.get(name)
    return _text_holds(stored, op, value)


def _boolean_holds(stored: bool, op: str, value: Any) -> bool:
    if op in ("is_empty", "is_not_empty"):
        return op == "is_not_empty"  # a yes/no field always has a value
    return stored is value if op == "eq" else stored is not value


def _date_holds(stored: datetime | None, op: str, value: Any) -> bool:
    if op == "is_empty":
        return stored is None
    if op == "is_not_empty":
        return stored is not None
    if stored is None:
        return op in ("ne", "not_in")
    day = stored.astimezone(UTC).date()
    if op in ("in", "not_in"):
        inside = day in {date.fromisoformat(item) for item in value}
        return inside if op == "in" else not inside
    compare: dict[str, Callable[[date, date], bool]] = {
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
    }
    return compare[op](day, date.fromisoformat(value))


def _text_holds(stored: str | None, op: str, value: Any) -> bool:
    if op in ("is_empty", "is_not_empty"):
        empty = stored is None or stored.strip() == ""
        return empty if op == "is_empty" else not empty
    if op in ("lt", "lte", "gt", "gte") and not isinstance(value, str):
        number = _as_number(stored)
        return number is not None and _ordered(op, number, float(value))
    if op in ("ne", "not_in"):
        if stored is None or stored == "":
            return True
        lowered = stored.lower()
        return lowered not in _lowered_texts(value if op == "not_in" else [value])
    if stored is None:
        return False
    lowered = stored.lower()
    if op == "in":
        return lowered in _lowered_texts(value)
    text = _lowered_texts([value])[0]
    if op == "eq":
        return lowered == text
    if op == "contains":
        return text in lowered
    if op == "starts_with":
        return lowered.startswith(text)
    return _ordered(op, lowered, text)


def _lowered_texts(values: Sequence[Any]) -> list[str]:
    return [str(item).lower() for item in values]


def _as_number(stored: str | None) -> float | None:
    if stored is None or not PLAIN_NUMBER.fullmatch(stored.strip()):
        return None
    return float(stored.strip())


def _ordered(op: str, left: Any, right: Any) -> bool:
    if op == "lt":
        return bool(left < right)
    if op == "lte":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)
