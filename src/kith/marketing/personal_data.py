"""A subscriber's personal data: everything marketing keeps about one person, exported as one
document at their request, or erased for good (GDPR articles 15 and 17).

Erasing deletes the subscriber, their group memberships, campaign baselines, score, status
history, the community activity pulled for their Remote ID, the sync outcomes and the group list
mirror rows that name them, the messages to them stored in the outbox, and the text of the
bounce messages that reported them. What reports count stays, without the person: their
deliveries, bounces and campaign enrollments are made anonymous (no address, no subscriber), so
sent, bounced, opened and clicked figures still add up, and their links answer a plain page. A
keyed digest of their email and Remote ID (kith.erasures) is kept so that the platform
edition's sync does not create them again from a community list (the outcome `erased`) until
an admin lifts it; an `erasures` row records who erased, when and how many rows.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from kith.db import affected
from kith.emails import email_key
from kith.encryption import SecretBox
from kith.erasures import ERASED, ERASED_BOUNCED, json_value, row_json
from kith.errors import NotFound
from kith.marketing.bounces.models import Bounce, BounceMessage, StatusChange
from kith.marketing.campaigns.models import (
    Campaign,
    CampaignBaseline,
    Enrollment,
    Notification,
    StepOutcome,
)
from kith.marketing.groups.kept_list import KEPT_MODELS
from kith.marketing.mailings.messages import delivery_key
from kith.marketing.models import (
    CommunityListMember,
    CommunityListRecent,
    Delivery,
    DeliveryEvent,
    ErasedPerson,
    Erasure,
    GroupMember,
    Mailing,
    Subscriber,
    SyncSkip,
    TargetGroup,
)
from kith.marketing.scoring.models import CommunityActivityDay, CommunityMember, SubscriberScore
from kith.marketing.subscribers import find_subscriber


def export_subscriber(
    session: Session, reference: str, *, outbox: Path | None = None
) -> dict[str, Any]:
    """Every record of the subscriber with this Remote ID (or else email), one named section
    per kind; `outbox` is the folder whose stored messages to them are included."""
    subscriber = find_subscriber(session, reference)
    person = _Person(subscriber)
    deliveries = _deliveries(session, person)
    return {
        "side": "marketing",
        "subscriber": row_json(subscriber),
        "groups": _groups(session, subscriber),
        "sync_skips": [
            row_json(skip, leave_out=("id",))
            for skip in session.scalars(
                select(SyncSkip).where(person.in_skips()).order_by(SyncSkip.id)
            )
        ],
        **{
            model.__tablename__: [
                row_json(row)
                for row in session.scalars(
                    select(model).where(person.in_mirror(model)).order_by(model.group_id)
                )
            ]
            for model in KEPT_MODELS
        },
        "deliveries": deliveries,
        "campaign_enrollments": _enrollments(session, person),
        "campaign_baselines": list(
            session.scalars(
                select(Campaign.name)
                .join(CampaignBaseline, CampaignBaseline.campaign_id == Campaign.id)
                .where(CampaignBaseline.subscriber_id == subscriber.id)
                .order_by(Campaign.name)
            )
        ),
        "score": _one(session.get(SubscriberScore, subscriber.id)),
        "community_member": _one(
            session.get(CommunityMember, subscriber.remote_id) if subscriber.remote_id else None
        ),
        "community_activity_days": [
            row_json(day)
            for day in session.scalars(
                select(CommunityActivityDay)
                .where(CommunityActivityDay.remote_id == subscriber.remote_id)
                .order_by(CommunityActivityDay.day, CommunityActivityDay.activity_type)
            )
        ],
        "notifications": [
            row_json(note, leave_out=("id",))
            for note in session.scalars(
                select(Notification).where(person.in_text(Notification.body))
            )
        ],
        "status_history": [
            row_json(change, leave_out=("id",))
            for change in session.scalars(
                select(StatusChange)
                .where(StatusChange.subscriber_id == subscriber.id)
                .order_by(StatusChange.id)
            )
        ],
        "bounces": [
            row_json(bounce) | {"message": _message_text(session, bounce.message_id)}
            for bounce in session.scalars(
                select(Bounce).where(person.in_bounces()).order_by(Bounce.id)
            )
        ],
        "outbox": _stored_messages(outbox, [each["id"] for each in deliveries]),
    }


def erase_subscriber(
    session: Session,
    reference: str,
    *,
    by: str,
    box: SecretBox,
    now: datetime,
    outbox: Path | None = None,
) -> Erasure:
    """Erase the subscriber (see the module); `by` names the admin who asked. The stored
    messages go last, once every row is written, so only a failed commit leaves the rows
    without them (copies of messages sent, which a repeated erase no longer needs)."""
    subscriber = find_subscriber(session, reference)
    person = _Person(subscriber)
    delivery_ids = list(session.scalars(select(Delivery.id).where(person.in_deliveries())))
    counts = _anonymise(session, person, now=now) | _delete_rows(session, subscriber, person)
    counts["outbox_files"] = len(_stored_paths(outbox, delivery_ids))
    erasure = Erasure(side="marketing", erased_by=by, erased_at=now, counts=counts)
    session.add(erasure)
    session.flush()
    for kind, value in person.digested():
        digest = box.person_digests(kind, value)[0]
        if session.get(ErasedPerson, digest) is None:
            session.add(ErasedPerson(digest=digest, kind=kind, erasure_id=erasure.id))
    session.flush()
    for path in _stored_paths(outbox, delivery_ids):
        path.unlink(missing_ok=True)
    return erasure


def lift_erasure(session: Session, reference: str, *, box: SecretBox) -> int:
    """Let the sync create the person with this email or Remote ID again; the digests
    removed (NotFound when none was kept)."""
    reference = reference.strip()
    digests = box.person_digests("email", email_key(reference))
    digests += box.person_digests("remote_id", reference)
    lifted = _delete(session, ErasedPerson, ErasedPerson.digest.in_(digests))
    if not lifted:
        raise NotFound(f"no erased person has the email or Remote ID {reference!r}")
    return lifted


def is_erased_delivery(delivery: Delivery) -> bool:
    """Whether the delivery's person was erased (its links then answer a plain page)."""
    return delivery.email == ERASED


