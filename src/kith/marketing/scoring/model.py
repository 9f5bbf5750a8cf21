"""The scoring model: rules that give points and grades that are score thresholds, validated.

A model is JSON:

    {"rules": [
        {"name": "posts", "activity": ["thread_started", "discussion_reply"],
         "points": 5, "cap": 50, "within_days": 90},
        {"name": "opens", "mailing": "open", "points": 2, "within_days": 90},
        {"name": "board", "group": "Board", "points": 20},
        {"name": "members", "field": "member_type", "value": "Member", "points": 10}],
     "grades": [{"grade": "A", "min_score": 100}, {"grade": "B", "min_score": 40},
                {"grade": "C", "min_score": 0}]}

A rule gives `points` per community event of its types (`"any"` for every type), per mailing
opened or clicked in (each mailing counts once), once for membership of a target group, or
once for a personalization field holding a value (the same text, in any case);
`cap` bounds what one rule gives, `within_days: N` counts today (UTC) and the N-1 days before.
Grades go from the highest threshold down; a subscriber gets the first grade whose
`min_score` their score reaches. Every error names the rule or grade at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput, KithError
from kith.marketing.groups.target_groups import get_group, name_key
from kith.marketing.models import TargetGroup
from kith.marketing.scoring.models import CommunityActivityDay, ScoringModel

RULE_KINDS = ("activity", "mailing", "group", "field")
# the kinds counting a state, not events: once, whenever it began
ONCE_KINDS = ("group", "field")
MAILING_EVENTS = {"open": "opens", "click": "clicks"}
RULE_KEYS = frozenset(("name", *RULE_KINDS, "value", "points", "cap", "within_days"))
GRADE_KEYS = frozenset(("grade", "min_score"))
MAX_POINTS = 1_000_000
MAX_DAYS = 3_650
NAME_LENGTH = 100
VALUE_LENGTH = 500
# a model to start from (the API's example, the web editor's first text): rules of two kinds
EXAMPLE_MODEL: dict[str, Any] = {
    "rules": [
        {
            "name": "posts",
            "activity": ["thread_started", "discussion_reply"],
            "points": 5,
            "cap": 50,
            "within_days": 90,
        },
        {"name": "opens", "mailing": "open", "points": 2, "within_days": 90},
    ],
    "grades": [
        {"grade": "A", "min_score": 40},
        {"grade": "B", "min_score": 15},
        {"grade": "C", "min_score": 1},
    ],
}
GRADE_LENGTH = 20
GRADE_GROUP_PREFIX = "Grade "


@dataclass(frozen=True)
class Place:
    """Where in a model a refusal points: a rule or grade by its position (from 1), and the
    key at fault when it is one key (None: the rule or grade as a whole); or the model
    (position 0) and its list of rules or grades."""

    part: str
    position: int
    key: str | None = None


class InvalidModel(InvalidInput):
    """A scoring model refused; the message names the rule or grade at fault, `at` places it."""

    def __init__(self, message: str, at: Place | None = None) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class Rule:
    """One rule: `kind` is activity, mailing, group or field; `target` its types, event, group
    or field name; `value` the field's value (field rules only)."""

    position: int
    name: str
    kind: str
    target: tuple[str, ...] | str
    points: int
    cap: int | None
    within_days: int | None
    value: str | None = None

    @property
    def label(self) -> str:
        return f"rule {self.position} ({self.name})"

    def as_json(self) -> dict[str, Any]:
        target: Any = list(self.target) if isinstance(self.target, tuple) else self.target
        view: dict[str, Any] = {"name": self.name, self.kind: target}
        if self.value is not None:
            view["value"] = self.value
        view["points"] = self.points
        if self.cap is not None:
            view["cap"] = self.cap
        if self.within_days is not None:
            view["within_days"] = self.within_days
        return view


@dataclass(frozen=True)
class Grade:
    name: str
    min_score: int

    @property
    def group_name(self) -> str:
        """The target group in the Scoring folder that holds this grade's subscribers."""
        return f"{GRADE_GROUP_PREFIX}{self.name}"

    def as_json(self) -> dict[str, Any]:
        return {"grade": self.name, "min_score": self.min_score}


@dataclass(frozen=True)
class Definition:
    """A validated scoring model: its rules in order and its grades, highest first."""

    rules: tuple[Rule, ...]
    grades: tuple[Grade, ...]
    version: int = 0
    updated_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "rules": [rule.as_json() for rule in self.rules],
            "grades": [grade.as_json() for grade in self.grades],
        }

    def grade_of(self, score: int) -> str | None:
        return next((grade.name for grade in self.grades if score >= grade.min_score), None)


def first_day(now: datetime, within_days: int) -> date:
    """The first day of "the last N days": today (UTC) and the N-1 days before it."""
    return now.date() - timedelta(days=within_days - 1)


