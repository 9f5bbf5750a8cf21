"""A small community built with the ORM, shared by the List Builder tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.models import (
    ActivityEvent,
    ActivityType,
    Community,
    CustomUserList,
    Member,
    Membership,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def add_member(session: Session, contact_key: str, **fields: Any) -> Member:
    fields.setdefault("email", f"{contact_key}@example.org")
    fields.setdefault("custom_fields", {})
    member = Member(contact_key=contact_key, **fields)
    session.add(member)
    session.flush()
    return member


def add_community(session: Session, name: str) -> Community:
    community = Community(name=name, created_at=NOW)
    session.add(community)
    session.flush()
    return community


def join(session: Session, member: Member, community: Community, role: str | None = None) -> None:
    session.add(Membership(member_id=member.id, community_id=community.id, role=role))
    session.flush()


def add_events(
    session: Session,
    member: Member,
    type_name: str,
    *occurred: datetime,
    community: Community | None = None,
) -> None:
    type_id = session.scalar(select(ActivityType.id).where(ActivityType.name == type_name))
    assert type_id is not None, type_name
    for when in occurred:
        session.add(
            ActivityEvent(
                member_id=member.id,
                type_id=type_id,
                occurred_at=when,
                community_id=community.id if community else None,
            )
        )
    session.flush()


def add_list_unchecked(session: Session, name: str, criteria: Any) -> CustomUserList:
    """A list saved as it is, past the checks of today's lists service: one saved before them."""
    saved = CustomUserList(
        list_key=f"cul_{name.lower().replace(' ', '_')}",
        name=name,
        criteria=criteria,
        created_by="admin",
        created_at=NOW,
        updated_by="admin",
        updated_at=NOW,
    )
    session.add(saved)
    session.flush()
    return saved