class _Person:
    """The subscriber's keys, and the conditions that find rows naming them elsewhere."""

    def __init__(self, subscriber: Subscriber) -> None:
        self.id = subscriber.id
        self.status = subscriber.status
        self.email_key = subscriber.email_key
        self.remote_id = subscriber.remote_id

    def digested(self) -> list[tuple[str, str]]:
        keys = [("email", self.email_key)]
        return keys + ([("remote_id", self.remote_id)] if self.remote_id else [])

    def in_deliveries(self) -> ColumnElement[bool]:
        return or_(Delivery.subscriber_id == self.id, Delivery.email_key == self.email_key)

    def in_enrollments(self) -> ColumnElement[bool]:
        return or_(Enrollment.subscriber_id == self.id, Enrollment.email_key == self.email_key)

    def in_skips(self) -> ColumnElement[bool]:
        return or_(
            func.lower(func.trim(SyncSkip.email)) == self.email_key,
            *self._remote(SyncSkip.legacy_contact_key),
        )

    def in_mirror(
        self, kept: type[CommunityListMember | CommunityListRecent]
    ) -> ColumnElement[bool]:
        return or_(
            kept.email_key == self.email_key,
            kept.normal_key == self.email_key,
            *self._remote(kept.legacy_contact_key),
        )

    def in_bounces(self) -> ColumnElement[bool]:
        return or_(Bounce.subscriber_id == self.id, func.lower(Bounce.email) == self.email_key)

    def in_text(self, column: Any) -> ColumnElement[bool]:
        return func.lower(column).contains(self.email_key, autoescape=True)

    def _remote(self, column: Any) -> list[ColumnElement[bool]]:
        return [column == self.remote_id] if self.remote_id else []


def _groups(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.execute(
        select(TargetGroup.name, GroupMember.added_at)
        .join(GroupMember, GroupMember.group_id == TargetGroup.id)
        .where(GroupMember.subscriber_id == subscriber.id)
        .order_by(TargetGroup.name)
    )
    return [{"group": name, "added_at": json_value(added)} for name, added in rows]


def _deliveries(session: Session, person: _Person) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Mailing.name, Delivery)
        .join(Delivery, Delivery.mailing_id == Mailing.id)
        .where(person.in_deliveries())
        .order_by(Delivery.id)
    )
    found = []
    for mailing, delivery in rows:
        events = session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.delivery_id == delivery.id)
            .order_by(DeliveryEvent.id)
        )
        found.append(
            {
                "mailing": mailing,
                **row_json(delivery),
                "events": [row_json(event, leave_out=("id", "delivery_id")) for event in events],
            }
        )
    return found


def _enrollments(session: Session, person: _Person) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Campaign.name, Enrollment)
        .join(Enrollment, Enrollment.campaign_id == Campaign.id)
        .where(person.in_enrollments())
        .order_by(Enrollment.id)
    )
    found = []
    for campaign, enrollment in rows:
        steps = session.scalars(
            select(StepOutcome)
            .where(StepOutcome.enrollment_id == enrollment.id)
            .order_by(StepOutcome.at)
        )
        found.append(
            {
                "campaign": campaign,
                **row_json(enrollment),
                "steps": [row_json(step, leave_out=("enrollment_id",)) for step in steps],
            }
        )
    return found


def _one(row: Any) -> dict[str, Any] | None:
    return None if row is None else row_json(row)


def _stored_messages(outbox: Path | None, delivery_ids: list[int]) -> list[dict[str, str]]:
    found = []
    for path in _stored_paths(outbox, delivery_ids):
        found.append({"file": path.name, "message": path.read_text("utf-8", errors="replace")})
    return found


