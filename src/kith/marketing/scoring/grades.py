"""Grade groups: a target group per grade in the folder "Scoring", holding that grade's
subscribers, so mailings, compound groups and campaigns can target a grade like any group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from kith.errors import Conflict
from kith.marketing.groups.folders import ensure_folder
from kith.marketing.groups.members import replace_members
from kith.marketing.groups.target_groups import create_group, name_key
from kith.marketing.models import TargetGroup
from kith.marketing.scoring.model import Grade
from kith.marketing.scoring.models import SubscriberScore

SCORING_FOLDER = "Scoring"


@dataclass(frozen=True)
class GradeChange:
    group: str
    added: int
    removed: int


def keep_grade_groups(
    session: Session, grades: Sequence[Grade], *, now: datetime
) -> dict[str, GradeChange]:
    """Give each grade's group exactly the subscribers with that grade (creating the groups in
    "Scoring" on first use); the groups of grades the model no longer has are emptied."""
    changes: dict[str, GradeChange] = {}
    kept: set[int] = set()
    for grade in grades:
        group = grade_group(session, grade, now=now)
        kept.add(group.id)
        holders = select(SubscriberScore.subscriber_id).where(SubscriberScore.grade == grade.name)
        added, removed = replace_members(session, group.id, holders, now=now)
        changes[grade.name] = GradeChange(group.name, added, removed)
    former = session.scalars(
        select(TargetGroup).where(TargetGroup.kind == "scoring", TargetGroup.id.not_in(kept))
    )
    nobody = select(SubscriberScore.subscriber_id).where(false())
    for group in former:
        replace_members(session, group.id, nobody, now=now)
    return changes


def grade_group_ids(session: Session) -> dict[str, int]:
    """The grades' groups: their ids by name."""
    named = select(TargetGroup.name, TargetGroup.id).where(TargetGroup.kind == "scoring")
    return dict(session.execute(named).tuples().all())


def grade_group(session: Session, grade: Grade, *, now: datetime) -> TargetGroup:
    """The grade's group, created in the Scoring folder when missing."""
    group = session.scalar(
        select(TargetGroup).where(TargetGroup.name_key == name_key(grade.group_name))
    )
    if group is None:
        ensure_folder(session, SCORING_FOLDER, now=now)
        return create_group(
            session, grade.group_name, now=now, folder=SCORING_FOLDER, kind="scoring"
        )
    if group.kind != "scoring":
        raise Conflict(
            f"grade {grade.name!r}: the group {group.name!r} is a {group.kind} group, not the "
            "grade's; rename it so the grade can have its group"
        )
    return group
