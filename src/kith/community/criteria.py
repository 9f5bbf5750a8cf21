"""List Builder criteria: a JSON tree, validated into nodes, compiled to one SQL condition.

The tree (see README): `{"all": [...]}`, `{"any": [...]}`, `{"not": C}`, activity counts in a
window, member fields (standard or custom) and community membership. Every error names the path
of the node at fault, e.g. `criteria.all[1].activity: unknown activity type 'posted'`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import literal

from kith.clock import parse_date, start_of_day
from kith.community.criteria_limits import oversize
from kith.community.models import (
    MEMBER_BOOLEAN_FIELDS,
    MEMBER_DATE_FIELDS,
    MEMBER_TEXT_FIELDS,
    ActivityEvent,
    ActivityType,
    Community,
    CustomField,
    Member,
    Membership,
)
from kith.errors import InvalidInput
from kith.sql import fold, strip_blanks, utc_day

OPS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "lt",
    "lte",
    "gt",
    "gte",
    "is_empty",
    "is_not_empty",
    "within_days",  # date fields only: on or after now - N days (e.g. joined in the last 7 days)
)
ACTIVITY_KEYS = {"activity", "min", "max", "since", "until", "within_days", "community"}
# An activity criterion's keys as the builder labels them, for messages in its words.
_WORDS = {
    "min": "at least",
    "max": "at most",
    "within_days": "in the last",
    "since": "since",
    "until": "until",
}
_DATE_WORDS = "needs a date written as YYYY-MM-DD, such as 2026-03-01"


class InvalidCriteria(InvalidInput):
    """A criteria tree that cannot be used; the message starts with the path of the bad node
    (for the API and the command line). `plain` says the problem in the builder's words, for
    the pages; it is the problem itself when that needs no translating."""

    def __init__(self, path: str, problem: str, plain: str | None = None) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.plain = plain or problem


@dataclass(frozen=True)
class Vocabulary:
    """What names a criteria tree may use: activity types, communities and custom fields."""

    activity_types: dict[str, int]
    communities: dict[str, int]  # lower-cased name -> id
    custom_fields: frozenset[str]

    @classmethod
    def load(cls, session: Session) -> Vocabulary:
        return cls(
            activity_types={
                name: id_
                for name, id_ in session.execute(
                    select(ActivityType.name, ActivityType.id)
                ).tuples()
            },
            communities={
                name.lower(): id_
                for name, id_ in session.execute(select(Community.name, Community.id)).tuples()
            },
            custom_fields=frozenset(session.scalars(select(CustomField.name))),
        )


# -- nodes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Activity:
    """Members whose number of matching events lies in [minimum, maximum] (maximum None: no cap)."""

    type_ids: tuple[int, ...] | None  # None: any type
    minimum: int
    maximum: int | None
    since: date | None
    until: date | None
    within_days: int | None
    community_id: int | None


@dataclass(frozen=True)
class FieldTest:
    field: str
    custom: bool
    op: str
    value: Any


@dataclass(frozen=True)
class MemberOf:
    community_id: int
    role: str | None


Node = All | Any_ | Not | Activity | FieldTest | MemberOf


# -- validation ------------------------------------------------------------------------------


def parse_criteria(raw: Any, vocabulary: Vocabulary, path: str = "criteria") -> Node:
    """Validate a criteria tree; raise InvalidCriteria naming the first bad node (one beyond
    the limits of kith.community.criteria_limits before any other)."""
    too_large = oversize(raw, path, tuple(_PARSERS))
    if too_large is not None:
        raise InvalidCriteria(*too_large)
    return _parse(raw, vocabulary, path)


def _parse(raw: Any, vocabulary: Vocabulary, path: str) -> Node:
    if not isinstance(raw, dict) or not raw:
        raise InvalidCriteria(path, 'expected an object such as {"all": [...]}')
    for kind, parse in _PARSERS.items():
        if kind in raw:
            return parse(raw, vocabulary, f"{path}.{kind}")
    raise InvalidCriteria(
        path, f"unknown criterion {sorted(raw)}; expected one of {', '.join(_PARSERS)}"
    )


def _parse_group(raw: dict[str, Any], vocabulary: Vocabulary, path: str) -> Node:
    kind = "all" if "all" in raw else "any"
    _only_keys(raw, {kind}, path)
    children = raw[kind]
    if not isinstance(children, list) or not children:
        raise InvalidCriteria(
            path,
            f'"{kind}" needs a non-empty list of criteria',
            "this group is empty: add a criterion to it or remove it"
            if "[" in path
            else "add at least one criterion",
        )
    nodes = tuple(
        _parse(child, vocabulary, f"{path}[{index}]") for index, child in enumerate(children)
    )
    return All(nodes) if kind == "all" else Any_(nodes)


def _parse_not(raw: dict[str, Any], vocabulary: Vocabulary, path: str) -> Node:
    _only_keys(raw, {"not"}, path)
    return Not(_parse(raw["not"], vocabulary, path))


def _parse_activity(raw: dict[str, Any], vocabulary: Vocabulary, path: str) -> Node:
    _only_keys(raw, ACTIVITY_KEYS, path)
    types = raw["activity"]
    type_ids: tuple[int, ...] | None
    if types == "any":
        type_ids = None
    else:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidCriteria(path, 'expected a type name, a list of names or "any"')
        unknown = [name for name in names if name not in vocabulary.activity_types]
        if unknown:
            known = ", ".join(sorted(vocabulary.activity_types))
            raise InvalidCriteria(
                path,
                f"unknown activity type {unknown[0]!r} (known: {known})",
                f"there is no activity type {unknown[0]!r}",
            )
        type_ids = tuple(sorted({vocabulary.activity_types[name] for name in names}))
    maximum = _optional_count(raw, "max", path)
    minimum = _optional_count(raw, "min", path)
    if minimum is None:
        minimum = 0 if maximum is not None else 1
    if maximum is not None and minimum > maximum:
        raise InvalidCriteria(
            path,
            f"min ({minimum}) is greater than max ({maximum})",
            f"“at least” ({minimum}) is more than “at most” ({maximum})",
        )
    since = _optional_date(raw, "since", path)
    until = _optional_date(raw, "until", path)
    if since and until and since >= until:
        raise InvalidCriteria(
            path,
            f"since ({since}) must be before until ({until})",
            f"“since” ({since}) must be before “until” ({until})",
        )
    within_days = _optional_count(raw, "within_days", path)
    if within_days == 0:
        raise InvalidCriteria(
            f"{path}.within_days", "must be at least 1", "“in the last” needs 1 day or more"
        )
    community_id = None
    if raw.get("community") is not None:
        community_id = _community_id(raw["community"], vocabulary, f"{path}.community")
    return Activity(type_ids, minimum, maximum, since, until, within_days, community_id)


def _parse_field(raw: dict[str, Any], vocabulary: Vocabulary, path: str) -> Node:
    _only_keys(raw, {"field", "op", "value"}, path)
    name = raw["field"]
    standard = MEMBER_TEXT_FIELDS + MEMBER_DATE_FIELDS + MEMBER_BOOLEAN_FIELDS
    if not isinstance(name, str) or (name not in standard and name not in vocabulary.custom_fields):
        custom = ", ".join(sorted(vocabulary.custom_fields)) or "none yet"
        raise InvalidCriteria(
            path, f"unknown field {name!r} (member fields: {', '.join(standard)}; custom: {custom})"
        )
    op = raw.get("op")
    if op not in OPS:
        raise InvalidCriteria(f"{path}.op", f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    value = raw.get("value")
    test = FieldTest(name, name not in standard, op, value)
    _check_value(test, f"{path}.value")
    return test


def _parse_member_of(raw: dict[str, Any], vocabulary: Vocabulary, path: str) -> Node:
    _only_keys(raw, {"member_of", "role"}, path)
    role = raw.get("role")
    if role is not None and not isinstance(role, str):
        raise InvalidCriteria(f"{path}.role", "expected a role name")
    return MemberOf(_community_id(raw["member_of"], vocabulary, path), role)


_PARSERS = {
    "all": _parse_group,
    "any": _parse_group,
    "not": _parse_not,
    "activity": _parse_activity,
    "field": _parse_field,
    "member_of": _parse_member_of,
}


def _only_keys(raw: dict[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise InvalidCriteria(
            path, f"unexpected key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def _optional_count(raw: dict[str, Any], key: str, path: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidCriteria(
            f"{path}.{key}",
            f"expected a whole number ≥ 0, got {value!r}",
            f"“{_WORDS[key]}” needs a whole number, 0 or more",
        )
    return value


def _optional_date(raw: dict[str, Any], key: str, path: str) -> date | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCriteria(
            f"{path}.{key}",
            f"expected a date YYYY-MM-DD, got {value!r}",
            f"“{_WORDS[key]}” {_DATE_WORDS}",
        )
    try:
        return parse_date(value)
    except ValueError as error:
        raise InvalidCriteria(
            f"{path}.{key}", str(error), f"“{_WORDS[key]}” {_DATE_WORDS}"
        ) from None


def _community_id(name: Any, vocabulary: Vocabulary, path: str) -> int:
    if not isinstance(name, str) or name.lower() not in vocabulary.communities:
        raise InvalidCriteria(
            path, f"unknown community {name!r}", f"there is no community named {name!r}"
        )
    return vocabulary.communities[name.lower()]


def _check_value(test: FieldTest, path: str) -> None:
    op, value = test.op, test.value
    if op in ("is_empty", "is_not_empty"):
        if value is not None:
            raise InvalidCriteria(path, f"{op} takes no value")
        return
    kind = _field_kind(test)
    if kind == "boolean":
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise InvalidCriteria(path, f"{test.field} takes eq or ne with true or false")
        return
    if op == "within_days":
        if kind != "date":
            raise InvalidCriteria(path, f"within_days applies to date fields, not {test.field}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidCriteria(
                path,
                f"within_days needs a whole number ≥ 1, got {value!r}",
                "the number of days needs a whole number, 1 or more",
            )
        return
    values = value if op in ("in", "not_in") else [value]
    if op in ("in", "not_in") and (not isinstance(value, list) or not value):
        raise InvalidCriteria(
            path, f"{op} needs a non-empty list", "give one value or more, separated by commas"
        )
    if kind == "date":
        if op in ("contains", "starts_with"):
            raise InvalidCriteria(path, f"{op} does not apply to the date field {test.field}")
        for item in values:
            if not isinstance(item, str):
                raise InvalidCriteria(path, f"expected a date YYYY-MM-DD, got {item!r}")
            try:
                parse_date(item)
            except ValueError as error:
                raise InvalidCriteria(path, str(error), f"the value {_DATE_WORDS}") from None
        return
    numeric_ok = op in ("lt", "lte", "gt", "gte", "eq", "ne", "in", "not_in")
    for item in values:
        is_number = isinstance(item, int | float) and not isinstance(item, bool)
        if not isinstance(item, str) and not (is_number and numeric_ok):
            raise InvalidCriteria(path, f"expected text for {op}, got {item!r}")


def _field_kind(test: FieldTest) -> str:
    if test.field in MEMBER_DATE_FIELDS:
        return "date"
    if test.field in MEMBER_BOOLEAN_FIELDS:
        return "boolean"
    return "text"


# -- compilation -----------------------------------------------------------------------------


def compile_criteria(
    node: Node, *, now: datetime, vocabulary: Vocabulary, few: bool = False
) -> ColumnElement[bool]:
    """One SQL condition on members that holds exactly for the members the tree selects.
    `few`: it will be tested only for a few members (a live list's pass), so each test is
    written per member, seeking an index, rather than as a set read whole."""
    return _Compiler(now, vocabulary, few=few).compile(node)


class _Compiler:
    """Chooses, per activity node, between two SQL shapes with the same meaning.

    A set (`id IN (SELECT member_id ... GROUP BY ... HAVING ...)`) reads the events once through
    the (type, occurred_at) index: best when the activity test stands alone. A per-member count
    (`(SELECT count(*) ... WHERE member_id = members.id ...)`) seeks the (member, occurred_at)
    index: best for negative tests (`max`), and next to cheaper tests under the same `all`,
    which are written first so that the count runs only for the members they let through.
    The set reads every event of the window whoever did it: wasted when only a few members are
    tested (`few`), where each test is per member.
    """

    def __init__(self, now: datetime, vocabulary: Vocabulary, *, few: bool = False) -> None:
        self.now = now
        self.vocabulary = vocabulary
        self.few = few

    def compile(
        self, node: Node, *, beside_cheaper: bool = False, under_or_not: bool = False
    ) -> ColumnElement[bool]:
        """`under_or_not`: the node sits under an `any` or a `not`, where a set cannot become a
        join; PostgreSQL then runs `id [NOT] IN (SELECT ...)` as a subplan, hashed only while
        the set fits in work_mem and otherwise rescanned for every member (minutes at a million
        members). There each test is written per member (EXISTS), which seeks an index."""
        if isinstance(node, All):
            cheap = [child for child in node.children if not isinstance(child, Activity)]
            costly = [child for child in node.children if isinstance(child, Activity)]
            return and_(
                *(self.compile(child, under_or_not=under_or_not) for child in cheap),
                *(
                    self.compile(child, beside_cheaper=bool(cheap), under_or_not=under_or_not)
                    for child in costly
                ),
            )
        if isinstance(node, Any_):
            return or_(*(self.compile(child, under_or_not=True) for child in node.children))
        if isinstance(node, Not):
            return not_(self.compile(node.child, under_or_not=True))
        if isinstance(node, Activity):
            per_member = self.few or beside_cheaper or under_or_not or node.maximum is not None
            return self.activity(node, per_member=per_member)
        if isinstance(node, FieldTest):
            return _compile_field(node, self.now)
        return _compile_member_of(node, per_member=self.few or under_or_not)

    def activity(self, node: Activity, *, per_member: bool) -> ColumnElement[bool]:
        events = ActivityEvent.__table__.c
        # events after `now` have not happened yet as far as an --as-of evaluation is concerned
        conditions: list[ColumnElement[bool]] = [events.occurred_at <= self.now]
        if node.type_ids is not None:
            # per member, `type_id + 0` keeps the planner off the (type, occurred_at) index,
            # which SQLite may otherwise pick without statistics, reading the type's every event
            type_id = events.type_id + 0 if per_member else events.type_id
            conditions.append(type_id.in_(node.type_ids))
        elif not per_member and (node.since or node.until or node.within_days):
            # naming every type lets the (type, occurred_at) index serve a windowed "any"
            types = sorted(self.vocabulary.activity_types.values())
            conditions.append(events.type_id.in_(types))
        if node.since:
            conditions.append(events.occurred_at >= start_of_day(node.since))
        if node.until:
            conditions.append(events.occurred_at < start_of_day(node.until))
        if node.within_days:
            conditions.append(events.occurred_at >= self.now - timedelta(days=node.within_days))
        if node.community_id is not None:
            conditions.append(events.community_id == node.community_id)
        if node.minimum == 0 and node.maximum is None:
            return true()
        if per_member:
            return self._per_member(node, conditions)
        matching = select(events.member_id).where(*conditions)
        if node.minimum == 1 and node.maximum is None:
            return Member.id.in_(matching)
        count = func.count()
        having = count >= node.minimum
        if node.maximum is not None:
            having = count.between(node.minimum, node.maximum)
        return Member.id.in_(matching.group_by(events.member_id).having(having))

    @staticmethod
    def _per_member(node: Activity, conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        events = ActivityEvent.__table__.c
        own = [events.member_id == Member.id, *conditions]
        if node.maximum == 0:
            return ~exists().where(*own)
        if node.minimum == 1 and node.maximum is None:
            return exists().where(*own)
        count = select(func.count()).where(*own).scalar_subquery()
        if node.maximum is None:
            return count >= node.minimum
        return count.between(node.minimum, node.maximum)


def _compile_member_of(node: MemberOf, *, per_member: bool) -> ColumnElement[bool]:
    conditions = [Membership.community_id == node.community_id]
    if node.role is not None:
        conditions.append(fold(Membership.role) == node.role.lower())
    if per_member:
        return exists().where(Membership.member_id == Member.id, *conditions)
    return Member.id.in_(select(Membership.member_id).where(*conditions))


NEGATIONS = {"ne": "eq", "not_in": "in", "is_not_empty": "is_empty"}
ORDERINGS = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def _compile_field(test: FieldTest, now: datetime) -> ColumnElement[bool]:
    """A field test, true or false for every member: never NULL, so that `not` is exact.

    The negative ops (ne, not_in, is_not_empty) select exactly the members their positive op
    leaves out, members without a value included.
    """
    column: ColumnElement[Any] = (
        Member.custom_fields[test.field].as_string() if test.custom else getattr(Member, test.field)
    )
    positive = NEGATIONS.get(test.op)
    if positive is not None:
        return not_(_definite(_field_condition(column, replace(test, op=positive), now)))
    return _definite(_field_condition(column, test, now))


def _definite(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return func.coalesce(condition, false())


def _field_condition(
    column: ColumnElement[Any], test: FieldTest, now: datetime
) -> ColumnElement[bool]:
    kind = _field_kind(test)
    if test.op == "is_empty":
        if kind == "text":
            return or_(column.is_(None), strip_blanks(column) == "")
        return column.is_(None)
    if kind == "boolean":  # eq, or ne turned into eq
        return column.is_(test.value)
    if kind == "date":
        return _date_condition(column, test, now)
    return _text_condition(column, test)


def _date_condition(
    column: ColumnElement[Any], test: FieldTest, now: datetime
) -> ColumnElement[bool]:
    """Dates compare as whole UTC days: `eq 2026-06-01` is any time on that day."""

    def on_day(text: str) -> ColumnElement[bool]:
        day = start_of_day(parse_date(text))
        return and_(column >= day, column < day + timedelta(days=1))

    op, value = test.op, test.value
    if op == "within_days":
        return column >= now - timedelta(days=value)
    if op == "in":  # one IN, not an OR of ranges: SQLite nests an OR of 1,000 too deep
        return utc_day(column).in_([parse_date(item).isoformat() for item in value])
    if op == "eq":
        return on_day(value)
    day = start_of_day(parse_date(value))
    next_day = day + timedelta(days=1)
    bounds = {"lt": column < day, "lte": column < next_day, "gt": column >= next_day}
    return bounds.get(op, column >= day)


def _text_condition(column: ColumnElement[Any], test: FieldTest) -> ColumnElement[bool]:
    """Text compares ignoring case; a number value compares the text as a number."""
    op, value = test.op, test.value
    if op in ORDERINGS:
        compare: Callable[[Any, Any], ColumnElement[bool]] = ORDERINGS[op]
        if _is_number(value):
            return compare(as_number(column), value)
        return compare(fold(column), value.lower())
    if op == "contains":
        return _lowered(column, [value]).contains(value.lower(), autoescape=True)
    if op == "starts_with":
        return _lowered(column, [value]).startswith(value.lower(), autoescape=True)
    values = value if op == "in" else [value]  # eq or in
    numbers = [item for item in values if _is_number(item)]
    texts = [item for item in values if not _is_number(item)]
    matches = []
    if numbers:
        matches.append(as_number(column).in_(numbers))
    if texts:
        matches.append(_lowered(column, texts).in_([text.lower() for text in texts]))
    return or_(*matches)


def _lowered(column: ColumnElement[Any], values: list[str]) -> ColumnElement[str]:
    """The column lower-cased for matching these values.

    Matching ASCII values, the database's own lower() gives the same answer as full Unicode
    folding (but for the Kelvin sign) and saves SQLite a call into Python per member.
    """
    return func.lower(column) if all(text.isascii() for text in values) else fold(column)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_number(column: ColumnElement[Any]) -> ColumnElement[float]:
    """The column's text as a number, or NULL when it is not one (both backends, no errors:
    PostgreSQL cannot read a number of over 308 digits, and its patterns count up to 255)."""
    stripped = strip_blanks(column)
    looks_numeric = stripped.regexp_match(r"^-?[0-9]{1,255}(\.[0-9]+)?$")
    return case((looks_numeric, cast(stripped, Float)), else_=literal(None))
