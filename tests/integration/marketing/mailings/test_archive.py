"""Putting a mailing away, on SQLite and PostgreSQL: one never sent is deleted, with its groups;
one that went out is refused deletion and archived instead, hidden from Mailings until asked
for, its deliveries and report kept, and unarchived at will; a campaign's mailing stays."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kith.db import Database
from kith.errors import Conflict
from kith.marketing.campaigns.definition import create_campaign
from kith.marketing.mailings.archive import archive_mailing, delete_mailing, unarchive_mailing
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.report import mailing_report
from kith.marketing.models import Delivery, Mailing, MailingGroup, Subscriber
from kith.marketing.web.search import search_mailings
from tests.support.bounce_world import add_readers
from tests.support.import_files import NOW


@pytest.fixture
def world(marketing_db: Database) -> dict[str, int]:
    """Readers (ann, bo); "Sent" delivered to both, "Draft" never sent. Their ids."""
    add_readers(marketing_db, ("ann@example.org", "bo@example.org"), group_name="Readers")
    with marketing_db.transaction() as session:
        ids = {
            name: create_mailing(
                session, MailingDraft(name, "Hi", "<p>Hi</p>", include=["Readers"]), now=NOW
            ).id
            for name in ("Sent", "Draft")
        }
        for subscriber in session.scalars(select(Subscriber)):
            session.add(
                Delivery(
                    mailing_id=ids["Sent"],
                    subscriber_id=subscriber.id,
                    email=subscriber.email,
                    email_key=subscriber.email_key,
                    status="sent",
                    attempts=1,
                )
            )
        session.get(Mailing, ids["Sent"]).status = "sent"  # type: ignore[union-attr]
    return ids


def listed(db: Database, *, archived: bool = False) -> list[str]:
    with db.session() as session:
        return [mailing.name for mailing in search_mailings(session, "", archived=archived).rows]


def test_a_mailing_never_sent_is_deleted_with_its_groups(
    marketing_db: Database, world: dict[str, int]
) -> None:
    with marketing_db.transaction() as session:
        delete_mailing(session, world["Draft"])

    with marketing_db.session() as session:
        assert session.get(Mailing, world["Draft"]) is None
        left = select(func.count()).where(MailingGroup.mailing_id == world["Draft"])
        assert session.scalar(left) == 0
    assert listed(marketing_db) == ["Sent"]


def test_a_sent_mailing_is_not_deleted_but_archived_keeping_its_report(
    marketing_db: Database, world: dict[str, int]
) -> None:
    with marketing_db.session() as session:
        before = mailing_report(session, world["Sent"], now=NOW)
    with (
        pytest.raises(Conflict, match="'Sent' was sent: archive it instead"),
        marketing_db.transaction() as session,
    ):
        delete_mailing(session, world["Sent"])

    with marketing_db.transaction() as session:
        archive_mailing(session, world["Sent"], now=NOW)

    assert listed(marketing_db) == ["Draft"]
    assert listed(marketing_db, archived=True) == ["Draft", "Sent"]
    with marketing_db.session() as session:
        assert mailing_report(session, world["Sent"], now=NOW) == before
        assert before["totals"]["sent"] == 2
    with marketing_db.transaction() as session:
        unarchive_mailing(session, world["Sent"])
    assert listed(marketing_db) == ["Draft", "Sent"]


def test_a_draft_is_not_archived_there_being_nothing_to_keep(
    marketing_db: Database, world: dict[str, int]
) -> None:
    nothing_to_keep = "never sent, so it has nothing to keep: delete it instead"
    with pytest.raises(Conflict, match=nothing_to_keep), marketing_db.transaction() as session:
        archive_mailing(session, world["Draft"], now=NOW)
    assert listed(marketing_db) == ["Draft", "Sent"]


def test_a_mailing_a_campaign_sends_is_not_deleted(
    marketing_db: Database, world: dict[str, int]
) -> None:
    with marketing_db.transaction() as session:
        written = {
            "name": "Welcome",
            "activation": {"group": "Readers", "mode": "over_time"},
            "steps": [{"id": "hello", "mailing": world["Draft"]}],
        }
        create_campaign(session, written, now=NOW)

    in_a_campaign = "is a step of the campaign 'Welcome': take it out"
    with pytest.raises(Conflict, match=in_a_campaign), marketing_db.transaction() as session:
        delete_mailing(session, world["Draft"])
    assert listed(marketing_db) == ["Draft", "Sent"]
