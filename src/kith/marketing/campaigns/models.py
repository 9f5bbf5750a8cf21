"""Tables of campaigns: their versions of steps, who is where in them, and the scheduler's marks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kith.db import BigId, UTCDateTime
from kith.marketing.models import Base

ACTIVATION_MODES = ("at_once", "over_time", "both")
# how the pages say who an activation group enrolls
ACTIVATION_WORDS = {
    "at_once": "everyone in it at activation",
    "over_time": "people as they enter it",
    "both": "everyone in it at activation, then people as they enter it",
}
CAMPAIGN_STATUSES = ("inactive", "active", "finished")
ENROLLMENT_STATUSES = ("active", "done")


class Campaign(Base):
    """A campaign: who it activates (a target group, at once and/or over time) and when.

    `version_id` is the version new enrollments follow. `started_at` is the first tick after
    activation, when everyone then in the activation group was enrolled (at_once) or set aside
    (over_time only: they were in the group before the campaign, they did not enter it).
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    activation_group_id: Mapped[int] = mapped_column(ForeignKey("target_groups.id"), index=True)
    activation_mode: Mapped[str] = mapped_column(String(10))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stops_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="inactive")
    version_id: Mapped[int | None] = mapped_column(Integer)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a started campaign put away (and stopped): hidden from Campaigns, its enrollments kept
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "activation_mode IN ('at_once', 'over_time', 'both')",
            name="ck_campaigns_activation_mode",
        ),
        CheckConstraint("status IN ('inactive', 'active', 'finished')", name="ck_campaigns_status"),
    )


class CampaignVersion(Base):
    """The steps of a campaign as they were from `created_at`: a flat map of step id -> step,
    each naming the step after it (or the yes and no steps of a Decide)."""

    __tablename__ = "campaign_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[str] = mapped_column(String(100))
    steps: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("campaign_id", "number"),)


class Enrollment(Base):
    """One address going through a campaign, once: the step it is at and when that step acts.

    `due_at` is None while the step is a Wait whose end has not been worked out yet.
    """

    __tablename__ = "campaign_enrollments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("campaign_versions.id"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    email_key: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(6), default="active")
    step: Mapped[str | None] = mapped_column(String(100))
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("campaign_id", "email_key"),
        Index("ix_campaign_enrollments_due", "status", "version_id", "step", "due_at"),
        CheckConstraint("status IN ('active', 'done')", name="ck_campaign_enrollments_status"),
    )


class StepOutcome(Base):
    """What one step did for one enrollment (`done`, `yes`, `no`, a delivery's status ...).

    A campaign's steps form a tree, so an enrollment passes a step at most once: the unique key
    is what keeps a rerun tick from counting or doing a step twice.
    """

    __tablename__ = "campaign_step_outcomes"

    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(100), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CampaignBaseline(Base):
    """Who was in an over-time-only campaign's activation group when it started: not entrants."""

    __tablename__ = "campaign_baselines"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )


class Notification(Base):
    """A Notify step's message to an admin about the people who reached it in one tick.

    Written in the transaction that moves those people on, sent afterwards: a tick killed in
    between sends it on the next run.
    """

    __tablename__ = "campaign_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(100))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class HourlySync(Base):
    """A community group's sync for one slot of the hourly schedule: due until it is here."""

    __tablename__ = "hourly_syncs"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("target_groups.id", ondelete="CASCADE"), primary_key=True
    )
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SchedulerLease(Base):
    """Who runs a tick now, and until when: one tick at a time across processes and machines."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
