"""Moving people through campaigns: enrolling them, and running every step whose time has come.

Work is done a step at a time for everyone due at it, in set-based statements: a Decide is two
UPDATEs (yes, then no), a Profile step one INSERT or DELETE. Each step's outcome is recorded
under a unique key (enrollment, step) in the same transaction that moves its people on, so a
tick killed midway and run again neither repeats a step nor skips one. A Mailing step is the
one that leaves the database: its messages are deliveries of the mailing (one per address, the
mailing ledger's promise), written first, sent, and only then are their people moved on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    func,
    literal,
    not_,
    null,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from kith.csvimport.bulk import dialect_insert
from kith.db import Database, UTCDateTime, affected
from kith.marketing.campaigns.definition import current_version
from kith.marketing.campaigns.models import (
    Campaign,
    CampaignBaseline,
    CampaignVersion,
    Enrollment,
    Notification,
    StepOutcome,
)
from kith.marketing.campaigns.steps import step_mailings, wait_end
from kith.marketing.groups.compound import members_condition
from kith.marketing.groups.target_groups import members_query
from kith.marketing.models import (
    Delivery,
    DeliveryEvent,
    GroupMember,
    Mailing,
    Subscriber,
    TargetGroup,
)

# Runs the send of a campaign mailing's pending deliveries (MailingSender in production).
Deliver = Callable[[int], None]
NOTIFY_NAMES = 50  # addresses listed in a Notify message; the rest are counted
SETTLED = ("sent", "failed", "deferred", "skipped")
ENGAGED = {"opened": ("open", "click"), "clicked": ("click",)}


@dataclass
class Progress:
    """What one run did to a campaign: enrolled, and outcomes per step."""

    enrolled: int = 0
    steps: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, step: str, outcome: str, people: int) -> None:
        if people:
            outcomes = self.steps.setdefault(step, {})
            outcomes[outcome] = outcomes.get(outcome, 0) + people


def enroll(session: Session, campaign: Campaign, *, now: datetime) -> int:
    """Enroll whoever is due: at the first run everyone in the activation group (at_once), and
    at every run whoever entered it since (over_time). Returns how many were enrolled."""
    group = session.get(TargetGroup, campaign.activation_group_id)
    assert group is not None  # a foreign key
    version = current_version(session, campaign)
    candidates = (
        select(func.min(Subscriber.id).label("subscriber_id"), Subscriber.email_key)
        .where(Subscriber.id.in_(members_query(session, group)), Subscriber.status == "subscribed")
        .group_by(Subscriber.email_key)
        .subquery()
    )
    first_run = campaign.started_at is None
    if first_run:
        campaign.started_at = now
        if campaign.activation_mode == "over_time":
            session.execute(
                dialect_insert(session, CampaignBaseline)
                .from_select(
                    ["campaign_id", "subscriber_id"],
                    # a WHERE of its own: SQLite would read ON CONFLICT as a join's ON
                    select(literal(campaign.id), Subscriber.id).where(
                        members_condition(session, group)
                    ),
                )
                .on_conflict_do_nothing()
            )
            return 0
    elif campaign.activation_mode == "at_once":
        return 0
    due = (
        null()
        if version.steps[version.first_step]["kind"] == "wait"
        else literal(now, UTCDateTime())
    )
    entrants = select(
        literal(campaign.id),
        literal(version.id),
        candidates.c.subscriber_id,
        candidates.c.email_key,
        literal("active"),
        literal(version.first_step),
        literal(now, UTCDateTime()),
        due,
        literal(now, UTCDateTime()),
    ).where(
        ~exists().where(
            Enrollment.campaign_id == campaign.id, Enrollment.email_key == candidates.c.email_key
        ),
        ~exists().where(
            CampaignBaseline.campaign_id == campaign.id,
            CampaignBaseline.subscriber_id == candidates.c.subscriber_id,
        ),
    )
    enrolled = session.scalars(
        dialect_insert(session, Enrollment)
        .from_select(
            [
                "campaign_id",
                "version_id",
                "subscriber_id",
                "email_key",
                "status",
                "step",
                "reached_at",
                "due_at",
                "enrolled_at",
            ],
            entrants,
        )
        .on_conflict_do_nothing()
        .returning(Enrollment.id)  # a rowcount the ORM gives on both backends
    )
    return len(enrolled.all())


class StepRunner:
    """Runs a campaign's due steps until none is due, a step at a time for everyone at it."""

    def __init__(self, db: Database, campaign_id: int, *, deliver: Deliver, now: datetime) -> None:
        self.db = db
        self.campaign_id = campaign_id
        self.deliver = deliver
        self.now = now
        self.progress = Progress()

    def run(self) -> Progress:
        stuck: set[tuple[int, str]] = set()  # steps that could not move anyone on this run
        while True:
            with self.db.transaction() as session:
                self._schedule_waits(session)
                due = self._due_steps(session)
            due = [key for key in due if key not in stuck]
            if not due:
                return self.progress
            for version_id, step_id in due:
                if not self._run_step(version_id, step_id):
                    stuck.add((version_id, step_id))

    def _due_steps(self, session: Session) -> list[tuple[int, str]]:
        rows = session.execute(
            select(Enrollment.version_id, Enrollment.step)
            .where(
                Enrollment.campaign_id == self.campaign_id,
                Enrollment.status == "active",
                Enrollment.due_at <= self.now,
            )
            .distinct()
            .order_by(Enrollment.version_id, Enrollment.step)
        ).tuples()
        return [(version_id, step) for version_id, step in rows if step is not None]

    def _schedule_waits(self, session: Session) -> None:
        """Work out when the Waits people have just reached end (one UPDATE per distinct
        moment they reached it: a tick's arrivals share it)."""
        waiting = session.execute(
            select(Enrollment.version_id, Enrollment.step, Enrollment.reached_at)
            .where(
                Enrollment.campaign_id == self.campaign_id,
                Enrollment.status == "active",
                Enrollment.due_at.is_(None),
            )
            .distinct()
        ).tuples()
        versions: dict[int, CampaignVersion] = {}
        for version_id, step_id, reached_at in waiting.all():
            version = versions.get(version_id) or session.get(CampaignVersion, version_id)
            assert version is not None and step_id is not None
            versions[version_id] = version
            session.execute(
                update(Enrollment)
                .where(
                    Enrollment.version_id == version_id,
                    Enrollment.step == step_id,
                    Enrollment.reached_at == reached_at,
                    Enrollment.due_at.is_(None),
                )
                .values(due_at=wait_end(version.steps[step_id], reached_at))
            )

    def _run_step(self, version_id: int, step_id: str) -> bool:
        """Run one step for everyone due at it; whether anyone moved on."""
        with self.db.session() as session:
            version = session.get(CampaignVersion, version_id)
            assert version is not None
            steps = version.steps
        step = steps[step_id]
        at_step = and_(
            Enrollment.version_id == version_id,
            Enrollment.step == step_id,
            Enrollment.status == "active",
            Enrollment.due_at <= self.now,
        )
        if step["kind"] == "mailing":
            return self._mailing(steps, step_id, at_step)
        with self.db.transaction() as session:
            if step["kind"] == "decide":
                condition = self._decision(session, step)
                moved = self._move(
                    session, steps, step_id, and_(at_step, condition), "yes", step["yes"]
                )
                moved += self._move(session, steps, step_id, at_step, "no", step["no"])
                return moved > 0
            if step["kind"] == "profile":
                self._change_profile(session, step, at_step)
            elif step["kind"] == "notify":
                self._write_notification(session, step_id, step, at_step)
            return self._move(session, steps, step_id, at_step, "done", step.get("next")) > 0

    def _move(
        self,
        session: Session,
        steps: dict[str, Any],
        step_id: str,
        who: ColumnElement[bool],
        outcome: str | ColumnElement[str],
        to: str | None,
    ) -> int:
        """Record `outcome` of `step_id` for `who` and move them to `to` (None: the end)."""
        session.execute(
            dialect_insert(session, StepOutcome)
            .from_select(
                ["enrollment_id", "step", "outcome", "at"],
                select(
                    Enrollment.id,
                    literal(step_id),
                    literal(outcome) if isinstance(outcome, str) else outcome,
                    Enrollment.due_at,
                ).where(who),
            )
            .on_conflict_do_nothing()
        )
        if to is None:
            values: dict[str, Any] = {
                "status": "done",
                "step": None,
                "finished_at": Enrollment.due_at,
            }
        else:
            arrives = Enrollment.due_at if steps[to]["kind"] != "wait" else null()
            values = {"step": to, "reached_at": Enrollment.due_at, "due_at": arrives}
        moved = affected(
            session.execute(
                update(Enrollment)
                .where(who)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        if isinstance(outcome, str):
            self.progress.count(step_id, outcome, moved)
        return moved

    def _decision(self, session: Session, step: dict[str, Any]) -> ColumnElement[bool]:
        if "member_of" in step:
            group = session.get(TargetGroup, step["member_of"])
            assert group is not None
            return Enrollment.subscriber_id.in_(members_query(session, group))
        ((asked, which),) = ((key, step[key]) for key in ENGAGED if key in step)
        if which == "any":
            with_versions = session.scalars(
                select(CampaignVersion.steps).where(CampaignVersion.campaign_id == self.campaign_id)
            )
            mailing_ids = sorted({m for steps in with_versions for m in step_mailings(steps)})
        else:
            mailing_ids = [which]
        return exists().where(
            DeliveryEvent.delivery_id == Delivery.id,
            Delivery.mailing_id.in_(mailing_ids),
            Delivery.email_key == Enrollment.email_key,
            DeliveryEvent.kind.in_(ENGAGED[asked]),
        )

    def _change_profile(
        self, session: Session, step: dict[str, Any], who: ColumnElement[bool]
    ) -> None:
        subscribers = select(Enrollment.subscriber_id).where(
            who, Enrollment.subscriber_id.is_not(None)
        )
        if "add_to" in step:
            session.execute(
                dialect_insert(session, GroupMember)
                .from_select(
                    ["group_id", "subscriber_id", "added_at"],
                    select(
                        literal(step["add_to"]),
                        Enrollment.subscriber_id,
                        literal(self.now, UTCDateTime()),
                    ).where(who, Enrollment.subscriber_id.is_not(None)),
                )
                .on_conflict_do_nothing()
            )
        else:
            session.execute(
                delete(GroupMember).where(
                    GroupMember.group_id == step["remove_from"],
                    GroupMember.subscriber_id.in_(subscribers),
                )
            )

    def _write_notification(
        self, session: Session, step_id: str, step: dict[str, Any], who: ColumnElement[bool]
    ) -> None:
        campaign = session.get(Campaign, self.campaign_id)
        assert campaign is not None
        reached = session.scalar(select(func.count()).where(who)) or 0
        if not reached:
            return
        addresses = session.scalars(
            select(Subscriber.email)
            .join(Enrollment, Enrollment.subscriber_id == Subscriber.id)
            .where(who)
            .order_by(Subscriber.email_key)
            .limit(NOTIFY_NAMES)
        ).all()
        more = reached - len(addresses)
        body = "\n".join(
            [
                f"{reached} {'person' if reached == 1 else 'people'} reached step {step_id} "
                f"of the campaign {campaign.name!r}:",
                "",
                *addresses,
                *([f"... and {more} more"] if more > 0 else []),
            ]
        )
        session.add(
            Notification(
                campaign_id=self.campaign_id,
                step=step_id,
                to_address=step["notify"],
                subject=step["subject"],
                body=body,
                created_at=self.now,
            )
        )

    def _mailing(self, steps: dict[str, Any], step_id: str, at_step: ColumnElement[bool]) -> bool:
        """Write a delivery of the mailing for everyone at the step who is subscribed, send
        them, then move on everyone whose delivery is settled (or who had none)."""
        mailing_id = steps[step_id]["mailing_id"]
        to_send = (
            select(
                literal(mailing_id),
                Subscriber.id,
                Subscriber.email,
                Subscriber.email_key,
                literal("pending"),
                literal(0),
            )
            .select_from(Subscriber)
            .join(Enrollment, Enrollment.subscriber_id == Subscriber.id)
            .where(at_step, Subscriber.status == "subscribed")
        )
        with self.db.transaction() as session:
            session.execute(
                dialect_insert(session, Delivery)
                .from_select(
                    ["mailing_id", "subscriber_id", "email", "email_key", "status", "attempts"],
                    to_send,
                )
                .on_conflict_do_nothing()
            )
            pending = session.scalar(
                select(func.count()).where(
                    Delivery.mailing_id == mailing_id, Delivery.status.in_(("pending", "sending"))
                )
            )
            if pending:
                mailing = session.get(Mailing, mailing_id)
                assert mailing is not None
                mailing.status, mailing.status_reason, mailing.finished_at = "sending", None, None
                mailing.prepared_at = mailing.prepared_at or self.now
                mailing.send_requested_at = self.now
        if pending:
            self.deliver(mailing_id)
        delivery = (
            select(Delivery.status)
            .where(Delivery.mailing_id == mailing_id, Delivery.email_key == Enrollment.email_key)
            .scalar_subquery()
        )
        unsent = aliased(Delivery)
        unsettled = exists().where(
            unsent.mailing_id == mailing_id,
            unsent.email_key == Enrollment.email_key,
            unsent.status.in_(("pending", "sending")),
        )
        with self.db.transaction() as session:
            ready = and_(at_step, not_(unsettled))
            status = func.coalesce(Delivery.status, "skipped")
            rows = session.execute(
                select(status, func.count())
                .select_from(Enrollment)
                .outerjoin(
                    Delivery,
                    and_(
                        Delivery.mailing_id == mailing_id,
                        Delivery.email_key == Enrollment.email_key,
                    ),
                )
                .where(ready)
                .group_by(status)
            )
            outcomes = {outcome: people for outcome, people in rows}
            moved = self._move(
                session,
                steps,
                step_id,
                ready,
                func.coalesce(delivery, "skipped"),
                steps[step_id].get("next"),
            )
        for outcome, people in outcomes.items():
            self.progress.count(step_id, outcome, people)
        return moved > 0
