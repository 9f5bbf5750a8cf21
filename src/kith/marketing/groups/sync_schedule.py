"""When community groups are synced without anyone asking: hourly while a campaign uses them.

The groups are those active campaigns use: activation groups and the groups of the Decides of
every version someone is still in, compound groups opened up. Each is synced once per slot of
the schedule (minute `KITH_HOURLY_SYNC_MINUTE` of each hour, or every
`KITH_HOURLY_SYNC_INTERVAL_MINUTES` counted from it), through the connection's port, and the
slot is recorded so that a second tick in the same slot syncs nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.config import Settings
from kith.db import Database
from kith.errors import KithError
from kith.marketing.campaigns.definition import versions_in_use
from kith.marketing.campaigns.models import Campaign, CampaignVersion, HourlySync
from kith.marketing.campaigns.steps import step_groups
from kith.marketing.groups.compound import GroupRef, community_groups_in
from kith.marketing.models import TargetGroup
from kith.marketing.ports import ports


@dataclass(frozen=True)
class GroupSync:
    """How one group's scheduled sync ended: `completed`, `failed` or `held`, and why."""

    group: str
    status: str
    error: str | None


def hourly_slot(now: datetime, *, minute: int, interval: int) -> datetime:
    """The latest moment of the schedule at or before `now`: minute `minute` of the hour, or
    every `interval` minutes counted from it."""
    minutes = int(now.timestamp() // 60)
    return datetime.fromtimestamp((minutes - (minutes - minute) % interval) * 60, UTC)


def groups_in_campaigns(session: Session) -> list[GroupRef]:
    """The community groups active campaigns use: activation groups and the groups of the
    Decides of every version someone is still in, compound groups opened up."""
    active = select(Campaign.id).where(Campaign.status == "active")
    group_ids = set(
        session.scalars(select(Campaign.activation_group_id).where(Campaign.id.in_(active)))
    )
    versions = session.scalars(select(CampaignVersion.steps).where(versions_in_use(active)))
    for steps in versions:
        group_ids.update(step_groups(steps))
    groups = session.scalars(select(TargetGroup).where(TargetGroup.id.in_(group_ids))).all()
    return community_groups_in(session, groups)


def hourly_syncs(db: Database, settings: Settings, *, now: datetime) -> list[GroupSync]:
    """Sync the campaigns' community groups not yet synced in this slot of the schedule."""
    slot = hourly_slot(
        now, minute=settings.hourly_sync_minute, interval=settings.hourly_sync_interval_minutes
    )
    with db.session() as session:
        groups = groups_in_campaigns(session)
        done = set(session.scalars(select(HourlySync.group_id).where(HourlySync.slot_at == slot)))
    outcomes = []
    for group in sorted(set(groups), key=lambda group: group.name):
        if group.id in done:
            continue
        try:
            outcome = ports.syncer()(db, group.id, trigger="hourly", now=now)
            status, error = outcome.status, outcome.error
        except KithError as failure:  # the connection is not wired
            status, error = "failed", str(failure)
        with db.transaction() as session:
            if session.get(TargetGroup, group.id) is not None:
                session.merge(
                    HourlySync(
                        group_id=group.id, slot_at=slot, status=status, error=error, done_at=now
                    )
                )
        outcomes.append(GroupSync(group.name, status, error))
    return outcomes
