"""Scores recomputed in SQL from the active model: one statement for every subscriber's points.

Each rule is one grouped query giving (subscriber, events, points); a score is the sum over the
rules (0 for a subscriber no rule reaches), its grade the first threshold it reaches. The
scores table is rewritten in one INSERT ... SELECT and the grade groups get the difference.
`explain` runs the same rule queries for one subscriber, so it always adds up to the score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    case,
    delete,
    distinct,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from kith.clock import start_of_day
from kith.db import Database, refresh_statistics
from kith.errors import InvalidInput, KithError
from kith.marketing.groups.compound import members_condition
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import Delivery, DeliveryEvent, Subscriber
from kith.marketing.scoring.grades import GradeChange, keep_grade_groups
from kith.marketing.scoring.model import Definition, Rule, active_model, first_day, set_model
from kith.marketing.scoring.models import CommunityActivityDay, SubscriberScore
from kith.marketing.subscribers import find_subscriber

log = logging.getLogger(__name__)
# The PostgreSQL advisory lock recomputes take turns on (any number unique to kith will do).
RECOMPUTE_LOCK = 7_110_611


@dataclass(frozen=True)
class Recomputed:
    """What a recompute did: the model version, how many subscribers it scored, per grade how
    many now hold it (None: below every grade) and how each grade group changed."""

    version: int
    computed_at: datetime
    scored: int
    grades: dict[str | None, int]
    changes: dict[str, GradeChange] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "computed_at": self.computed_at.isoformat(),
            "scored": self.scored,
            "grades": [
                {"grade": grade, "subscribers": count} for grade, count in self.grades.items()
            ],
            "groups": {
                grade: {"group": change.group, "added": change.added, "removed": change.removed}
                for grade, change in self.changes.items()
            },
        }


@dataclass(frozen=True)
class RulePoints:
    rule: str
    kind: str
    events: int
    points: int


@dataclass(frozen=True)
class Explanation:
    """A subscriber's points by rule at `now`, their total and grade, and what is stored."""

    email: str
    remote_id: str | None
    lines: list[RulePoints]
    score: int
    grade: str | None
    stored_score: int | None
    stored_grade: str | None
    computed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "remote_id": self.remote_id,
            "rules": [line.__dict__ for line in self.lines],
            "score": self.score,
            "grade": self.grade,
            "stored": {
                "score": self.stored_score,
                "grade": self.stored_grade,
                "computed_at": self.computed_at.isoformat() if self.computed_at else None,
            },
        }


def apply_model(session: Session, raw: Any, *, now: datetime) -> Recomputed:
    """Make `raw` the active model and score everyone with it at once."""
    set_model(session, raw, now=now)
    recomputed = recompute_scores(session, now=now)
    assert recomputed is not None  # a model was just set
    return recomputed


def recompute_scores(session: Session, *, now: datetime) -> Recomputed | None:
    """Score every subscriber with the active model and bring the grade groups up to date;
    None when no model was ever set. Safe to run twice; concurrent runs take turns."""
    definition = active_model(session)
    if definition is None:
        return None
    _take_turn(session)
    totals = score_totals(session, definition, now).subquery()
    grade = _grade_case(definition, totals.c.score)
    session.execute(delete(SubscriberScore))
    session.execute(
        insert(SubscriberScore).from_select(
            ["subscriber_id", "score", "grade", "model_version", "computed_at"],
            select(
                totals.c.subscriber_id,
                totals.c.score,
                grade,
                literal(definition.version),
                literal(now, SubscriberScore.computed_at.type),
            ),
        )
    )
    refresh_statistics(session, SubscriberScore.__tablename__)  # for the grade groups' diff
    changes = keep_grade_groups(session, definition.grades, now=now)
    counts = dict(
        session.execute(select(SubscriberScore.grade, func.count()).group_by(SubscriberScore.grade))
        .tuples()
        .all()
    )
    grades: dict[str | None, int] = {g.name: counts.get(g.name, 0) for g in definition.grades}
    grades[None] = counts.get(None, 0)
    return Recomputed(definition.version, now, sum(counts.values()), grades, changes)


def _take_turn(session: Session) -> None:
    """One recompute at a time: they rewrite the same rows. SQLite's writers already queue
    (BEGIN IMMEDIATE); PostgreSQL takes a lock held until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(RECOMPUTE_LOCK)))


def rescore(db: Database, *, now: datetime, after: str) -> Recomputed | None:
    """Recompute in a transaction of its own, after `after` (a sync, a pull) succeeded.

    A failure is logged, not raised: what came before it stands, and the next recompute
    (after the next sync, pull or tick) tries again.
    """
    try:
        with db.transaction() as session:
            return recompute_scores(session, now=now)
    except KithError as error:
        log.warning("scores were not recomputed after %s: %s", after, error)
    except Exception:
        log.exception("scores were not recomputed after %s", after)
    return None


def explain(session: Session, reference: str, *, now: datetime) -> Explanation:
    """One subscriber's points by rule at `now` (email or Remote ID), with the stored score."""
    definition = active_model(session)
    if definition is None:
        raise InvalidInput("no scoring model is set: kith scoring set --file model.json")
    subscriber = find_subscriber(session, reference)
    lines = []
    for rule in definition.rules:
        points = rule_points(session, rule, now=now).subquery()
        row = session.execute(
            select(points.c.events, points.c.points).where(points.c.subscriber_id == subscriber.id)
        ).first()
        events, given = (int(row[0]), int(row[1])) if row else (0, 0)
        lines.append(RulePoints(rule.name, rule.kind, events, given))
    score = sum(line.points for line in lines)
    stored = session.get(SubscriberScore, subscriber.id)
    return Explanation(
        email=subscriber.email,
        remote_id=subscriber.remote_id,
        lines=lines,
        score=score,
        grade=definition.grade_of(score),
        stored_score=stored.score if stored else None,
        stored_grade=stored.grade if stored else None,
        computed_at=stored.computed_at if stored else None,
    )