def _stored_paths(outbox: Path | None, delivery_ids: list[int]) -> list[Path]:
    if outbox is None:
        return []
    paths = (outbox / f"{delivery_key(delivery_id)}.eml" for delivery_id in delivery_ids)
    return [path for path in paths if path.is_file()]


def _anonymise(session: Session, person: _Person, *, now: datetime) -> dict[str, int]:
    """What reports count stays, naming nobody."""
    return {
        "deliveries_anonymised": _anonymise_deliveries(session, person),
        "enrollments_anonymised": _anonymise_enrollments(session, person, now=now),
        "notifications_anonymised": _anonymise_notifications(session, person),
    }


def _delete_rows(session: Session, subscriber: Subscriber, person: _Person) -> dict[str, int]:
    """Every other row of theirs, the subscriber's last; rows deleted per table."""
    counts = {}
    mirrored: set[int] = set()
    for kept in KEPT_MODELS:
        mirrored |= set(session.scalars(select(kept.group_id).where(person.in_mirror(kept))))
        counts[kept.__tablename__] = _delete(session, kept, person.in_mirror(kept))
    if mirrored:  # the mirror no longer is the list: the next sync reads it in full
        session.execute(
            update(TargetGroup).where(TargetGroup.id.in_(mirrored)).values(list_cursor=None)
        )
    counts["sync_skips"] = _delete(session, SyncSkip, person.in_skips())
    counts |= _erase_bounces(session, person)
    for model in (GroupMember, CampaignBaseline, SubscriberScore):
        counts[model.__tablename__] = _delete(session, model, model.subscriber_id == person.id)
    if person.remote_id:
        for pulled in (CommunityActivityDay, CommunityMember):
            counts[pulled.__tablename__] = _delete(
                session, pulled, pulled.remote_id == person.remote_id
            )
    session.expunge(subscriber)
    counts["subscribers"] = _delete(session, Subscriber, Subscriber.id == person.id)
    return counts


def _erase_bounces(session: Session, person: _Person) -> dict[str, int]:
    """Their status history goes; the bounces about them stay for the mailing reports' counts,
    naming nobody, and each message that reported them stays without its text."""
    messages = set(session.scalars(select(Bounce.message_id).where(person.in_bounces())))
    counts = {
        "subscriber_status_changes": _delete(
            session, StatusChange, StatusChange.subscriber_id == person.id
        ),
        "bounces_anonymised": affected(
            session.execute(
                update(Bounce)
                .where(person.in_bounces())
                .values(subscriber_id=None, email=ERASED, diagnostic=None)
            )
        ),
    }
    counts["bounce_messages_emptied"] = affected(
        session.execute(
            update(BounceMessage)
            .where(BounceMessage.id.in_(messages))
            .values(raw=ERASED.encode(), subject=None, envelope_recipients=[], problem=None)
        )
    )
    return counts


def _message_text(session: Session, message_id: int) -> str:
    raw = session.scalar(select(BounceMessage.raw).where(BounceMessage.id == message_id))
    return (raw or b"").decode("utf-8", errors="replace")


def _anonymise_deliveries(session: Session, person: _Person) -> int:
    """No address, no subscriber, no server reply (which may quote the address); the status,
    whether they had bounced, and the opens and clicks stay, so reports add up."""
    return affected(
        session.execute(
            update(Delivery)
            .where(person.in_deliveries())
            .values(
                email=ERASED,
                email_key=_erased_key(Delivery.id),
                subscriber_id=None,
                detail=ERASED_BOUNCED if person.status == "bounced" else None,
            )
        )
    )


def _anonymise_enrollments(session: Session, person: _Person, *, now: datetime) -> int:
    """An enrollment of theirs names nobody, and one still going ends (nobody to mail)."""
    theirs = person.in_enrollments()
    session.execute(
        update(Enrollment)
        .where(theirs, Enrollment.status == "active")
        .values(status="done", finished_at=now, due_at=None)
    )
    return affected(
        session.execute(
            update(Enrollment)
            .where(theirs)
            .values(subscriber_id=None, email_key=_erased_key(Enrollment.id))
        )
    )


def _erased_key(row_id: InstrumentedAttribute[int]) -> ColumnElement[str]:
    """`(erased) <id>`: unique where the person's email key was, naming nobody."""
    return literal(ERASED + " ") + cast(row_id, String)


def _anonymise_notifications(session: Session, person: _Person) -> int:
    """Admins' notifications listed who reached a step: the address becomes ERASED."""
    notes = list(session.scalars(select(Notification).where(person.in_text(Notification.body))))
    for note in notes:
        note.body = "\n".join(
            ERASED if line.strip().lower() == person.email_key else line
            for line in note.body.split("\n")
        )
    session.flush()
    return len(notes)


def _delete(session: Session, model: Any, condition: Any) -> int:
    return affected(session.execute(delete(model).where(condition)))
