"""Pull Community Activity over real HTTP: the daily counts and join dates kept on the marketing
side are what the community's events say, a later pull replaces only its days, and a stream
cut short changes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from sqlalchemy import delete, select

from kith.community.credentials import create_credential
from kith.community.models import ActivityEvent, ActivityType, Member
from kith.config import Settings, get_settings
from kith.connection.activity import HISTORY_DAYS, pull_activity
from kith.connection.client import ConnectionFailed
from kith.db import Database
from kith.marketing.scoring.models import ActivityPull, CommunityActivityDay, CommunityMember
from kith.web.loopback import serve_on_loopback
from tests.support.activity_world import NOW, ActivityWorld, Event, build
from tests.support.cli_world import kith_command
from tests.support.connection_world import joined_world

FIRST_SINCE = NOW.date() - timedelta(days=HISTORY_DAYS)


@pytest.fixture
def world(
    community_db: Database, marketing_db: Database, settings: Settings
) -> Iterator[ActivityWorld]:
    with joined_world(community_db, marketing_db, settings) as joined:
        yield build(joined)


def kept_days(world: ActivityWorld) -> Counter[tuple[str, date, str]]:
    with world.world.marketing.session() as session:
        rows = session.scalars(select(CommunityActivityDay)).all()
    return Counter({(row.remote_id, row.day, row.activity_type): row.count for row in rows})


def add_events(world: ActivityWorld, *events: Event) -> None:
    with world.world.community.transaction() as session:
        types = dict(session.execute(select(ActivityType.name, ActivityType.id)).tuples().all())
        members = dict(session.execute(select(Member.legacy_contact_key, Member.id)).tuples().all())
        for event in events:
            session.add(
                ActivityEvent(
                    member_id=members[event.key], type_id=types[event.type], occurred_at=event.at
                )
            )
    world.events += events


def test_the_pull_keeps_each_members_daily_counts_and_join_date(world: ActivityWorld) -> None:
    pulled = pull_activity(world.world.marketing, world.world.box, now=NOW)

    expected = world.daily_counts(FIRST_SINCE, NOW)
    assert kept_days(world) == expected
    assert (pulled.since, pulled.through) == (FIRST_SINCE, NOW.date())
    assert (pulled.day_rows, pulled.members) == (len(expected), len(world.joined))
    # the day boundary: 00:00 today and a microsecond before are two days
    assert expected[("L1", NOW.date(), "login")] >= 1
    assert expected[("L1", NOW.date() - timedelta(days=1), "login")] >= 1
    assert not any(key == "L3" and day > NOW.date() for key, day, _ in kept_days(world))
    with world.world.marketing.session() as session:
        joined = dict(
            session.execute(select(CommunityMember.remote_id, CommunityMember.joined_at)).all()
        )
        pulls = session.scalars(select(ActivityPull)).all()
    assert joined == world.joined
    assert [(p.since, p.through, p.day_rows) for p in pulls] == [
        (FIRST_SINCE, NOW.date(), len(expected))
    ]


def test_a_later_pull_replaces_only_the_days_from_a_few_before_the_last_one(
    world: ActivityWorld,
) -> None:
    pull_activity(world.world.marketing, world.world.box, now=NOW)
    later = NOW + timedelta(days=1)
    recent = Event("L2", "login", later - timedelta(hours=2))
    late_but_old = Event("L4", "login", NOW - timedelta(days=10))  # recorded late, long ago
    add_events(world, recent, late_but_old)
    gone = NOW + timedelta(hours=1)  # the community takes back an event of the last days
    with world.world.community.transaction() as session:
        session.execute(delete(ActivityEvent).where(ActivityEvent.occurred_at == gone))
    world.events = [event for event in world.events if event.at != gone]

    pulled = pull_activity(world.world.marketing, world.world.box, now=later)

    assert pulled.since == NOW.date() - timedelta(days=3)
    expected = world.daily_counts(FIRST_SINCE, later)
    expected[("L4", late_but_old.at.date(), "login")] -= 1  # before `since`: not read again
    assert kept_days(world) == +expected
    pull_activity(world.world.marketing, world.world.box, now=later, since=FIRST_SINCE)
    assert kept_days(world) == world.daily_counts(FIRST_SINCE, later)


def test_the_stream_is_authenticated_counted_and_checks_its_parameters(
    world: ActivityWorld,
) -> None:
    with world.world.community.transaction() as session:
        issued = create_credential(session, name="Reader", by="admin", now=NOW)
        keys = session.scalars(select(Member.legacy_contact_key)).all()
    headers = {"HLIAMKey": issued.credential.iam_key, "HLPassword": issued.password}
    url = f"{world.world.url}/api/v1/activity/daily.ndjson"

    since = {"since": NOW.date().isoformat()}
    answer = httpx.get(url, params={**since, "as_of": NOW.isoformat()}, headers=headers)
    lines = [orjson.loads(line) for line in answer.content.splitlines()]

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert lines[-1] == {"end": {"count": len(lines) - 1}}
    assert {line["member"] for line in lines if "joined_at" in line} == {k for k in keys if k}
    today = [line for line in lines if "day" in line]
    assert today and {line["day"] for line in today} == {NOW.date().isoformat()}
    assert sum(line["count"] for line in today) == sum(
        1 for e in world.events if e.key and e.at.date() == NOW.date() and e.at <= NOW
    )
    assert httpx.get(url).status_code == 401
    for name in ("since", "as_of"):
        refused = httpx.get(url, params={**since, name: "June"}, headers=headers)
        assert refused.status_code == 422 and refused.json()["message"].startswith(name)


def test_a_stream_cut_short_keeps_what_the_last_pull_kept(world: ActivityWorld) -> None:
    pull_activity(world.world.marketing, world.world.box, now=NOW)
    before = kept_days(world)
    cut = FastAPI()

    @cut.get("/api/v1/activity/daily.ndjson")
    def daily() -> StreamingResponse:  # two lines, then the connection ends without its count
        lines = [{"member": "L1", "day": NOW.date().isoformat(), "type": "login", "count": 99}]
        return StreamingResponse(iter([orjson.dumps(line) + b"\n" for line in lines * 2]))

    with serve_on_loopback(cut) as cut_url:
        world.world.configure(url=cut_url)
        with pytest.raises(ConnectionFailed, match="stopped short"):
            pull_activity(world.world.marketing, world.world.box, now=NOW + timedelta(hours=1))

    assert kept_days(world) == before
    with world.world.marketing.session() as session:
        assert len(session.scalars(select(ActivityPull)).all()) == 1


# the command and its output are the same on either backend; the figures are checked on both
@pytest.mark.parametrize("backend", ["sqlite"])
def test_kith_connection_pull_activity(
    world: ActivityWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with kith_command(monkeypatch, world.world.marketing, tmp_path / "cli") as kith:
        monkeypatch.setenv("KITH_SECRET_KEY", "test-secret-key")  # the settings fixture's
        get_settings.cache_clear()
        result = kith("connection", "pull-activity", "--now", NOW.isoformat(), "--json")
        again = kith("connection", "pull-activity", "--since", "yesterday")

    assert result[0] == 0, result[1]
    shown: dict[str, Any] = orjson.loads(result[1])
    assert shown["day_rows"] == len(world.daily_counts(FIRST_SINCE, NOW))
    assert shown["since"] == FIRST_SINCE.isoformat() and shown["scores"] is None
    assert again[0] == 2 and "--since" in again[1]
    assert date.fromisoformat(shown["through"]) == NOW.date()
