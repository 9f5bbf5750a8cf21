"""Which campaigns work from a community group whose last sync failed or was held: through
their activation group or the groups their Decide steps ask about, nested in compounds or not.

A marketer looks at the campaign, not at the group, so the campaign says it: enrolling nobody
when the group was never synced, working from its members as last synced otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.marketing.campaigns.definition import versions_in_use
from kith.marketing.campaigns.models import Campaign, CampaignVersion
from kith.marketing.campaigns.steps import step_groups
from kith.marketing.groups.compound import community_groups_in
from kith.marketing.groups.target_groups import NOT_SYNCED, groups_not_synced
from kith.marketing.models import SyncRun, TargetGroup


@dataclass(frozen=True)
class NotSynced:
    """A community group a campaign uses, as an activation or a Decide group, left unsynced."""

    group: TargetGroup
    use: str  # "activation group" or "Decide group"
    failed_at: datetime | None  # when its last sync stopped

    @property
    def enrolls_nobody(self) -> bool:
        """Never synced, so the campaign finds nobody in it."""
        return self.group.last_synced_at is None


def campaigns_not_synced(
    session: Session, campaigns: Sequence[Campaign]
) -> dict[int, list[NotSynced]]:
    """By campaign id, the unsynced community groups each of `campaigns` works from."""
    failing = {group.id: group for group in groups_not_synced(session)}
    if not failing:
        return {}
    failed_at = _last_failures(session, list(failing))
    found: dict[int, list[NotSynced]] = {}
    for campaign in campaigns:
        for use, groups in _groups_used(session, campaign).items():
            found.setdefault(campaign.id, []).extend(
                NotSynced(failing[ref.id], use, failed_at.get(ref.id))
                for ref in community_groups_in(session, groups)
                if ref.id in failing
            )
    return {campaign_id: rows for campaign_id, rows in found.items() if rows}


def _groups_used(session: Session, campaign: Campaign) -> dict[str, list[TargetGroup]]:
    """The campaign's activation group, and the groups the Decide steps of its versions still
    read or run ask about."""
    activation = session.get(TargetGroup, campaign.activation_group_id)
    assert activation is not None  # a foreign key
    versions = session.scalars(
        select(CampaignVersion.steps).where(
            CampaignVersion.campaign_id == campaign.id,
            versions_in_use(select(Campaign.id).where(Campaign.id == campaign.id)),
        )
    )
    decide_ids = {group_id for steps in versions for group_id in step_groups(steps)}
    decide = list(session.scalars(select(TargetGroup).where(TargetGroup.id.in_(decide_ids))))
    return {"activation group": [activation], "Decide group": decide}


def _last_failures(session: Session, group_ids: list[int]) -> dict[int, datetime | None]:
    """When each group's last sync that failed or was held stopped."""
    rows = session.execute(
        select(SyncRun.group_id, func.max(SyncRun.finished_at))
        .where(SyncRun.group_id.in_(group_ids), SyncRun.status.in_(NOT_SYNCED))
        .group_by(SyncRun.group_id)
    ).tuples()
    return dict(rows.all())
