"""Subscribers: finding one by email or Remote ID, changing a status, reading them in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kith.emails import email_key
from kith.errors import InvalidInput, NotFound
from kith.marketing.bounces.models import Bounce, StatusChange
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
    """Subscribe, unsubscribe or mark as bounced by hand; the only way back to `subscribed`
    (a bounced subscriber reactivated), the history kept."""
    subscriber = find_subscriber(session, reference)
    change_status(session, subscriber, check_status(status), reason="marketer", now=now)
    return subscriber


def reactivate(session: Session, subscriber: Subscriber, *, now: datetime) -> Subscriber:
    """A bounced subscriber subscribed again by a marketer (the address works again); the
    bounce stays in their history, and soft bounces are counted afresh from now."""
    if subscriber.status != "bounced":
        raise InvalidInput(f"{subscriber.email} is {subscriber.status}, not bounced")
    change_status(session, subscriber, "subscribed", reason="marketer", now=now)
    return subscriber


def change_status(
    session: Session,
    subscriber: Subscriber,
    status: str,
    *,
    reason: str,
    now: datetime,
    bounce: Bounce | None = None,
    change: int | None = None,
) -> bool:
    """Every change of a subscriber's status goes through here: the status, the time of the
    change, and a line of history saying why (with the bounce that decided it, if one did).
    Setting the status a subscriber already has changes nothing; whether it changed is returned.
    A change is numbered for the live groups (kith.marketing.subscriber_changes): by `change`,
    when the caller took the number for all its transaction's changes, else by a new one.
    """
    if subscriber.status == status:
        return False
    if change is None:
        change = next_change(session)  # before the subscriber's row, as every writer takes them
    session.add(
        StatusChange(
            subscriber_id=subscriber.id,
            from_status=subscriber.status,
            to_status=status,
            reason=reason,
            bounce=bounce,
            changed_at=now,
        )
    )
    subscriber.status, subscriber.updated_at, subscriber.change_seq = status, now, change
    return True


def status_history(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    """The subscriber's status changes, oldest first, each with its evidence when a bounce or
    complaint decided it: the mailing, the status code, the remote server's words and the
    stored message's number (`kith bounces show N`)."""
    rows = session.execute(
        select(StatusChange, Bounce)
        .outerjoin(Bounce, Bounce.id == StatusChange.bounce_id)
        .where(StatusChange.subscriber_id == subscriber.id)
        .order_by(StatusChange.id)
    )
    history = []
    for change, bounce in rows.tuples():
        entry: dict[str, Any] = {
            "at": change.changed_at.isoformat(),
            "from": change.from_status,
            "to": change.to_status,
            "reason": change.reason,
            "evidence": None,
        }
        if bounce is not None:
            entry["evidence"] = {
                "kind": bounce.kind,
                "mailing": bounce.mailing_id,
                "status_code": bounce.status_code,
                "diagnostic": bounce.diagnostic,
                "message": bounce.message_id,
            }
        history.append(entry)
    return history


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


def history_line(change: dict[str, Any]) -> str:
    """One entry of `status_history` in words, for the CLI and the web page."""
    line = f"{change['at']}: {change['from']} -> {change['to']} ({change['reason']})"
    evidence = change.get("evidence")
    if evidence:
        line += (
            f": mailing {evidence['mailing']}, {evidence['status_code'] or 'no status'}"
            f"{', ' + evidence['diagnostic'] if evidence['diagnostic'] else ''}"
            f" (bounce message {evidence['message']})"
        )
    return line
