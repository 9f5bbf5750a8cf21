"""Every writer of a subscriber's status or Remote ID numbers the change, so that live community
groups decide that subscriber's members again (kith.marketing.subscriber_changes)."""

from __future__ import annotations

from sqlalchemy import select

from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.marketing.mailings.tracking import unsubscribe
from kith.marketing.models import Delivery, Mailing, Subscriber
from kith.marketing.subscriber_changes import changes_seen
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from kith.marketing.subscribers import set_status
from tests.support.community_world import NOW


def upsert(db: Database, *rows: SubscriberRow) -> None:
    with db.transaction() as session:
        SubscriberUpsert(session, now=NOW, source="import").write(list(rows), ImportReport())


def numbers(db: Database) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(select(Subscriber.email, Subscriber.change_seq)).tuples().all())


def test_an_import_numbers_the_subscribers_it_creates_or_whose_status_or_remote_id_it_changes(
    marketing_db: Database,
) -> None:
    upsert(
        marketing_db,
        SubscriberRow(2, "ann@example.org", "R1"),
        SubscriberRow(3, "bob@example.org", None),
        SubscriberRow(4, "cy@example.org", "R3"),
    )
    created = numbers(marketing_db)
    upsert(
        marketing_db,
        SubscriberRow(2, "ann@example.org", "R1", status="bounced"),
        SubscriberRow(3, "bob@example.org", "R2"),  # adopts a Remote ID
        SubscriberRow(4, "cy@example.org", "R3", first_name="Cy"),  # only a name
    )
    updated = numbers(marketing_db)

    assert len(set(created.values())) == 1 and created["ann@example.org"] > 0
    with marketing_db.session() as session:
        last = changes_seen(session)
    assert (
        updated["ann@example.org"]
        == updated["bob@example.org"]
        == last
        > created["ann@example.org"]
    )
    assert updated["cy@example.org"] == created["cy@example.org"]


def test_a_status_set_or_an_unsubscribe_link_numbers_the_change_and_a_repeat_does_not(
    marketing_db: Database,
) -> None:
    upsert(marketing_db, SubscriberRow(2, "ann@example.org", "R1"))
    with marketing_db.transaction() as session:
        set_status(session, "R1", "bounced", now=NOW)
    bounced = numbers(marketing_db)["ann@example.org"]
    with marketing_db.transaction() as session:
        set_status(session, "R1", "bounced", now=NOW)
    repeated = numbers(marketing_db)["ann@example.org"]
    delivery_id = a_delivery_to(marketing_db, "R1")
    with marketing_db.transaction() as session:
        unsubscribe(session, delivery_id, now=NOW)
    unsubscribed = numbers(marketing_db)["ann@example.org"]

    assert repeated == bounced
    assert unsubscribed > bounced


def a_delivery_to(db: Database, remote_id: str) -> int:
    """A delivery of a mailing to the subscriber: what an unsubscribe link names."""
    with db.transaction() as session:
        subscriber = session.scalar(select(Subscriber).where(Subscriber.remote_id == remote_id))
        assert subscriber is not None
        mailing = Mailing(
            name="News",
            from_address="news@example.org",
            subject="Hi",
            html="<p>Hi</p>",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(mailing)
        session.flush()
        delivery = Delivery(
            mailing_id=mailing.id,
            subscriber_id=subscriber.id,
            email=subscriber.email,
            email_key=subscriber.email_key,
        )
        session.add(delivery)
        session.flush()
        return delivery.id
