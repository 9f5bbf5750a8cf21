"""A small community with known activity, joined to a marketing side, for scoring and reports.

Every event the community holds is also kept here in plain Python (`events`), so tests can
compute what the pulled counts, scores and reports must say without asking kith.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from kith.community.models import ActivityEvent, ActivityType, Member
from kith.marketing.models import Subscriber
from tests.support.community_world import add_member
from tests.support.connection_world import World

# A Wednesday afternoon: the current report week (from Monday 2026-06-15) has three days.
NOW = datetime(2026, 6, 17, 15, 30, tzinfo=UTC)
TYPES = ("login", "thread_started", "discussion_reply", "event_attended")
# (contact key, legacy key, joined days ago); L6 has no subscriber, c7 no legacy key, L8 is
# a subscriber who never did anything
MEMBERS = (
    ("c1", "L1", 500),
    ("c2", "L2", 80),
    ("c3", "L3", 40),
    ("c4", "L4", 20),
    ("c5", "L5", 9),
    ("c6", "L6", 3),
    ("c7", None, 2),
    ("c8", "L8", 1),
)
SUBSCRIBERS = (
    ("one@example.org", "L1", "subscribed"),
    ("two@example.org", "L2", "subscribed"),
    ("three@example.org", "L3", "subscribed"),
    ("four@example.org", "L4", "subscribed"),
    ("five@example.org", "L5", "unsubscribed"),
    ("eight@example.org", "L8", "subscribed"),
    ("nokey@example.org", None, "subscribed"),
)


@dataclass(frozen=True)
class Event:
    key: str | None
    type: str
    at: datetime


@dataclass
class ActivityWorld:
    """The joined world plus what the test knows: every event and every join date."""

    world: World
    events: list[Event] = field(default_factory=list)
    joined: dict[str, datetime] = field(default_factory=dict)

    def subscriber_ids(self) -> dict[str | None, int]:
        with self.world.marketing.session() as session:
            rows = session.execute(select(Subscriber.remote_id, Subscriber.id)).tuples()
            return {remote_id: id_ for remote_id, id_ in rows}

    def daily_counts(self, since: date, now: datetime) -> Counter[tuple[str, date, str]]:
        """What the pull must keep: events per (legacy key, UTC day, type) from `since` to now."""
        return Counter(
            (event.key, event.at.date(), event.type)
            for event in self.events
            if event.key and event.at.date() >= since and event.at <= now
        )

    def counted(
        self, key: str | None, types: tuple[str, ...] | None, first: date | None, now: datetime
    ) -> int:
        """Events of a member of these types (None: any) from day `first` (None: the pull's
        400 days) up to `now`: what scoring and reports count."""
        start = first or (now.date() - timedelta(days=400))
        return sum(
            1
            for event in self.events
            if event.key == key
            and key is not None
            and (types is None or event.type in types)
            and start <= event.at.date()
            and event.at <= now
        )


def build(world: World) -> ActivityWorld:
    """Members, their events (seeded, so every run is the same) and the subscribers."""
    built = ActivityWorld(world)
    rng = random.Random(7)
    world.now = NOW
    with world.community.transaction() as session:
        type_ids = dict(session.execute(select(ActivityType.name, ActivityType.id)).tuples().all())
        members: dict[str, Member] = {}
        for contact_key, legacy_key, days_ago in MEMBERS:
            joined = NOW - timedelta(days=days_ago, hours=rng.randrange(24))
            members[contact_key] = add_member(
                session, contact_key, legacy_contact_key=legacy_key, joined_at=joined
            )
            if legacy_key:
                built.joined[legacy_key] = joined
        for contact_key, legacy_key, _ in MEMBERS:
            if contact_key == "c8":
                continue
            oldest = 29 if contact_key == "c5" else 120
            newest = 31 if contact_key == "c4" else 0  # L4: nothing in the last 30 days
            for _ in range(12 if contact_key != "c1" else 30):
                at = NOW - timedelta(
                    days=rng.randrange(newest, oldest + 1), seconds=rng.randrange(86_400)
                )
                built.events.append(Event(legacy_key, rng.choice(TYPES), at))
        today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
        built.events += [
            Event("L1", "login", today),  # the first instant of today
            Event("L1", "login", today - timedelta(microseconds=1)),  # the last of yesterday
            Event("L2", "thread_started", NOW - timedelta(days=450)),  # before the pull's 400
            Event("L3", "thread_started", NOW + timedelta(hours=1)),  # after now
            Event("L3", "discussion_reply", NOW),  # exactly now
        ]
        by_key = {legacy: members[contact] for contact, legacy, _ in MEMBERS}
        session.add_all(
            ActivityEvent(
                member_id=by_key[event.key].id, type_id=type_ids[event.type], occurred_at=event.at
            )
            for event in built.events
        )
    world.subscribers(*SUBSCRIBERS)
    return built
