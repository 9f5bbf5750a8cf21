"""A community group's sync runs and the members its last completed sync left out, for reading:
as rows for the CSV, and as people (name and email, and their subscriber if one has their key)
for the pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput, NotFound
from kith.marketing.models import (
    SKIP_REASONS,
    CommunityListMember,
    Subscriber,
    SyncRun,
    SyncSkip,
    TargetGroup,
)

REJECTION_COLUMNS = ("contact_key", "legacy_contact_key", "email", "reason")


def sync_runs(session: Session, group: TargetGroup, *, limit: int = 20) -> list[SyncRun]:
    """The group's runs, newest first."""
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.group_id == group.id)
            .order_by(SyncRun.requested_at.desc(), SyncRun.id.desc())
            .limit(limit)
        )
    )


def get_run(session: Session, group: TargetGroup, run_id: int) -> SyncRun:
    run = session.get(SyncRun, run_id)
    if run is None or run.group_id != group.id:
        raise NotFound(f"{group.name!r} has no sync run {run_id}")
    return run


def last_completed_run(session: Session, group: TargetGroup) -> SyncRun | None:
    return session.scalar(
        select(SyncRun)
        .where(SyncRun.group_id == group.id, SyncRun.status == "completed")
        .order_by(SyncRun.requested_at.desc(), SyncRun.id.desc())
        .limit(1)
    )


def check_reason(reason: str) -> str:
    if reason not in SKIP_REASONS:
        raise InvalidInput(f"reason: {reason!r} is not one of {', '.join(SKIP_REASONS)}")
    return reason


def rejected_members(
    session: Session, run: SyncRun, *, reason: str | None = None, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """The members `run` left out (for one reason, if given), in the order it met them."""
    query = select(SyncSkip).where(SyncSkip.run_id == run.id).order_by(SyncSkip.id)
    if reason is not None:
        query = query.where(SyncSkip.reason == check_reason(reason))
    if limit is not None:
        query = query.limit(limit)
    for skip in session.scalars(query.execution_options(yield_per=10_000)):
        yield {column: getattr(skip, column) for column in REJECTION_COLUMNS}


@dataclass(frozen=True)
class RejectedPerson:
    """A member a sync left out, as a marketer reads them: who they are, not only their keys."""

    contact_key: str | None
    legacy_contact_key: str | None
    email: str | None
    reason: str
    name: str
    subscriber_id: int | None  # the subscriber whose Remote ID is their Legacy Contact Key

    def __str__(self) -> str:
        known = ", ".join(part for part in (self.name, self.email) if part)
        return f"{self.contact_key} ({known})" if known else str(self.contact_key)


def rejected_people(
    session: Session, run: SyncRun, *, reason: str | None = None, limit: int
) -> list[RejectedPerson]:
    """The first `limit` members `run` left out (for one reason, if given), named as the list had
    them (the platform edition's sync keeps names) or else as the subscriber their Legacy Contact
    Key names has it, with that subscriber."""
    listed = and_(
        CommunityListMember.group_id == SyncSkip.group_id,
        CommunityListMember.contact_key == SyncSkip.contact_key,
    )
    query = (
        select(SyncSkip, CommunityListMember.first_name, CommunityListMember.last_name)
        .add_columns(Subscriber.first_name, Subscriber.last_name, Subscriber.id)
        .outerjoin(CommunityListMember, listed)
        .outerjoin(Subscriber, Subscriber.remote_id == SyncSkip.legacy_contact_key)
        .where(SyncSkip.run_id == run.id)
        .order_by(SyncSkip.id)
        .limit(limit)
    )
    if reason is not None:
        query = query.where(SyncSkip.reason == check_reason(reason))
    return [
        RejectedPerson(
            skip.contact_key,
            skip.legacy_contact_key,
            skip.email,
            skip.reason,
            _name(first, last) or _name(subscriber_first, subscriber_last),
            subscriber_id,
        )
        for skip, first, last, subscriber_first, subscriber_last, subscriber_id in session.execute(
            query
        ).tuples()
    ]


def _name(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part)
