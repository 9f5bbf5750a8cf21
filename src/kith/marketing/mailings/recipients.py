"""Who a mailing goes to: its include groups minus its exclude groups, subscribed, one per address.

Evaluated in SQL each time (compound groups included); the address that comes first for an
email (in any case) is the one kept, by subscriber id. An address that bounced, or whose owner
complained, is skipped for every subscriber sharing it: it is the address that fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from kith.marketing.bounces.models import StatusChange
from kith.marketing.groups.compound import members_condition
from kith.marketing.mailings.definition import mailing_groups
from kith.marketing.models import Mailing, Subscriber, TargetGroup


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    email_key: str
    remote_id: str | None


def recipients_query(
    session: Session, mailing: Mailing
) -> Select[tuple[int, str, str, str | None]]:
    """One row per address: subscriber id, email, email key, Remote ID; in subscriber order."""
    groups = mailing_groups(session, mailing)
    included = _any(session, groups["include"])
    excluded = _any(session, groups["exclude"]) if groups["exclude"] else false()
    ranked = (
        select(
            Subscriber.id,
            Subscriber.email,
            Subscriber.email_key,
            Subscriber.remote_id,
            func.row_number()
            .over(partition_by=Subscriber.email_key, order_by=Subscriber.id)
            .label("nth"),
        )
        .where(included, not_(excluded), Subscriber.status == "subscribed", not_(_blocked()))
        .subquery()
    )
    return (
        select(ranked.c.id, ranked.c.email, ranked.c.email_key, ranked.c.remote_id)
        .where(ranked.c.nth == 1)
        .order_by(ranked.c.id)
    )


def iter_recipients(
    session: Session, mailing: Mailing, *, chunk: int = 10_000
) -> Iterator[Recipient]:
    rows = session.execute(recipients_query(session, mailing).execution_options(yield_per=chunk))
    for subscriber_id, email, key, remote_id in rows.tuples():
        yield Recipient(subscriber_id, email, key, remote_id)


def count_recipients(session: Session, mailing: Mailing) -> int:
    query = recipients_query(session, mailing).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def _blocked() -> ColumnElement[bool]:
    """Another subscriber with the same address bounced, or unsubscribed by a complaint."""
    other = aliased(Subscriber)
    complained = exists().where(
        StatusChange.subscriber_id == other.id, StatusChange.reason == "complaint"
    )
    return exists().where(
        other.email_key == Subscriber.email_key,
        other.id != Subscriber.id,
        or_(other.status == "bounced", and_(other.status == "unsubscribed", complained)),
    )


def _any(session: Session, groups: list[TargetGroup]) -> ColumnElement[bool]:
    return or_(*(members_condition(session, group) for group in groups))
