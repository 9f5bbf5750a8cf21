"""Community target groups as the connection keeps them: one per community list, by list key.

They live in the folder "Online Community", created on first use. A group keeps its id (so its
members and sync history) when its list is renamed; a list that disappears leaves its group in
place, marked `source removed` and no longer synced.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.db import Database
from kith.marketing.groups.folders import ensure_folder
from kith.marketing.groups.target_groups import check_name, name_key
from kith.marketing.models import SyncRun, TargetGroup
from kith.marketing.scoring.compute import rescore
from kith.marketing.scoring.model import active_model

ONLINE_COMMUNITY = "Online Community"


def community_groups(session: Session) -> dict[str, TargetGroup]:
    """Every community group by the key of its list."""
    groups = session.scalars(select(TargetGroup).where(TargetGroup.kind == "community"))
    return {group.list_key: group for group in groups if group.list_key}


def free_name(session: Session, wanted: str, *, keep: TargetGroup | None = None) -> str:
    """`wanted`, or `wanted (2)`, `(3)` ... : the first name no other group has (any case)."""
    wanted = check_name(wanted)
    taken = {
        key
        for key, group_id in session.execute(select(TargetGroup.name_key, TargetGroup.id))
        if keep is None or group_id != keep.id
    }
    name, number = wanted, 1
    while name_key(name) in taken:
        number += 1
        suffix = f" ({number})"
        name = wanted[: 200 - len(suffix)] + suffix
    return name


def add_community_group(
    session: Session, name: str, *, list_key: str, now: datetime
) -> TargetGroup:
    """A new, empty community group for a list, in the Online Community folder."""
    folder = ensure_folder(session, ONLINE_COMMUNITY, now=now)
    group = TargetGroup(
        name=name,
        name_key=name_key(name),
        folder_id=folder.id,
        kind="community",
        list_key=list_key,
        created_at=now,
    )
    session.add(group)
    session.flush()
    return group


def rename_group(session: Session, group: TargetGroup, name: str) -> None:
    group.name, group.name_key = name, name_key(name)
    session.flush()


def mark_source_removed(group: TargetGroup, *, now: datetime) -> None:
    group.source_removed_at = now


def restore_source(group: TargetGroup) -> None:
    group.source_removed_at = None


def community_group_synced(db: Database, run: SyncRun, *, now: datetime) -> None:
    """What follows a completed sync on the marketing side: grades follow the new membership,
    when scores can follow the sync: a group rule (the group, or a compound group of it) and
    members added or removed, or the platform edition, which stores profiles and creates
    subscribers. Otherwise the scores stand: a rescore reads every subscriber, and a live group
    syncs every few seconds under load (the tick's hourly rescore moves the windows on)."""
    with db.session() as session:
        model = active_model(session)
    if model is None:
        return
    by_groups = any(rule.kind == "group" for rule in model.rules)
    if run.edition == "platform" or (by_groups and (run.added or run.removed)):
        rescore(db, now=now, after=f"sync run {run.id}")
