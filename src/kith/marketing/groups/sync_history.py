"""A community group's sync runs and the members its last completed sync left out, for reading."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput, NotFound
from kith.marketing.models import (
    SKIP_REASONS,
    CommunityListMember,
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


def run_json(run: SyncRun, group: str) -> dict[str, Any]:
    """A run as `--json` and the API show it: the issue's fields, then the drift a drift check
    found, when and why."""
    return {
        "group": group,
        "run": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "mode": run.mode,
        "in_list": run.in_list,
        "members": run.members,
        "added": run.added,
        "removed": run.removed,
        "unchanged": run.unchanged,
        "created": run.created,
        "linked": run.linked,
        "skipped": run.skipped or {reason: 0 for reason in SKIP_REASONS},
        "error": run.error,
        "drift": run.drift,
        "requested_at": run.requested_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


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
    query = left_out(session, run)
    if reason is not None:
        query = query.where(query.selected_columns.reason == check_reason(reason))
    if limit is not None:
        query = query.limit(limit)
    for row in session.execute(query.execution_options(yield_per=10_000)).mappings():
        yield {column: row[column] for column in REJECTION_COLUMNS}


def left_out(session: Session, run: SyncRun) -> Select[tuple[Any, ...]]:
    """Who `run` left out and why (REJECTION_COLUMNS), in the order it met them (`met`).

    A full sync records every member it leaves out (SyncSkip). A delta decides only the members
    that changed and records those of them it leaves out; the whole answer for the group's
    latest delta is its kept list, which holds every member's outcome as that run left it. (An
    older delta's answer is only the members it decided again.)
    """
    if run.mode == "delta" and run.id == _latest_completed_id(session, run.group_id):
        kept = CommunityListMember
        return (
            select(
                kept.contact_key,
                kept.legacy_contact_key,
                kept.email,
                kept.outcome.label("reason"),
                kept.position.label("met"),
            )
            .where(kept.group_id == run.group_id, kept.outcome != "member")
            .order_by(kept.position)
        )
    return (
        select(
            SyncSkip.contact_key,
            SyncSkip.legacy_contact_key,
            SyncSkip.email,
            SyncSkip.reason,
            SyncSkip.id.label("met"),
        )
        .where(SyncSkip.run_id == run.id)
        .order_by(SyncSkip.id)
    )


def _latest_completed_id(session: Session, group_id: int) -> int | None:
    return session.scalar(
        select(SyncRun.id)
        .where(SyncRun.group_id == group_id, SyncRun.status == "completed")
        .order_by(SyncRun.requested_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
