"""Activity types: the built-in ones, and more registered by name before their events arrive."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.community.models import ActivityType
from kith.errors import Conflict, InvalidInput

_NAME = re.compile(r"[a-z0-9_]{1,100}")

# What each built-in type means, in the words a community manager searches by ("post" finds
# both ways of posting); a type registered later is described by its name alone.
_DESCRIPTIONS = {
    "login": "signed in to the community (log in, visit)",
    "thread_started": "started a discussion thread (post, new topic, question)",
    "discussion_reply": "replied in a discussion (post, answer, comment)",
    "library_entry": "added a library entry (file, document, upload, resource)",
    "event_registration": "registered for an event (sign up, RSVP, meeting)",
    "event_attended": "attended an event (meeting, conference, webinar)",
    "badge_awarded": "was awarded a badge (achievement, recognition)",
    "profile_completed": "completed their profile (bio, photo)",
}


def describe_activity_type(name: str) -> str:
    """An activity type in plain words: what a member did, with the words people use for it."""
    return _DESCRIPTIONS.get(name, name.replace("_", " "))


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