def parse_definition(raw: Any) -> Definition:
    """A model from its JSON form; InvalidModel naming the rule or grade at fault."""
    if not isinstance(raw, Mapping):
        raise InvalidModel("a scoring model is a JSON object with 'rules' and 'grades'")
    unknown = sorted(set(raw) - {"rules", "grades", "version", "updated_at"})
    if unknown:
        raise InvalidModel(f"unknown key {unknown[0]!r}; a scoring model has rules and grades")
    rules = raw.get("rules")
    if not isinstance(rules, list) or not rules:
        raise InvalidModel("'rules' must be a non-empty list of rules", Place("model", 0, "rules"))
    grades = raw.get("grades")
    if not isinstance(grades, list) or not grades:
        raise InvalidModel(
            "'grades' must be a non-empty list of {grade, min_score}", Place("model", 0, "grades")
        )
    parsed = tuple(_rule(position, item) for position, item in enumerate(rules, start=1))
    seen: dict[str, Rule] = {}
    for rule in parsed:
        earlier = seen.setdefault(rule.name.lower(), rule)
        if earlier is not rule:
            raise InvalidModel(
                f"{rule.label}: rule {earlier.position} has the same name",
                Place("rule", rule.position, "name"),
            )
    return Definition(parsed, _grades(grades))


def _rule(position: int, raw: Any) -> Rule:
    if not isinstance(raw, Mapping):
        raise InvalidModel(f"rule {position}: expected a JSON object", Place("rule", position))
    name = raw.get("name")
    kinds = [kind for kind in RULE_KINDS if kind in raw]
    label = f"rule {position}" + (f" ({name})" if isinstance(name, str) and name.strip() else "")
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise InvalidModel(
            f"{label}: unknown key {unknown[0]!r}; a rule has {', '.join(sorted(RULE_KEYS))}",
            Place("rule", position),
        )
    if len(kinds) != 1:
        raise InvalidModel(
            f"{label}: give exactly one of activity, mailing, group or field",
            Place("rule", position),
        )
    kind = kinds[0]
    target = _target(label, Place("rule", position, kind), raw[kind])
    value = _field_value(label, position, kind, raw)
    name = _rule_name(label, position, _default_name(kind, target, value) if name is None else name)
    label = f"rule {position} ({name})"
    within_days = _within_days(label, position, kind, raw)
    points = _optional_whole(label, position, raw, "points", MAX_POINTS)
    if points is None:
        raise InvalidModel(f"{label}: points is required", Place("rule", position, "points"))
    return Rule(
        position=position,
        name=name,
        kind=kind,
        target=target,
        points=points,
        cap=_optional_whole(label, position, raw, "cap", MAX_POINTS * 1000),
        within_days=within_days,
        value=value,
    )


def _rule_name(label: str, position: int, name: Any) -> str:
    """The rule's name, given or made from what it counts, trimmed."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_LENGTH:
        raise InvalidModel(
            f"{label}: name must be a text of 1 to {NAME_LENGTH} characters",
            Place("rule", position, "name"),
        )
    return name.strip()


def _within_days(label: str, position: int, kind: str, raw: Mapping[str, Any]) -> int | None:
    """The rule's window in days (None: ever); a rule counting a state takes none."""
    within_days = _optional_whole(label, position, raw, "within_days", MAX_DAYS)
    if kind in ONCE_KINDS and within_days is not None:
        raise InvalidModel(
            f"{label}: within_days does not apply to a {kind} rule",
            Place("rule", position, "within_days"),
        )
    return within_days


def _field_value(label: str, position: int, kind: str, raw: Mapping[str, Any]) -> str | None:
    """The value a field rule looks for; None for the other kinds, which take no value."""
    value = raw.get("value")
    if kind != "field":
        if value is not None:
            raise InvalidModel(
                f"{label}: value applies to a field rule only", Place("rule", position, "value")
            )
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > VALUE_LENGTH:
        raise InvalidModel(
            f"{label}: value must be a text of 1 to {VALUE_LENGTH} characters",
            Place("rule", position, "value"),
        )
    return value.strip()


def _target(label: str, at: Place, value: Any) -> tuple[str, ...] | str:
    if at.key == "mailing":
        if value not in MAILING_EVENTS:
            raise InvalidModel(f"{label}: mailing must be 'open' or 'click', not {value!r}", at)
        return str(value)
    if at.key == "group":
        if not isinstance(value, str) or not value.strip():
            raise InvalidModel(f"{label}: group must name a target group", at)
        return value.strip()
    if at.key == "field":
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > NAME_LENGTH:
            raise InvalidModel(
                f"{label}: field must name a personalization field (1 to {NAME_LENGTH} characters)",
                at,
            )
        return value.strip()
    if value == "any":
        return "any"
    names = [value] if isinstance(value, str) else value
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(item, str) and item.strip() for item in names)
    ):
        raise InvalidModel(
            f"{label}: activity must be an activity type, a list of them, or 'any'", at
        )
    cleaned = tuple(dict.fromkeys(item.strip() for item in names))
    if "any" in cleaned:
        raise InvalidModel(f"{label}: 'any' stands alone, not in a list of activity types", at)
    return cleaned


