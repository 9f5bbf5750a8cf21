"""What a draft scoring model would give now, before it is saved: how many subscribers each
grade would hold and the scores' distribution as a few bars of equal width."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.marketing.scoring.compute import score_totals
from kith.marketing.scoring.model import Grade, check_model

BARS = 10


@dataclass(frozen=True)
class Bar:
    """Subscribers whose score is from `low` to `high`, both included."""

    low: int
    high: int
    subscribers: int


@dataclass(frozen=True)
class Preview:
    scored: int
    grades: list[tuple[Grade, int]]
    ungraded: int
    bars: list[Bar]

    def as_json(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "grades": [
                {
                    "grade": grade.name,
                    "min_score": grade.min_score,
                    "group": grade.group_name,
                    "subscribers": count,
                }
                for grade, count in self.grades
            ],
            "ungraded": self.ungraded,
            "bars": [bar.__dict__ for bar in self.bars],
        }


def preview_model(session: Session, raw: Any, *, now: datetime) -> Preview:
    """Score every subscriber with the draft `raw` at `now` without saving it or the scores;
    InvalidModel as saving would refuse it."""
    definition = check_model(session, raw)
    totals = score_totals(session, definition, now).subquery()
    by_score = dict(
        session.execute(select(totals.c.score, func.count()).group_by(totals.c.score))
        .tuples()
        .all()
    )
    graded = {grade.name: 0 for grade in definition.grades}
    for score, count in by_score.items():
        name = definition.grade_of(score)
        if name is not None:
            graded[name] += count
    scored = sum(by_score.values())
    return Preview(
        scored=scored,
        grades=[(grade, graded[grade.name]) for grade in definition.grades],
        ungraded=scored - sum(graded.values()),
        bars=_bars(by_score),
    )


def _bars(by_score: dict[int, int]) -> list[Bar]:
    """At most BARS bars of one width from 0 to the highest score (one bar when all are 0)."""
    highest = max(by_score, default=0)
    width = -(-(highest + 1) // BARS)
    counts = [0] * -(-(highest + 1) // width)
    for score, count in by_score.items():
        counts[score // width] += count
    return [Bar(n * width, n * width + width - 1, count) for n, count in enumerate(counts)]
