"""Subscribers: finding one by email or Remote ID, changing a status, reading them in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kith.emails import email_key
from kith.errors import InvalidInput, NotFound
from kith.marketing.models import SUBSCRIBER_STATUSES, Subscriber
from kith.marketing.subscriber_changes import next_change


def check_status(status: str) -> str:
    if status not in SUBSCRIBER_STATUSES:
        raise InvalidInput(
            f"status must be {', '.join(SUBSCRIBER_STATUSES[:-1])} or {SUBSCRIBER_STATUSES[-1]},"
            f" not {status!r}"
        )
    return status


def find_subscriber(session: Session, reference: str) -> Subscriber:
    """The subscriber whose Remote ID, or else whose email, is `reference`.

    An email shared by subscribers with different Remote IDs is ambiguous: the error names
    their Remote IDs so that the caller can pick one.
    """
    reference = reference.strip()
    found = session.scalar(select(Subscriber).where(Subscriber.remote_id == reference))
    if found is not None:
        return found
    by_email = list(session.scalars(by_email_query(reference).limit(6)))
    if len(by_email) == 1:
        return by_email[0]
    if not by_email:
        raise NotFound(f"no subscriber has the email or Remote ID {reference!r}")
    remote_ids = ", ".join(repr(each.remote_id) for each in by_email[:5])
    raise InvalidInput(
        f"{len(by_email) if len(by_email) < 6 else 'several'} subscribers share the email "
        f"{reference!r}; name one by its Remote ID: {remote_ids}"
    )


def by_email_query(email: str) -> Select[tuple[Subscriber]]:
    return (
        select(Subscriber)
        .where(Subscriber.email_key == email_key(email.strip()))
        .order_by(Subscriber.id)
    )


def set_status(session: Session, reference: str, status: str, *, now: datetime) -> Subscriber:
    """Subscribe, unsubscribe or mark as bounced; the only way back to `subscribed`."""
    subscriber = find_subscriber(session, reference)
    if subscriber.status != check_status(status):
        change = next_change(session)  # before the subscriber's row, as every writer takes them
        subscriber.status, subscriber.change_seq = status, change
    subscriber.updated_at = now
    return subscriber


def iter_subscribers(
    session: Session, *, status: str | None = None, chunk: int = 10_000
) -> Iterator[Subscriber]:
    """Every subscriber (with that status, if given) in id order, streamed `chunk` at a time."""
    query = select(Subscriber).order_by(Subscriber.id)
    if status is not None:
        query = query.where(Subscriber.status == check_status(status))
    for partition in session.scalars(query.execution_options(yield_per=chunk)).partitions():
        yield from partition
        for subscriber in partition:  # keep the identity map to one chunk
            session.expunge(subscriber)


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "email": subscriber.email,
        "remote_id": subscriber.remote_id,
        "first_name": subscriber.first_name,
        "last_name": subscriber.last_name,
        "status": subscriber.status,
        "fields": subscriber.fields,
        "source": subscriber.source,
        "created_at": subscriber.created_at.isoformat(),
        "updated_at": subscriber.updated_at.isoformat(),
    }