def _default_name(kind: str, target: tuple[str, ...] | str, value: str | None) -> str:
    if kind == "mailing":
        return f"mailing {MAILING_EVENTS[str(target)]}"
    if kind == "group":
        return f"group {target}"
    if kind == "field":
        return f"{target} is {value}"
    return "any activity" if target == "any" else " + ".join(target)


def _optional_whole(
    label: str, position: int, raw: Mapping[str, Any], key: str, most: int
) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InvalidModel(
            f"{label}: {key} must be a positive integer (at most {most:,})",
            Place("rule", position, key),
        )
    return value


def _grades(raw: Sequence[Any]) -> tuple[Grade, ...]:
    grades: list[Grade] = []
    for position, item in enumerate(raw, start=1):
        name = item.get("grade") if isinstance(item, Mapping) else None
        label = f"grade {position}" + (f" ({name})" if isinstance(name, str) else "")
        if not isinstance(item, Mapping) or set(item) - GRADE_KEYS:
            raise InvalidModel(
                f"{label}: expected an object with grade and min_score", Place("grade", position)
            )
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= GRADE_LENGTH:
            raise InvalidModel(
                f"{label}: grade must be a text of 1 to {GRADE_LENGTH} characters",
                Place("grade", position, "grade"),
            )
        minimum = item.get("min_score")
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
            raise InvalidModel(
                f"{label}: min_score must be a whole number, 0 or more",
                Place("grade", position, "min_score"),
            )
        for earlier in grades:
            if earlier.name.lower() == name.strip().lower():
                raise InvalidModel(
                    f"{label}: the grade {earlier.name!r} is given twice",
                    Place("grade", position, "grade"),
                )
        if grades and minimum >= grades[-1].min_score:
            raise InvalidModel(
                f"{label}: min_score must be below the previous grade's "
                f"({grades[-1].min_score}); grades go from the highest down",
                Place("grade", position, "min_score"),
            )
        grades.append(Grade(name.strip(), minimum))
    return tuple(grades)


def check_model(session: Session, raw: Any) -> Definition:
    """A model from its JSON form, checked against the target groups it names and its grades'
    groups; InvalidModel placing the rule or grade at fault. Nothing is saved."""
    definition = parse_definition(raw)
    for rule in definition.rules:
        if rule.kind != "group":
            continue
        at = Place("rule", rule.position, "group")
        try:
            group = get_group(session, str(rule.target))
        except KithError as error:  # no such group: said with the rule
            raise InvalidModel(f"{rule.label}: {error}", at) from None
        if group.kind == "scoring":
            raise InvalidModel(
                f"{rule.label}: {group.name!r} is a grade group; a score cannot depend on grades",
                at,
            )
    for position, grade in enumerate(definition.grades, start=1):
        holder = session.scalar(
            select(TargetGroup).where(TargetGroup.name_key == name_key(grade.group_name))
        )
        if holder is not None and holder.kind != "scoring":
            raise InvalidModel(
                f"grade {grade.name!r}: its group name {grade.group_name!r} is taken by a "
                f"{holder.kind} group; rename that group first",
                Place("grade", position, "grade"),
            )
    return definition


def set_model(session: Session, raw: Any, *, now: datetime) -> Definition:
    """Validate a model against the target groups and make it the active one (a new version)."""
    definition = check_model(session, raw)
    version = (session.scalar(select(func.max(ScoringModel.version))) or 0) + 1
    stored = ScoringModel(
        version=version,
        rules=[rule.as_json() for rule in definition.rules],
        grades=[grade.as_json() for grade in definition.grades],
        updated_at=now,
    )
    session.add(stored)
    session.flush()
    return _definition(stored)


def activity_types_pulled(session: Session) -> list[str]:
    """The community activity types pulled so far, which activity rules may count."""
    types = CommunityActivityDay.activity_type
    return list(session.scalars(select(distinct(types)).order_by(types)))


def groups_to_score(session: Session) -> list[str]:
    """The target groups a group rule may name: every group but the grades' own."""
    names = select(TargetGroup.name).where(TargetGroup.kind != "scoring")
    return list(session.scalars(names.order_by(TargetGroup.name_key)))


def active_model(session: Session) -> Definition | None:
    """The active model (the newest version), or None when none was ever set."""
    stored = session.scalar(select(ScoringModel).order_by(ScoringModel.version.desc()).limit(1))
    return None if stored is None else _definition(stored)


def _definition(stored: ScoringModel) -> Definition:
    parsed = parse_definition({"rules": stored.rules, "grades": stored.grades})
    return Definition(parsed.rules, parsed.grades, stored.version, stored.updated_at)
