"""`kith tick`: everything due at one instant, run once.

In order: the hourly syncs of the community groups that active campaigns use (kith.marketing.
groups.sync_schedule), the daily pull of the community's activity, enrollments from the
activation groups, campaign steps whose time has come, scheduled sends whose time has come,
sends whose job was lost with its worker, an hourly recompute of scores, and the admin
notifications the steps wrote. `kith serve` and `kith worker` tick every minute; `kith tick
--now ISO` runs one by hand (tests drive days that way). A lease lets one tick run at a time
however many processes tick; everything a tick does is recorded so that a second tick for the
same instant finds nothing left to do, and a tick killed midway is finished by the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import func, select, update

from kith.config import Settings
from kith.db import Database
from kith.encryption import SecretBox
from kith.errors import KithError
from kith.marketing.bounces.verp import ReturnPath
from kith.marketing.campaigns.models import (
    Campaign,
    Enrollment,
    Notification,
    SchedulerLease,
)
from kith.marketing.campaigns.progress import Progress, StepRunner, enroll
from kith.marketing.groups.sync_schedule import GroupSync, hourly_syncs
from kith.marketing.integration import get_integration
from kith.marketing.mailings.definition import DEFAULT_FROM
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.schedule import start_due_sends
from kith.marketing.mailings.sending import MailingSender
from kith.marketing.mailings.smtp import mail_transport
from kith.marketing.mailings.transport import Transport
from kith.marketing.models import Mailing
from kith.marketing.ports import ports
from kith.marketing.scoring.compute import rescore
from kith.marketing.scoring.model import active_model
from kith.marketing.scoring.models import ActivityPull, SubscriberScore
from kith.processes import lease_held, this_thread

TICK_LEASE = timedelta(minutes=30)
# a send asked for this long ago and carried by nobody was lost with its job: the tick resumes it
RESUME_AFTER = timedelta(minutes=1)
PULL_EVERY = timedelta(days=1)
RESCORE_EVERY = timedelta(hours=1)
LEASE_NAME = "tick"

# Sends the pending deliveries of a campaign's mailing (a MailingSender run, in production).
Deliver = Callable[[int], None]


@dataclass
class TickReport:
    """What a tick did; `ran` is False when another tick held the lease."""

    now: datetime
    ran: bool = True
    syncs: list[GroupSync] = field(default_factory=list)
    campaigns: dict[str, Progress] = field(default_factory=dict)
    notifications: int = 0
    finished: list[str] = field(default_factory=list)
    scheduled: list[int] = field(default_factory=list)  # mailings sent as scheduled
    resumed: list[int] = field(default_factory=list)  # mailings whose lost send was resumed
    pulled: str | None = None  # the daily pull of community activity: "completed", or why not
    rescored: bool = False


def tick(
    db: Database, settings: Settings, *, now: datetime, transport: Transport, deliver: Deliver
) -> TickReport:
    report = TickReport(now=now)
    holder = this_thread()
    if not _take_lease(db, holder, now=now):
        report.ran = False
        return report
    try:
        report.syncs = hourly_syncs(db, settings, now=now)
        report.pulled = _daily_pull(db, now=now)
        with db.session() as session:
            running = session.execute(
                select(Campaign.id, Campaign.name)
                .where(Campaign.status == "active")
                .order_by(Campaign.id)
            ).all()
        for campaign_id, name in running:
            report.campaigns[name] = _advance(db, campaign_id, deliver, now)
        report.finished = _finish(db, now=now)
        report.scheduled = _send_scheduled(db, deliver, now=now)
        report.resumed = _resume_abandoned_sends(db, deliver, now=now)
        report.rescored = _hourly_rescore(db, now=now)
        report.notifications = send_notifications(db, transport, now=now)
    finally:
        _release_lease(db, holder)
    return report


def _advance(db: Database, campaign_id: int, deliver: Deliver, now: datetime) -> Progress:
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        enrolling = campaign.starts_at is None or campaign.starts_at <= now
        if campaign.stops_at is not None and campaign.stops_at <= now:
            enrolling = False
        enrolled = enroll(session, campaign, now=now) if enrolling else 0
    progress = StepRunner(db, campaign_id, deliver=deliver, now=now).run()
    progress.enrolled = enrolled
    return progress


def _finish(db: Database, *, now: datetime) -> list[str]:
    """Campaigns past their stop date with nobody left in them are finished."""
    with db.transaction() as session:
        stopped = session.scalars(
            select(Campaign).where(Campaign.status == "active", Campaign.stops_at <= now)
        ).all()
        finished = []
        for campaign in stopped:
            in_progress = session.scalar(
                select(Enrollment.id)
                .where(Enrollment.campaign_id == campaign.id, Enrollment.status == "active")
                .limit(1)
            )
            if in_progress is None:
                campaign.status, campaign.finished_at = "finished", now
                finished.append(campaign.name)
        return finished


def _send_scheduled(db: Database, deliver: Deliver, *, now: datetime) -> list[int]:
    due = start_due_sends(db, now=now)
    for mailing_id in due:
        deliver(mailing_id)
    return due


def _resume_abandoned_sends(db: Database, deliver: Deliver, *, now: datetime) -> list[int]:
    """Resume the sends nobody is carrying: mailings `sending` for a while whose lease is free,
    run out, or held by a dead process of this host (the job was lost with its worker)."""
    with db.session() as session:
        sending = session.execute(
            select(Mailing.id, Mailing.lease_owner, Mailing.lease_until).where(
                Mailing.status == "sending", Mailing.send_requested_at <= now - RESUME_AFTER
            )
        ).all()
    abandoned = [
        mailing_id
        for mailing_id, holder, until in sending
        if not lease_held(holder, until, now=now)
    ]
    for mailing_id in abandoned:
        deliver(mailing_id)
    return abandoned


# --- community activity and scores ----------------------------------------------------------


def _daily_pull(db: Database, *, now: datetime) -> str | None:
    """Pull the community's activity once a day while the connection is Active (scores and
    reports read it); None when none was due."""
    with db.session() as session:
        integration = get_integration(session)
        last = session.scalar(select(func.max(ActivityPull.pulled_at)))
    if integration is None or not integration.active:
        return None
    if last is not None and last > now - PULL_EVERY:
        return None
    try:
        ports.activity_puller()(db, now=now)
    except KithError as error:
        return f"failed: {error}"
    return "completed"


def _hourly_rescore(db: Database, *, now: datetime) -> bool:
    """Recompute scores when the last computation is an hour old (their windows move on)."""
    with db.session() as session:
        if active_model(session) is None:
            return False
        last = session.scalar(select(func.max(SubscriberScore.computed_at)))
    if last is not None and last > now - RESCORE_EVERY:
        return False
    return rescore(db, now=now, after="the tick") is not None


# --- notifications ---------------------------------------------------------------------------


def send_notifications(db: Database, transport: Transport, *, now: datetime) -> int:
    """Send the Notify steps' messages not sent yet; how many went."""
    with db.session() as session:
        waiting = session.scalars(
            select(Notification).where(Notification.sent_at.is_(None)).order_by(Notification.id)
        ).all()
    if not waiting:
        return 0
    sent = 0
    with transport.open() as sender:
        for notification in waiting:
            key = f"campaign-notification-{notification.id}"
            if not transport.delivered(key):
                result = sender.send(
                    _notification_message(notification),
                    sender=DEFAULT_FROM,
                    recipient=notification.to_address,
                    key=key,
                )
                if result.status != "sent":
                    continue  # tried again on the next tick
            with db.transaction() as session:
                session.execute(
                    update(Notification)
                    .where(Notification.id == notification.id)
                    .values(sent_at=now)
                )
            sent += 1
    return sent


