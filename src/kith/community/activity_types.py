"""Activity types: the built-in ones, and more registered by name before their events arrive."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.community.models import ActivityType
from kith.errors import Conflict, InvalidInput

_NAME = re.compile(r"[a-z0-9_]{1,100}")


def add_activity_type(session: Session, name: str) -> ActivityType:
    """Register a new activity type; its name uses lowercase letters, digits and underscores."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid activity type name {name!r}: use 1 to 100 lowercase letters, "
            "digits and underscores"
        )
    if session.scalar(select(ActivityType.id).where(ActivityType.name == name)) is not None:
        raise Conflict(f"the activity type {name!r} already exists")
    # ids are small integers assigned here: SMALLINT keys are not autoincrement on every backend
    next_id = (session.scalar(select(func.max(ActivityType.id))) or 0) + 1
    activity_type = ActivityType(id=next_id, name=name, builtin=False)
    session.add(activity_type)
    session.flush()
    return activity_type


def list_activity_types(session: Session) -> list[ActivityType]:
    """Every activity type, the built-in ones first (in the order they were added)."""
    return list(session.scalars(select(ActivityType).order_by(ActivityType.id)))
