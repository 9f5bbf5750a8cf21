"""The reads behind the community pages: members by what users type, a member's activity
timeline, and the communities with their sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kith.community.models import ActivityEvent, ActivityType, Community, Member, Membership
from kith.errors import NotFound
from kith.web.paging import Page, page_of

TIMELINE_LENGTH = 100


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    activity: str
    community: str | None


@dataclass(frozen=True)
class CommunitySize:
    name: str
    members: int
    created_at: datetime


def search_members(session: Session, text: str, *, page: int = 1) -> Page[Member]:
    """Members whose name, email, company or keys contain `text` (any case), by last name."""
    query = select(Member)
    words = text.strip().lower()
    if words:
        name = func.coalesce(Member.first_name, "") + " " + func.coalesce(Member.last_name, "")
        columns = (
            name,
            Member.email,
            Member.company,
            Member.contact_key,
            Member.legacy_contact_key,
        )
        query = query.where(
            or_(*(func.lower(column).contains(words, autoescape=True) for column in columns))
        )
    order = (func.lower(Member.last_name), func.lower(Member.first_name), Member.id)
    return page_of(session, query, *order, number=page)


def member_by_id(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member has the id {member_id}")
    return member


def timeline(
    session: Session, member: Member, *, now: datetime, limit: int = TIMELINE_LENGTH
) -> list[TimelineEntry]:
    """The member's latest activity up to `now`, newest first."""
    rows = session.execute(
        select(ActivityEvent.occurred_at, ActivityType.name, Community.name)
        .join(ActivityType, ActivityType.id == ActivityEvent.type_id)
        .outerjoin(Community, Community.id == ActivityEvent.community_id)
        .where(ActivityEvent.member_id == member.id, ActivityEvent.occurred_at <= now)
        .order_by(ActivityEvent.occurred_at.desc(), ActivityEvent.id.desc())
        .limit(limit)
    ).tuples()
    return [TimelineEntry(when, activity, community) for when, activity, community in rows]


def memberships_of(session: Session, member: Member) -> list[tuple[str, str | None]]:
    """The member's communities by name, with their role there."""
    rows = session.execute(
        select(Community.name, Membership.role)
        .join(Membership, Membership.community_id == Community.id)
        .where(Membership.member_id == member.id)
        .order_by(func.lower(Community.name))
    ).tuples()
    return list(rows)


def communities(session: Session) -> list[CommunitySize]:
    """Every community with its number of members, by name."""
    sizes = (
        select(Membership.community_id, func.count().label("members"))
        .group_by(Membership.community_id)
        .subquery()
    )
    rows = session.execute(
        select(Community.name, func.coalesce(sizes.c.members, 0), Community.created_at)
        .outerjoin(sizes, sizes.c.community_id == Community.id)
        .order_by(func.lower(Community.name))
    ).tuples()
    return [CommunitySize(name, members, created_at) for name, members, created_at in rows]
