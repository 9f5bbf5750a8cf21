"""Numbering the changes of subscribers' status and Remote ID, for live community groups.

A community group's member is decided by the subscriber whose Remote ID is their legacy key,
and by that subscriber's status; so when either changes (an unsubscribe, a bounce, an import,
an API call, the connection linking or creating subscribers), the members of live groups that
the subscriber matched, or now matches, must be decided again. Every writer of `status` or
`remote_id` stamps the subscribers it changes with the next number of one counter
(`Subscriber.change_seq`), taken in its own transaction. The counter's row stays locked until
that transaction ends, so numbers are committed in the order they are given: a reader that saw
the counter at N has seen every change numbered N or less, and any change it missed is numbered
after N. A group keeps the N its last sync saw (`TargetGroup.subscriber_changes_seen`).

Writers take the number before they write any subscriber's row, so that two writers wait for
each other in one order (PostgreSQL would otherwise break the tie by failing one of them).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from kith.marketing.models import Subscriber, SubscriberChanges

_COUNTER = 1


def next_change(executor: Session | Connection) -> int:
    """The number for the changes the caller's transaction makes (one number may serve them all:
    they are committed together)."""
    taken = executor.scalar(
        update(SubscriberChanges)
        .where(SubscriberChanges.id == _COUNTER)
        .values(seq=SubscriberChanges.seq + 1)
        .returning(SubscriberChanges.seq)
    )
    if taken is None:  # the counter's row was lost: start it again after every number given
        given = executor.scalar(select(func.max(Subscriber.change_seq))) or 0
        executor.execute(insert(SubscriberChanges).values(id=_COUNTER, seq=given + 1))
        return int(given) + 1
    return int(taken)


def changes_seen(executor: Session | Connection) -> int:
    """The last number committed: every change a reader has not seen yet is numbered after it."""
    seen = executor.scalar(select(SubscriberChanges.seq).where(SubscriberChanges.id == _COUNTER))
    return int(seen or 0)
