"""A community group's sync runs and the members its last completed sync left out, for reading:
as rows for the CSV, and as people (name and email, and their subscriber if one has their key)
for the pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput, NotFound
from kith.marketing.groups.kept_list import KEPT_LIST, RECENT, kept_rows
from kith.marketing.models import (
    SKIP_REASONS,
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
        columns = ["contact_key", "legacy_contact_key", "email", "outcome", "position"]
        kept = kept_rows(run.group_id, columns, lambda kept: kept.c.outcome != "member").subquery()
        return select(
            kept.c.contact_key,
            kept.c.legacy_contact_key,
            kept.c.email,
            kept.c.outcome.label("reason"),
            kept.c.position.label("met"),
        ).order_by(kept.c.position)
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


def _listed(kept: Any, group_id: int, contact_key: Any) -> ColumnElement[bool]:
    return and_(kept.c.group_id == group_id, kept.c.contact_key == contact_key)


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
    query = left_out(session, run)
    if reason is not None:
        query = query.where(query.selected_columns.reason == check_reason(reason))
    met = query.order_by(None).subquery()
    base, recent = KEPT_LIST.alias("base"), RECENT.alias("recent")
    rows = session.execute(
        select(
            met.c.contact_key,
            met.c.legacy_contact_key,
            met.c.email,
            met.c.reason,
            *(  # the row a delta changed, else the full sync's
                case((recent.c.contact_key.is_not(None), recent.c[name]), else_=base.c[name])
                for name in ("first_name", "last_name")
            ),
            Subscriber.first_name,
            Subscriber.last_name,
            Subscriber.id,
        )
        .select_from(met)
        .outerjoin(base, _listed(base, run.group_id, met.c.contact_key))
        .outerjoin(recent, _listed(recent, run.group_id, met.c.contact_key))
        .outerjoin(Subscriber, Subscriber.remote_id == met.c.legacy_contact_key)
        .order_by(met.c.met)
        .limit(limit)
    ).tuples()
    return [
        RejectedPerson(
            contact_key,
            legacy_key,
            email,
            why,
            _name(first, last) or _name(subscriber_first, subscriber_last),
            subscriber_id,
        )
        for (
            contact_key,
            legacy_key,
            email,
            why,
            first,
            last,
            subscriber_first,
            subscriber_last,
            subscriber_id,
        ) in rows
    ]


def _name(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part)