def _notification_message(notification: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = DEFAULT_FROM
    message["To"] = notification.to_address
    message["Subject"] = notification.subject
    message["Message-ID"] = make_msgid(domain="kith.invalid")
    message.set_content(notification.body)
    return message


# --- the lease -------------------------------------------------------------------------------


def _take_lease(db: Database, holder: str, *, now: datetime) -> bool:
    with db.transaction() as session:
        lease = session.get(SchedulerLease, LEASE_NAME, with_for_update=True)
        if lease is None:
            lease = SchedulerLease(name=LEASE_NAME)
            session.add(lease)
        elif lease_held(lease.owner, lease.until, now=now):
            return False
        lease.owner, lease.until = holder, now + TICK_LEASE
    return True


def _release_lease(db: Database, holder: str) -> None:
    with db.transaction() as session:
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.owner == holder)
            .values(owner=None, until=None)
        )


def run_tick(db: Database, settings: Settings, *, now: datetime) -> TickReport:
    """A tick with this installation's mail transport: what `kith tick` and workers run."""
    with db.session() as session:
        transport = mail_transport(session, settings, SecretBox.from_settings(settings))
    links = LinkMaker.from_settings(settings)

    def deliver(mailing_id: int) -> None:
        MailingSender(
            db,
            mailing_id,
            transport=transport,
            links=links,
            clock=lambda: now,
            connections=transport.connections,
            return_path=ReturnPath(settings.bounce_address, settings.signing_key()),
        ).run()

    return tick(db, settings, now=now, transport=transport, deliver=deliver)
