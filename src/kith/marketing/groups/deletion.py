"""Deleting a target group, refused while a compound group, a mailing or a campaign uses it.

Refusing, with the names of the users, leaves none of them pointing at a group that is gone. A
campaign uses a group as its activation group, and in the Decide and Profile steps of every
version still read or run: its current one, and any version someone is still in.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.errors import Conflict
from kith.marketing.campaigns.definition import versions_in_use
from kith.marketing.campaigns.models import Campaign, CampaignVersion
from kith.marketing.campaigns.steps import steps_naming_group
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import CompoundPart, Mailing, MailingGroup, TargetGroup


def delete_group(session: Session, name: str) -> TargetGroup:
    """Delete a group and its memberships; Conflict naming whatever still uses it."""
    group = get_group(session, name)
    users = group_users(session, group)
    if users:
        raise Conflict(
            f"the group {group.name!r} is used by {'; '.join(users)}; remove it from there first"
        )
    session.delete(group)
    session.flush()
    return group


def group_users(session: Session, group: TargetGroup) -> list[str]:
    """What uses the group, in words: its compound groups, mailings and campaigns."""
    compounds = session.scalars(
        select(TargetGroup.name)
        .join(CompoundPart, CompoundPart.compound_id == TargetGroup.id)
        .where(CompoundPart.part_id == group.id)
        .order_by(TargetGroup.name_key)
    ).all()
    mailings = [
        f"{name!r} (id {mailing_id}, which {section}s it)"
        for mailing_id, name, section in session.execute(
            select(Mailing.id, Mailing.name, MailingGroup.section)
            .join(MailingGroup, MailingGroup.mailing_id == Mailing.id)
            .where(MailingGroup.group_id == group.id)
            .order_by(Mailing.id)
        ).tuples()
    ]
    campaigns = [f"{name!r} ({', '.join(uses)})" for name, uses in _campaign_uses(session, group)]
    return [
        *_named("compound group", [repr(name) for name in compounds]),
        *_named("mailing", mailings),
        *_named("campaign", campaigns),
    ]


def _campaign_uses(session: Session, group: TargetGroup) -> list[tuple[str, list[str]]]:
    """(campaign name, how it uses the group) for each campaign using it, by name."""
    uses: dict[str, list[str]] = {
        name: ["activation group"]
        for name in session.scalars(
            select(Campaign.name).where(Campaign.activation_group_id == group.id)
        )
    }
    versions = session.execute(
        select(Campaign.name, CampaignVersion.number, CampaignVersion.steps)
        .join(CampaignVersion, CampaignVersion.campaign_id == Campaign.id)
        .where(versions_in_use(select(Campaign.id)))
        .order_by(CampaignVersion.number)
    ).tuples()
    for name, number, steps in versions:
        uses.setdefault(name, []).extend(
            f"step {step_id!r} of version {number}"
            for step_id in steps_naming_group(steps, group.id)
        )
    return sorted((name, used) for name, used in uses.items() if used)


def _named(kind: str, names: Sequence[str]) -> list[str]:
    """["the campaigns 'A' (...), 'B' (...)"], or [] when there are none."""
    if not names:
        return []
    return [f"the {kind}{'s' if len(names) > 1 else ''} {', '.join(names)}"]
