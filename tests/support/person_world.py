"""One person known everywhere on both sides, made through the real services where a short path
exists (community records, lists, syncs over HTTP, a mailing sent to the outbox) and as rows
where the way there is a long one (a campaign's enrollment, a score, pulled activity).

What a test of export and erasure looks for: every kind of record that names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, text

from kith.clock import utcnow
from kith.community.accounts import create_login
from kith.community.live_lists import keep_lists_current
from kith.community.models import Member
from kith.db import Database
from kith.marketing.bounces.intake import BouncePolicy, take_in
from kith.marketing.campaigns.models import (
    Campaign,
    CampaignBaseline,
    CampaignVersion,
    Enrollment,
    Notification,
    StepOutcome,
)
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.outbox import OutboxTransport, outbox_folder
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.tracking import record_event
from kith.marketing.models import Delivery, Subscriber
from kith.marketing.scoring.models import CommunityActivityDay, CommunityMember, SubscriberScore
from kith.marketing.subscribers import set_status
from tests.support.bounce_messages import postfix_dsn
from tests.support.community_world import NOW, add_community, add_events, join
from tests.support.connection_world import World

CONTACT_KEY = "P-9001-QUILL"
LEGACY_KEY = "LEG-9001-QUILL"
EMAIL = "zoella.quillfeather@example.org"
FIRST, LAST = "Zoella", "Quillfeather"
# what must be found nowhere after erasure
TRACES = (CONTACT_KEY, LEGACY_KEY, EMAIL, FIRST, LAST)
READERS = {"field": "company", "op": "in", "value": ["readers"]}
HOSTS = {"field": "title", "op": "in", "value": ["host"]}


@dataclass(frozen=True)
class Person:
    hosts_list_key: str
    mailing_id: int
    delivery_id: int


def make_person(world: World) -> Person:
    """The person in every table that can name them; their group is "Readers"."""
    day = timedelta(days=1)
    with world.community.transaction() as session:
        member = Member(
            contact_key=CONTACT_KEY,
            legacy_contact_key=LEGACY_KEY,
            email=EMAIL,
            first_name=FIRST,
            last_name=LAST,
            company="readers",
            custom_fields={"nickname": "Quill"},
        )
        session.add(member)
        session.flush()
        join(session, member, add_community(session, "Gardeners"), role="host")
        add_events(session, member, "login", NOW - day)
        create_login(session, email=EMAIL, role="member", password="a long password 1", now=NOW)
    world.list("Informz Readers", READERS)
    hosts = world.list("Informz Hosts", HOSTS)
    world.subscribers((EMAIL, LEGACY_KEY, "unsubscribed"))
    world.refresh()
    assert world.sync("Readers").status == "completed"  # a skip: unsubscribed
    with world.marketing.transaction() as session:
        set_status(session, LEGACY_KEY, "subscribed", now=NOW)
    assert world.sync("Readers").status == "completed"  # now a member
    mailing_id, delivery_id = _mailed(world)
    soft = take_in(  # a mailbox full: a soft bounce, kept with the report that said so
        world.marketing,
        BouncePolicy.from_settings(world.settings),
        postfix_dsn("bounces@example.org", EMAIL, status="4.2.2", action="delayed"),
        source="file",
        now=NOW,
    )
    assert soft.kind == "soft", soft
    _campaign_and_scores(world.marketing, world.group_id("Readers"))
    # they join the second list: a change the log keeps (the server's passes run at the
    # real time, past the retention of changes at NOW)
    with world.community.transaction() as session:
        session.execute(
            text("UPDATE members SET title = 'host' WHERE contact_key = :key"), {"key": CONTACT_KEY}
        )
    keep_lists_current(world.community, now=utcnow(), retention=timedelta(days=7))
    return Person(hosts, mailing_id, delivery_id)


def _mailed(world: World) -> tuple[int, int]:
    """A mailing sent to the group into the outbox, opened and clicked."""
    with world.marketing.transaction() as session:
        mailing = create_mailing(
            session,
            MailingDraft(
                name="Spring news",
                subject="Hello {{ first_name }}",
                html="<p>Dear {{ first_name }} {{ last_name }}</p>"
                '<a href="https://example.org/garden">Garden</a>'
                '<a href="{{ unsubscribe_url }}">Unsubscribe</a>',
                include=["Readers"],
            ),
            now=NOW,
        )
        request_send(
            session, mailing.id, SendOptions(allow_stale=True, ack_duplicates=True), now=NOW
        )
    transport = OutboxTransport(outbox_folder(world.settings.data_dir))
    sent = send_mailing_now(
        world.marketing, world.settings, mailing.id, transport=transport, clock=lambda: NOW
    )
    assert sent.status == "sent", sent.status_reason
    with world.marketing.transaction() as session:
        delivery = session.scalars(select(Delivery).where(Delivery.mailing_id == mailing.id)).one()
        record_event(session, delivery.id, "open", now=NOW)
        record_event(session, delivery.id, "click", now=NOW, url="https://example.org/garden")
        return mailing.id, delivery.id


def _campaign_and_scores(db: Database, group_id: int) -> None:
    with db.transaction() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.email == EMAIL)).one()
        campaign = Campaign(
            name="Onboarding",
            activation_group_id=group_id,
            activation_mode="over_time",
            status="active",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(campaign)
        session.flush()
        version = CampaignVersion(
            campaign_id=campaign.id, number=1, first_step="wait", steps={}, created_at=NOW
        )
        session.add(version)
        session.flush()
        enrollment = Enrollment(
            campaign_id=campaign.id,
            version_id=version.id,
            subscriber_id=subscriber.id,
            email_key=subscriber.email_key,
            status="active",
            step="wait",
            reached_at=NOW,
            enrolled_at=NOW,
        )
        session.add(enrollment)
        session.flush()
        rows: list[Any] = [
            StepOutcome(enrollment_id=enrollment.id, step="start", outcome="done", at=NOW),
            CampaignBaseline(campaign_id=campaign.id, subscriber_id=subscriber.id),
            Notification(
                campaign_id=campaign.id,
                step="notify",
                to_address="admin@example.org",
                subject="Reached",
                body=f"1 person reached step notify of the campaign 'Onboarding':\n\n{EMAIL}",
                created_at=NOW,
            ),
            SubscriberScore(
                subscriber_id=subscriber.id, score=7, grade="B", model_version=1, computed_at=NOW
            ),
            CommunityMember(remote_id=LEGACY_KEY, joined_at=NOW),
            CommunityActivityDay(
                remote_id=LEGACY_KEY, day=date(2026, 3, 1), activity_type="login", count=2
            ),
        ]
        session.add_all(rows)
