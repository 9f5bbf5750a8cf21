"""Live or manual: whether a community group follows its list's changes, and what it last took in.

A community group is live by default: while Integration Settings are Active and a worker runs,
the connection's live pass (kith.connection.live) applies its list's changes within seconds and
a daily drift check reads it in full. Switched to manual, it changes only when a sync is asked
for (Sync Target Group Now, on send, hourly while a campaign uses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.db import Database
from kith.errors import InvalidInput
from kith.marketing.integration import get_integration
from kith.marketing.models import SyncRun, TargetGroup
from kith.marketing.workers import workers_alive

LIVE_TRIGGER = "live"


@dataclass(frozen=True)
class LiveState:
    """A community group's switch, why a live group is not following its list right now (None
    when it is), and the last change the live pass applied to it."""

    live: bool
    paused: str | None
    last_change: SyncRun | None

    @property
    def word(self) -> str:
        return "Live" if self.live else "Manual"

    def as_json(self) -> dict[str, Any]:
        change = self.last_change
        return {
            "live": self.live,
            "paused": self.paused,
            "last_change": None
            if change is None or change.finished_at is None
            else {
                "applied_at": change.finished_at.isoformat(),
                "added": change.added,
                "removed": change.removed,
            },
        }


def switch_live(session: Session, group: TargetGroup, live: bool) -> None:
    """Switch a community group to live or to manual."""
    _community(group).live = live
    session.flush()


def _community(group: TargetGroup) -> TargetGroup:
    if group.kind != "community":
        raise InvalidInput(
            f"{group.name!r} is a {group.kind} group; only community groups are live or manual"
        )
    return group


def live_state(db: Database, group: TargetGroup, *, now: datetime) -> LiveState:
    """The group's switch and last live change; a live group is paused while the connection is
    inactive, no worker runs, or it has not been synced in full once."""
    _community(group)
    with db.session() as session:
        integration = get_integration(session)
        last_change = session.scalar(
            select(SyncRun)
            .where(
                SyncRun.group_id == group.id,
                SyncRun.trigger == LIVE_TRIGGER,
                SyncRun.status == "completed",
            )
            .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
    active = integration is not None and integration.active
    paused = _paused(db, group, active=active, now=now) if group.live else None
    return LiveState(group.live, paused, last_change)


def _paused(db: Database, group: TargetGroup, *, active: bool, now: datetime) -> str | None:
    if group.source_removed_at is not None:
        return "its list was removed from the community"
    if not active:
        return "Integration Settings are not Active"
    if group.list_cursor is None:
        return "it follows its list once synced in full"
    if not workers_alive(db, now=now):
        return "no worker is running (kith serve or kith worker)"
    return None
