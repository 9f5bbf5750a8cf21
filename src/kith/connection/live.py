"""Live groups: every community group synced once in full follows its list's change log and
its subscribers' changes, unless it was switched to manual (kith.marketing.groups.live).

A worker's live pass (every KITH_LIVE_SYNC_SECONDS while Integration Settings are Active) syncs
by a delta (trigger `live`, through the one entry point, kith.connection.runs) the groups whose
list changed, asking the community for the changes after each group's cursor, and the groups a
member of which matches a subscriber whose status or Remote ID changed since the group's last
sync (kith.marketing.subscriber_changes): an unsubscribe, a bounce, an import. An idle group
records no runs. The community keeps its lists current on its own (its pass every
KITH_LIST_PASS_SECONDS), so what a member does reaches the group within the two intervals, and
what a subscriber does within one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, select

from kith.config import Settings
from kith.connection.client import ChangesGone, client_for
from kith.connection.list_mirror import subscribers_changed_for
from kith.connection.runs import SyncRuns
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing.integration import get_integration
from kith.marketing.models import SyncRun, TargetGroup


def live_groups() -> Select[tuple[int]]:
    """The ids of the groups the live pass follows: community groups synced once in full,
    not switched to manual, whose list is still in the community."""
    return select(TargetGroup.id).where(
        TargetGroup.kind == "community",
        TargetGroup.live.is_(True),
        TargetGroup.list_cursor.is_not(None),
        TargetGroup.source_removed_at.is_(None),
    )


def sync_live_groups(
    db: Database,
    settings: Settings,
    *,
    now: datetime,
    only: Collection[int] | None = None,
    fresh: bool = False,
) -> list[SyncRun]:
    """One live pass: a delta sync of each live group (of `only`, when given) whose list
    changed since the community's last pass (with `fresh`, since a pass it makes first), or
    whose subscribers changed; the runs."""
    with db.session() as session:
        integration = get_integration(session)
        if integration is None or not integration.active:
            return []
        followed = live_groups()
        if only is not None:
            followed = followed.where(TargetGroup.id.in_(only))
        live = session.execute(
            select(
                TargetGroup.id,
                TargetGroup.list_key,
                TargetGroup.list_cursor,
                TargetGroup.subscriber_changes_seen,
            )
            .where(TargetGroup.id.in_(followed))
            .order_by(TargetGroup.id)
        ).all()
        changed = [
            group_id
            for group_id, _, _, seen in live
            if seen is not None and subscribers_changed_for(session, group_id, seen)
        ]
        client = client_for(session, SecretBox.from_settings(settings))
    with client:
        for group_id, list_key, cursor, _ in live:
            if group_id in changed:
                continue
            try:
                page = client.list_changes(list_key, cursor, details=False, limit=1, fresh=fresh)
            except ChangesGone:  # the delta falls back to a full read
                changed.append(group_id)
                continue
            if page.changes:
                changed.append(group_id)
    runs = SyncRuns(db, settings)
    return [
        runs.here(group_id, trigger="live", now=now, delta=True) for group_id in sorted(changed)
    ]
