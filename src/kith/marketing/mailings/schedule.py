"""Schedule a send: a mailing waits, `scheduled`, until its time, and the tick then sends it.

A scheduled mailing cannot be edited (unschedule it first, so that what was checked is what
goes). When its time comes the tick turns it into a send request, in one transaction that only
a mailing still scheduled passes, so however many workers tick it is asked for once; the send
then does what Send does at that moment: the sync on send, the duplicate guard, a draft again
when it would reach nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.db import Database
from kith.errors import Conflict, InvalidInput
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.mailings.sending import SendOptions, request_send
from kith.marketing.models import Mailing

SCHEDULABLE = ("draft", "held", "scheduled")


def send_time(text: str, zone: str) -> datetime:
    """A date and time typed in the time zone `zone` (an IANA name such as Europe/Paris), in
    UTC."""
    try:
        local = ZoneInfo(zone.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{zone!r} is not a time zone (such as Europe/Paris or UTC)") from None
    try:
        typed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date and time; give it as 2026-12-24 09:00"
        ) from None
    if typed.tzinfo is None:
        typed = typed.replace(tzinfo=local)
    return typed.astimezone(UTC)


def schedule_send(session: Session, mailing_id: int, at: datetime, *, now: datetime) -> Mailing:
    """Send the mailing at `at` (UTC); a time already past is refused."""
    mailing = get_mailing(session, mailing_id)
    if mailing.status not in SCHEDULABLE:
        raise Conflict(f"mailing {mailing.id} is {mailing.status}: only a draft can be scheduled")
    if at <= now:
        raise InvalidInput(
            f"{at:%Y-%m-%d %H:%M} UTC is in the past (it is {now:%Y-%m-%d %H:%M} UTC now): "
            "pick a later time"
        )
    mailing.status, mailing.status_reason, mailing.scheduled_for = "scheduled", None, at
    return mailing


def unschedule_send(session: Session, mailing_id: int) -> Mailing:
    """Back to a draft, not to be sent until sent or scheduled again."""
    mailing = get_mailing(session, mailing_id)
    if mailing.status != "scheduled":
        raise Conflict(f"mailing {mailing.id} is {mailing.status}, not scheduled")
    mailing.status, mailing.scheduled_for = "draft", None
    return mailing


def start_due_sends(db: Database, *, now: datetime) -> list[int]:
    """The scheduled mailings whose time has come, each made a send request here and nowhere
    else (rows another transaction holds are left to it)."""
    with db.transaction() as session:
        due = session.scalars(
            select(Mailing)
            .where(Mailing.status == "scheduled", Mailing.scheduled_for <= now)
            .order_by(Mailing.scheduled_for, Mailing.id)
            .with_for_update(skip_locked=True)
        ).all()
        for mailing in due:
            request_send(session, mailing.id, SendOptions(), now=now)
        return [mailing.id for mailing in due]