def scores_of(session: Session, subscriber_ids: list[int]) -> dict[int, tuple[int, str | None]]:
    """The stored (score, grade) of these subscribers, for personalization and reports."""
    if not subscriber_ids:
        return {}
    rows = session.execute(
        select(SubscriberScore.subscriber_id, SubscriberScore.score, SubscriberScore.grade).where(
            SubscriberScore.subscriber_id.in_(subscriber_ids)
        )
    ).tuples()
    return {subscriber_id: (score, grade) for subscriber_id, score, grade in rows}


def rule_points(
    session: Session, rule: Rule, *, now: datetime, only: int | None = None
) -> Select[Any]:
    """(subscriber_id, events, points) for every subscriber the rule gives points to (or only
    for the subscriber with the id `only`)."""
    counted = _events(session, rule, now, only).subquery()
    raw = counted.c.events * rule.points
    points: ColumnElement[int] = (
        raw if rule.cap is None else case((raw > rule.cap, rule.cap), else_=raw)
    )
    return select(
        counted.c.subscriber_id.label("subscriber_id"),
        counted.c.events.label("events"),
        points.label("points"),
    )


def _events(session: Session, rule: Rule, now: datetime, only: int | None) -> Select[Any]:
    """(subscriber_id, events): what the rule counts per subscriber, only where it is > 0."""
    if rule.kind == "group":
        query = _group_membership(session, rule)
    elif rule.kind == "field":
        query = _field_holders(rule)
    elif rule.kind == "mailing":
        query = _mailings(rule, now)
    else:
        query = _activity(rule, now)
    if only is not None:
        subscriber_id = query.selected_columns.subscriber_id
        query = query.where(subscriber_id == only)
    return query


def _group_membership(session: Session, rule: Rule) -> Select[Any]:
    try:
        group = get_group(session, str(rule.target))
    except KithError as error:
        raise InvalidInput(f"{rule.label}: {error}") from None
    return select(Subscriber.id.label("subscriber_id"), literal(1).label("events")).where(
        members_condition(session, group)
    )


def _field_holders(rule: Rule) -> Select[Any]:
    """Subscribers whose personalization field holds the rule's value (in any case)."""
    held = func.lower(Subscriber.fields[str(rule.target)].as_string())
    return select(Subscriber.id.label("subscriber_id"), literal(1).label("events")).where(
        held == (rule.value or "").lower()
    )


def _mailings(rule: Rule, now: datetime) -> Select[Any]:
    """Mailings opened (or clicked in), each counted once however often."""
    query = (
        select(
            Delivery.subscriber_id.label("subscriber_id"),
            func.count(distinct(DeliveryEvent.delivery_id)).label("events"),
        )
        .select_from(DeliveryEvent)
        .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
        .where(
            DeliveryEvent.kind == rule.target,
            Delivery.subscriber_id.is_not(None),
            DeliveryEvent.occurred_at <= now,
        )
        .group_by(Delivery.subscriber_id)
    )
    if rule.within_days is not None:
        since = start_of_day(first_day(now, rule.within_days))
        query = query.where(DeliveryEvent.occurred_at >= since)
    return query


def _activity(rule: Rule, now: datetime) -> Select[Any]:
    """Community events of the rule's types, from the pulled daily counts."""
    days = CommunityActivityDay
    query = (
        select(Subscriber.id.label("subscriber_id"), func.sum(days.count).label("events"))
        .select_from(days)
        .join(Subscriber, Subscriber.remote_id == days.remote_id)
        .where(days.day <= now.date())
        .group_by(Subscriber.id)
    )
    if rule.target != "any":
        query = query.where(days.activity_type.in_(list(rule.target)))
    if rule.within_days is not None:
        query = query.where(days.day >= first_day(now, rule.within_days))
    return query


def score_totals(session: Session, definition: Definition, now: datetime) -> Select[Any]:
    """(subscriber_id, score) for every subscriber: the rules' points summed, 0 if none."""
    given = union_all(
        *(rule_points(session, rule, now=now) for rule in definition.rules)
    ).subquery()
    score = func.coalesce(func.sum(given.c.points), 0).cast(Integer)
    return (
        select(Subscriber.id.label("subscriber_id"), score.label("score"))
        .outerjoin(given, given.c.subscriber_id == Subscriber.id)
        .group_by(Subscriber.id)
    )


def _grade_case(definition: Definition, score: ColumnElement[Any]) -> ColumnElement[Any]:
    return case(
        *((score >= grade.min_score, literal(grade.name)) for grade in definition.grades),
        else_=null(),
    )
