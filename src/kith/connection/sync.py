"""Sync Target Group: a community list's members reconciled, one by one, into its group.

The list is read over the community API as one stream and staged in a temporary table of the
marketing database; every member then gets exactly one outcome, decided in this order (the
first two in Python as the rows are staged, the others in set-based SQL):

1. `missing_contact_key`: no legacy contact key;
2. `malformed_email`: the email fails email-validator's syntax check;
3. `duplicate_email`: another member still in the running has the same email (trimmed, any
   case); of those, the one whose legacy key matches a Remote ID (or, when none does, any)
   with the smallest legacy key goes on;
4. no subscriber has the legacy key as Remote ID: `no_matching_subscriber` in the
   online-community edition; the platform edition links the subscriber without a Remote ID who
   has the email (`linked`) or creates one (`created`), and the member goes on — unless the
   person was erased here (kith.connection.erased): `erased`, listed last in SKIP_REASONS;
5. `unsubscribed` / `bounced`: the subscriber's status;
6. `member`: in the group.

So in_list = members + sum(skipped). The group's membership becomes exactly the members, as a
set difference applied in one transaction: a failure anywhere leaves the previous membership.

A delta sync reads only the changes after the group's cursor and stages only the members whose
outcome may have changed (kith.connection.list_mirror says which), decides them the same way and
applies the membership for them alone: its outcomes, and its run's counts, are a full sync's.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kith.connection.client import (
    ChangesGone,
    CommunityClient,
    ConnectionFailed,
    active_integration,
    client_for,
    read_deadline,
)
from kith.connection.erased import mark_erased
from kith.connection.incoming import (
    INCOMING_TABLES,
    PLATFORM_STAGED,
    STAGED,
    ChangedMember,
    Incoming,
    KeptBefore,
    SharedEmail,
    StagedRows,
)
from kith.connection.list_mirror import (
    Staged,
    apply_changes,
    members_before,
    next_position,
    note_shared_emails,
    outcomes_before,
    stage_affected,
    store_mirror,
)
from kith.connection.run_lease import RunTakenOver, binds, heartbeat, holds, take_over
from kith.connection.staging import applying, staging_tables, write_rows
from kith.db import Database, affected
from kith.encryption import SecretBox
from kith.errors import Conflict, InvalidInput, NotFound
from kith.marketing.groups.community import community_group_synced
from kith.marketing.groups.members import replace_members, update_members
from kith.marketing.models import (
    SKIP_REASONS,
    GroupMember,
    Subscriber,
    SyncRun,
    SyncSkip,
    TargetGroup,
)
from kith.marketing.subscriber_changes import changes_seen, next_change
from kith.marketing.subscriber_import import SUBSCRIBER_WRITTEN
from kith.processes import this_thread

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)

SKIPS_KEPT = timedelta(days=90)
EMPTY_SOURCE = "source returned no members"
# The trigger of a drift check (kith.connection.drift): a full sync that records its drift
DRIFT_CHECK = "drift"


# The subscriber statuses that are outcomes of their own (step 5)
LAPSED = ("unsubscribed", "bounced")

# Indexes are built once the rows are in, which costs less than keeping them up to date row by
# row: the legacy keys' once staged (a key twice is the community's error), the subscribers'
# once decided (to find the group's members among the list's), when the group has any.
_KEYS_INDEX = f"CREATE UNIQUE INDEX {Incoming.name}_legacy_key ON {Incoming.name} (legacy_key)"
_SUBSCRIBERS_INDEX = f"CREATE INDEX {Incoming.name}_subscriber ON {Incoming.name} (subscriber_id)"
# Changes a delta reads at a time: None, the community's page (10,000)
CHANGES_PAGE: int | None = None
# Planner statistics, once staged and again once decided: nothing else gathers them for a
# temporary table, and without them PostgreSQL may find the group's leavers by reading the
# whole table for each member of the group (minutes at 100,000 members).
_ANALYZE = f"ANALYZE {Incoming.name}"
_ANALYZE_BEFORE = f"ANALYZE {KeptBefore.name}"  # a delta's, compared with the staged rows


@dataclass(frozen=True)
class SyncRequested:
    """The run a request started, or the one already running for that group (`existing`)."""

    run: SyncRun
    existing: bool
    group_name: str


def request_sync(
    db: Database,
    group_id: int,
    *,
    trigger: str,
    now: datetime,
    allow_empty: bool = False,
    delta: bool = False,
) -> SyncRequested:
    """Start a sync run for a community group, or return the one running for it; with `delta`,
    the run applies the changes after the group's cursor when it has one (else reads in full).

    One run per group is `in progress` at a time (a unique index says so); a run whose process
    died, or whose lease ran out, is marked failed and replaced (kith.connection.run_lease), so
    that a crash cannot block a group.
    """
    for _attempt in range(3):
        try:
            with db.transaction() as session:
                return _request(session, group_id, trigger, now, allow_empty, delta)
        except IntegrityError:
            continue  # another request started one at the same moment: return that one
    raise Conflict(f"could not start a sync of group {group_id}; try again")


def _request(
    session: Session, group_id: int, trigger: str, now: datetime, allow_empty: bool, delta: bool
) -> SyncRequested:
    group = session.get(TargetGroup, group_id)
    if group is None:
        raise NotFound(f"no target group has the id {group_id}")
    integration = active_integration(session)
    if group.kind != "community" or group.list_key is None:
        raise InvalidInput(
            f"{group.name!r} is a {group.kind} group; only community groups are synced"
        )
    if group.source_removed_at is not None:
        raise InvalidInput(
            f"the list behind {group.name!r} was removed from the community; the group is kept "
            "as it was and no longer synced"
        )
    running = session.scalar(
        select(SyncRun)
        .where(SyncRun.group_id == group.id, SyncRun.status == "in progress")
        .with_for_update()
    )
    if running is not None:
        if binds(running, now=now):
            return SyncRequested(running, existing=True, group_name=group.name)
        _finish(session, running, group, "failed", take_over(running), now=now)
        session.flush()
    run = SyncRun(
        group_id=group.id,
        trigger=trigger,
        mode="delta" if delta else "full",
        status="in progress",
        list_key=group.list_key,
        edition=integration.edition,
        allow_empty=allow_empty,
        requested_at=now,
        heartbeat_at=now,
    )
    session.add(run)
    group.sync_status, group.sync_error = "in progress", None
    session.flush()
    return SyncRequested(run, existing=False, group_name=group.name)


def abandon(db: Database, run_id: int, *, now: datetime) -> bool:
    """Record a run failed if it is still in progress and no longer binds its group (its
    process died, its lease ran out); whether it was. Its group is then free for another."""
    with db.transaction() as session:
        run = session.scalar(
            select(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "in progress")
            .with_for_update()
        )
        if run is None or binds(run, now=now):
            return False
        group = session.get_one(TargetGroup, run.group_id)
        _finish(session, run, group, "failed", take_over(run), now=now)
    return True


def execute_sync(
    db: Database,
    run_id: int,
    *,
    box: SecretBox,
    clock: Clock,
    empty_guard: int,
    read_deadline: float | None = None,
) -> SyncRun:
    """Carry out a requested run; safe to call twice (only the first call claims the run).

    Any failure is recorded on the run and its group, and the membership stays as it was. The
    run is leased to this thread, its heartbeat renewed until it ends. `read_deadline` bounds the
    reading of the community (kith.connection.client.read_deadline), None leaves it unbounded.
    """
    now, holder = clock(), this_thread()
    with db.transaction() as session:
        claimed = affected(
            session.execute(
                update(SyncRun)
                .where(
                    SyncRun.id == run_id,
                    SyncRun.status == "in progress",
                    SyncRun.started_at.is_(None),
                )
                .values(started_at=now, heartbeat_at=now, holder=holder)
            )
        )
        run = session.get_one(SyncRun, run_id)
    if not claimed:
        return run
    try:
        with heartbeat(db, run_id, holder, clock):
            client = _client(db, box, run, read_deadline)
            reconciliation = _Reconciliation(
                db, run, holder, clock=clock, empty_guard=empty_guard, box=box
            )
            run = reconciliation.run(client)
    except Exception as error:  # every failure is the run's outcome, recorded for the user
        if isinstance(error, RunTakenOver):
            log.warning("sync run %s: %s", run_id, error)
        elif not isinstance(error, ConnectionFailed | InvalidInput):
            log.exception("sync run %s failed", run_id)
        with db.transaction() as session:
            ours = holds(session.connection(), run_id, holder)  # else its taker recorded why
            run = session.get_one(SyncRun, run_id)
            if ours:
                group = session.get_one(TargetGroup, run.group_id)
                _finish(session, run, group, "failed", _describe(error), now=clock())
    if run.status == "completed":
        community_group_synced(db, run, now=clock())
    return run


def _client(
    db: Database, box: SecretBox, run: SyncRun, base_deadline: float | None
) -> CommunityClient:
    """The community's client, its reading bounded by the base deadline plus an allowance for
    the list's size when it is known: the last completed run's count."""
    with db.session() as session:
        deadline = None
        if base_deadline is not None:
            known = session.scalar(
                select(SyncRun.in_list)
                .where(SyncRun.group_id == run.group_id, SyncRun.status == "completed")
                .order_by(SyncRun.finished_at.desc())
                .limit(1)
            )
            deadline = read_deadline(base_deadline, known)
        return client_for(session, box, deadline=deadline)


def _describe(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, ConnectionFailed | InvalidInput):
        return text
    return f"{type(error).__name__}: {text}"


def _finish(
    session: Session,
    run: SyncRun,
    group: TargetGroup,
    status: str,
    error: str | None,
    *,
    now: datetime,
) -> None:
    run.status, run.error, run.finished_at = status, error, now
    group.sync_status, group.sync_error = status, error
    if status == "completed":
        group.last_synced_at = now


class _Reconciliation:
    """One run's work: stage the list's members, decide outcomes, apply, record."""

    def __init__(
        self,
        db: Database,
        run: SyncRun,
        holder: str,
        *,
        clock: Clock,
        empty_guard: int,
        box: SecretBox,
    ) -> None:
        self.db, self.box = db, box
        self.run_id, self.holder = run.id, holder
        self.list_key, self.group_id = run.list_key, run.group_id
        self.platform, self.allow_empty = run.edition == "platform", run.allow_empty
        self.trigger = run.trigger
        self.clock = clock
        self.empty_guard = empty_guard

    def run(self, client: CommunityClient) -> SyncRun:
        """Stage, decide and apply; the run as it finished. Its work commits only while this
        process still holds the run (RunTakenOver otherwise)."""
        self.delta_from = self._delta_from()
        # a delta touches a few pages here and there (and, after a 410, reads the list in full
        # through the same small cache: slower, in bounded memory)
        small = self.delta_from is not None
        with staging_tables(self.db, INCOMING_TABLES, small=small) as connection:
            with connection.begin(), client:
                staged = self._stage(connection, client)
            with applying(connection) as session:
                run = self._apply(session, staged)
                if not holds(connection, self.run_id, self.holder):
                    raise RunTakenOver(
                        f"sync run {self.run_id} was taken over; its work is dropped"
                    )
                return run

    def _delta_from(self) -> int | None:
        """The cursor a delta reads on from: the group's, when the run asks for a delta and the
        group's list was kept by a sync of this edition; None reads the list in full."""
        with self.db.session() as session:
            run = session.get_one(SyncRun, self.run_id)
            group = session.get_one(TargetGroup, self.group_id)
            cursor = group.list_cursor
            if run.mode != "delta" or cursor is None or group.subscriber_changes_seen is None:
                return None
            kept_by = session.scalar(
                select(SyncRun.edition)
                .where(SyncRun.group_id == self.group_id, SyncRun.status == "completed")
                .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
                .limit(1)
            )
        return cursor if kept_by == run.edition else None

    def _stage(self, connection: Connection, client: CommunityClient) -> Staged:
        """Stage the list: the group's list as last synced with the changes after its cursor
        applied, for a delta that can follow; otherwise (or once the community answers that it
        no longer keeps those changes) every member the list's stream brings."""
        if self.delta_from is not None:
            try:
                return self._stage_changes(connection, client, self.delta_from)
            except ChangesGone as gone:
                log.info("sync run %s reads the list in full: %s", self.run_id, gone)
                connection.execute(delete(Incoming))
                connection.execute(delete(ChangedMember))
        members = client.stream_members(self.list_key, details=self.platform)
        staging = StagedRows(members, self.platform)
        self._stage_rows(connection, staging.rows())
        self._index_keys(connection)
        if staging.shared_emails:
            connection.execute(
                insert(SharedEmail), [{"email_key": email} for email in staging.shared_emails]
            )
        connection.exec_driver_sql(_ANALYZE)
        return Staged(staging.count, members.cursor, delta=False)

    def _stage_changes(
        self, connection: Connection, client: CommunityClient, cursor: int
    ) -> Staged:
        """The delta's staging: each page of changes after `cursor` applied in order, the
        members joining staged; ChangesGone when they are no longer all kept. The members to
        decide with them are staged once the marketing database is locked (_stage_again)."""
        position = next_position(connection, self.group_id)
        while True:
            page = client.list_changes(
                self.list_key,
                cursor,
                details=self.platform,
                limit=CHANGES_PAGE,
                fresh=self.trigger != "live",
            )
            added = apply_changes(
                connection, page.changes, position=position, platform=self.platform
            )
            self._stage_rows(connection, added)
            position, cursor = position + len(added), page.cursor
            if not (page.more and page.changes):
                break
        return Staged(None, cursor, delta=True)

    def _stage_rows(self, connection: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
        write_rows(connection, Incoming, PLATFORM_STAGED if self.platform else STAGED, rows)

    def _index_keys(self, connection: Connection) -> None:
        try:
            connection.exec_driver_sql(_KEYS_INDEX)
        except IntegrityError:
            raise ConnectionFailed(
                "unexpected", "the community returned one legacy contact key for two members"
            ) from None

    def _apply(self, session: Session, staged: Staged) -> SyncRun:
        # First, the subscribers' changes this run sees: the platform edition numbers the
        # subscribers it links or creates, and takes the number at once (holding the counter
        # until it commits) so that its own are seen; else any change it misses comes after.
        change = next_change(session) if self.platform else None
        seen = change if change is not None else changes_seen(session)
        now = self.clock()
        run = session.get_one(SyncRun, self.run_id)
        group = session.get_one(TargetGroup, self.group_id)
        before = self._stage_again(session, group) if staged.delta else None
        in_list = before.in_list if before is not None else staged.in_list or 0
        # a delta counts the group's members only when the list is empty (its staging is small)
        held = self._held(session) if before is None or in_list == 0 else 0
        if in_list == 0 and not self.allow_empty and held > self.empty_guard:
            run.in_list = 0
            _finish(session, run, group, "held", EMPTY_SOURCE, now=now)
            return run
        created, linked = _decide(session, change=change, now=now, box=self.box)
        if self.platform:
            _store_profiles(session)
        if held or staged.delta:  # a delta's leavers are looked up among the staged rows
            session.connection().exec_driver_sql(_SUBSCRIBERS_INDEX)
        session.connection().exec_driver_sql(_ANALYZE)
        members_now = select(Incoming.c.subscriber_id).where(Incoming.c.outcome == "member")
        if before is None:
            added, removed = replace_members(session, self.group_id, members_now, now=now)
        else:
            leaving = members_before()
            added, removed = update_members(session, self.group_id, members_now, leaving, now=now)
        live_cursor = group.list_cursor  # where the membership stands, before this run moves it
        if run.trigger == DRIFT_CHECK and live_cursor is not None and staged.cursor == live_cursor:
            run.drift = added + removed
        _record_skips(session, run, now=now)
        skipped = self._skipped(session, run) if before is None else before.skipped_now(session)
        members = in_list - sum(skipped.values())
        run.in_list, run.members = in_list, members
        run.added, run.removed, run.unchanged = added, removed, members - added
        run.created, run.linked = created, linked
        run.skipped = {reason: skipped.get(reason, 0) for reason in SKIP_REASONS}
        run.mode = "delta" if staged.delta else "full"
        store_mirror(session, group, staged, seen)
        _finish(session, run, group, "completed", None, now=now)
        return run

    def _stage_again(self, session: Session, group: TargetGroup) -> _Before:
        """A delta's members to decide again, staged from the kept list beside the changed
        ones (kith.connection.list_mirror), and how they stood before."""
        stage_affected(session, self.group_id, group.subscriber_changes_seen or 0)
        self._index_keys(session.connection())
        note_shared_emails(session)
        session.connection().exec_driver_sql(_ANALYZE)
        previous = session.scalar(
            select(SyncRun)
            .where(SyncRun.group_id == self.group_id, SyncRun.status == "completed")
            .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
        if previous is None or previous.in_list is None:  # the kept list came with a run
            raise InvalidInput(f"the list kept for group {self.group_id} has no completed run")
        outcomes = outcomes_before(session)
        staged = session.scalar(select(func.count()).select_from(Incoming)) or 0
        return _Before(
            in_list=previous.in_list - sum(outcomes.values()) + staged,
            skipped=Counter(previous.skipped or {}),
            outcomes=outcomes,
        )

    def _held(self, session: Session) -> int:
        held = select(func.count()).where(GroupMember.group_id == self.group_id)
        return session.scalar(held) or 0

    def _skipped(self, session: Session, run: SyncRun) -> dict[str, int]:
        """A full sync's members left out, reason by reason: every member not in the group was
        recorded as skipped."""
        return dict(
            session.execute(
                select(SyncSkip.reason, func.count())
                .where(SyncSkip.run_id == run.id)
                .group_by(SyncSkip.reason)
            )
            .tuples()
            .all()
        )


@dataclass(frozen=True)
class _Before:
    """A delta's list before it: the members in it now (the previous run's less those decided
    again, plus those staged), the previous run's members left out, and the outcomes the
    members decided again had."""

    in_list: int
    skipped: Counter[str]
    outcomes: Counter[str]

    def skipped_now(self, session: Session) -> dict[str, int]:
        """The members left out once the delta decided: the previous run's, less the members
        decided again as they were, plus them as they are."""
        decided = Counter(
            dict(
                session.execute(
                    select(Incoming.c.outcome, func.count()).group_by(Incoming.c.outcome)
                )
                .tuples()
                .all()
            )
        )
        return {
            reason: self.skipped[reason] - self.outcomes[reason] + decided[reason]
            for reason in SKIP_REASONS
        }


def _decide(
    session: Session, *, change: int | None, now: datetime, box: SecretBox
) -> tuple[int, int]:
    """Give every staged member its outcome; returns (subscribers created, linked).

    Steps 1 and 2 were decided while staging. Step 3 ranks only the members whose email was
    seen twice; then one statement settles (steps 5 and 6) every member whose legacy key is a
    Remote ID. The rest have no subscriber (step 4): online-community, that is their outcome;
    platform (which numbers its `change` to subscribers), subscribers are linked or created
    for them, and they are settled in turn.
    """
    incoming = Incoming.c
    ranked = (
        select(
            incoming.position,
            func.row_number()
            .over(
                partition_by=incoming.email_key,
                order_by=(Subscriber.id.is_(None), incoming.legacy_key),
            )
            .label("place"),
        )
        .select_from(Incoming.outerjoin(Subscriber, Subscriber.remote_id == incoming.legacy_key))
        .where(incoming.outcome.is_(None), incoming.email_key.in_(select(SharedEmail.c.email_key)))
        .subquery()
    )
    _mark(
        session,
        "duplicate_email",
        incoming.position.in_(select(ranked.c.position).where(ranked.c.place > 1)),
    )
    _settle_matched(session)
    if change is None:
        _mark(session, "no_matching_subscriber")
        return 0, 0
    mark_erased(session, box)
    linked, created = _link_and_create(session, change, now=now)
    return created, linked


def _mark(session: Session, outcome: str, *conditions: Any) -> None:
    """Give the undecided members that meet `conditions` this outcome."""
    session.execute(
        update(Incoming).where(Incoming.c.outcome.is_(None), *conditions).values(outcome=outcome)
    )


def _settle_matched(session: Session) -> None:
    """Steps 5 and 6 for each undecided member whose legacy key is a subscriber's Remote ID:
    the subscriber's status if it lapsed, else member."""
    incoming = Incoming.c
    session.execute(
        update(Incoming)
        .where(incoming.outcome.is_(None), Subscriber.remote_id == incoming.legacy_key)
        .values(
            subscriber_id=Subscriber.id,
            outcome=case(
                (Subscriber.status.in_(LAPSED), Subscriber.status), else_=literal("member")
            ),
        )
    )


def _link_and_create(session: Session, change: int, *, now: datetime) -> tuple[int, int]:
    """The platform edition's Create records: link by email, else create; (linked, created).

    Every member still undecided has no subscriber; each is settled once it has one.
    """
    incoming = Incoming.c
    unmatched = incoming.outcome.is_(None)
    linked = affected(
        session.execute(
            update(Subscriber)
            .where(
                Subscriber.remote_id.is_(None),
                Subscriber.email_key == incoming.normal_key,
                unmatched,
            )
            .values(remote_id=incoming.legacy_key, updated_at=now, change_seq=change)
        )
    )
    _settle_matched(session)
    created = affected(
        session.execute(
            insert(Subscriber).from_select(
                SUBSCRIBER_WRITTEN,
                select(
                    incoming.normal_email,
                    incoming.normal_key,
                    incoming.legacy_key,
                    incoming.first_name,
                    incoming.last_name,
                    literal("subscribed"),
                    literal({}, JSON),
                    literal("connection"),
                    literal(now, Subscriber.created_at.type),
                    literal(now, Subscriber.updated_at.type),
                    literal(change, Subscriber.change_seq.type),
                ).where(unmatched),
            )
        )
    )
    _settle_matched(session)
    return linked, created


def _store_profiles(session: Session) -> None:
    incoming = Incoming.c
    session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == incoming.subscriber_id,
            incoming.outcome.in_(("member", "unsubscribed", "bounced")),
        )
        .values(community=incoming.profile)
    )


def _record_skips(session: Session, run: SyncRun, *, now: datetime) -> None:
    """Keep who was left out and why (for 90 days), for `groups rejections` and diagnosis."""
    session.execute(delete(SyncSkip).where(SyncSkip.recorded_at < now - SKIPS_KEPT))
    incoming = Incoming.c
    session.execute(
        insert(SyncSkip).from_select(
            [
                "run_id",
                "group_id",
                "contact_key",
                "legacy_contact_key",
                "email",
                "reason",
                "recorded_at",
            ],
            select(
                literal(run.id),
                literal(run.group_id),
                _unless_erased(incoming.contact_key),
                _unless_erased(incoming.legacy_key),
                _unless_erased(incoming.email),
                incoming.outcome,
                literal(now, SyncSkip.recorded_at.type),
            )
            .where(incoming.outcome != "member")
            .order_by(incoming.position),
        )
    )


def _unless_erased(column: Any) -> Any:
    """The staged value, or NULL for a member erased here: their skip names nobody."""
    return case((Incoming.c.outcome == "erased", None), else_=column)
