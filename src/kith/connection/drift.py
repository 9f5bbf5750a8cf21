"""The drift check: a full sync, the reference, of each live group not read in full for
KITH_DRIFT_CHECK_HOURS, recording the drift of its live membership (it should be none).

A live group changes only by deltas (kith.connection.live). Once it has not been read in full
for the period, the check brings it up to its list's latest changes (the community brought up
to date first, as the full read will), then syncs it in full (trigger `drift`, through the one
entry point, kith.connection.runs): the members that full read added or removed are the drift,
recorded on the run (kith.connection.sync) and repaired by it. When the list changed between
the two, the run's figures mix the drift with those changes, so the drift is left unmeasured
(None) until the next check. A check that fails (the community down ...) is tried again an
hour later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from kith.config import Settings
from kith.connection.live import live_groups, sync_live_groups
from kith.connection.runs import SyncRuns
from kith.connection.sync import DRIFT_CHECK
from kith.db import Database
from kith.errors import KithError
from kith.marketing.integration import get_integration
from kith.marketing.models import SyncRun, TargetGroup

log = logging.getLogger(__name__)
# how often a worker looks for live groups whose drift check is due
DRIFT_PASS_SECONDS = 60.0
# a check that did not complete (the community down ...) is tried again after this long
RETRY_AFTER = timedelta(hours=1)


def check_drift(db: Database, settings: Settings, *, now: datetime) -> list[SyncRun]:
    """Check every live group whose check is due; the drift checks' runs."""
    checked = []
    for group_id in _due(db, settings, now=now):
        if group_id not in _due(db, settings, now=now, only=group_id):
            continue  # another worker checked it meanwhile
        try:
            checked.append(check_group(db, settings, group_id, now=now))
        except KithError as error:  # its source removed, the connection inactive ...
            log.warning("drift check of group %s: %s", group_id, error)
    return checked


def check_group(db: Database, settings: Settings, group_id: int, *, now: datetime) -> SyncRun:
    """Bring a live group up to its list's changes, then sync it in full recording the drift."""
    try:
        sync_live_groups(db, settings, now=now, only=[group_id], fresh=True)
    except KithError as error:  # the full sync records it, if it lasts; the drift then waits
        log.info(
            "drift check of group %s: its latest changes were not applied: %s", group_id, error
        )
    run = SyncRuns(db, settings).here(group_id, trigger=DRIFT_CHECK, now=now)
    if run.trigger == DRIFT_CHECK and run.status == "completed" and run.drift is None:
        log.info("drift check of group %s (run %s): its list changed meanwhile", group_id, run.id)
    if run.drift:
        log.warning(
            "drift check of group %s (run %s): the live membership had drifted, the full read "
            "added %s and removed %s members (now repaired)",
            group_id,
            run.id,
            run.added,
            run.removed,
        )
    return run


def _due(db: Database, settings: Settings, *, now: datetime, only: int | None = None) -> list[int]:
    """The live groups no completed sync has read in full since the period began, and no drift
    check was asked for lately."""
    read_in_full = exists().where(
        SyncRun.group_id == TargetGroup.id,
        SyncRun.status == "completed",
        SyncRun.mode == "full",
        SyncRun.finished_at > now - settings.drift_check_every,
    )
    tried = exists().where(
        SyncRun.group_id == TargetGroup.id,
        SyncRun.trigger == DRIFT_CHECK,
        SyncRun.requested_at > now - RETRY_AFTER,
    )
    query = select(TargetGroup.id).where(TargetGroup.id.in_(live_groups()), ~read_in_full, ~tried)
    if only is not None:
        query = query.where(TargetGroup.id == only)
    with db.session() as session:
        integration = get_integration(session)
        if integration is None or not integration.active:
            return []
        return list(session.scalars(query.order_by(TargetGroup.id)))
