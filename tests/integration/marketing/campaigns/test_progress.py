"""Campaigns driven through days with `now` (no sleeping), both sides joined over real HTTP and
mailings delivered to a real SMTP server: activation modes, once per address, Wait and Decide,
the hourly sync enrolling newcomers, versions, and ticks run twice or killed midway."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kith.app import create_worker, start
from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.errors import InvalidInput
from kith.marketing.app import create_marketing_app
from kith.marketing.campaigns.definition import (
    activate,
    campaign_json,
    change_campaign,
    create_campaign,
    deactivate,
    get_campaign,
    planned_changes,
)
from kith.marketing.campaigns.enrollments import enrollment_views
from kith.marketing.campaigns.models import Enrollment
from kith.marketing.groups.target_groups import create_group, get_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.mailings.smtp_url import parse_smtp_url
from kith.marketing.models import GroupMember, SyncRun
from kith.marketing.scheduler import TickReport, run_tick, tick
from kith.marketing.scoring.compute import apply_model
from kith.web.loopback import serve_on_loopback
from tests.support.connection_world import World, joined_world
from tests.support.smtp_sink import SmtpSink

T0 = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WELCOME_STEPS: list[dict[str, Any]] = [
    {"id": "welcome", "mailing": "Welcome"},
    {"id": "wait", "wait": {"days": 3}},
    {
        "id": "posted",
        "decide": {"member_of": "Posters"},
        "yes": [{"id": "thanks", "mailing": "Thanks"}],
        "no": [{"id": "nudge", "mailing": "Nudge"}],
    },
]


def members_in(*keys: str) -> dict[str, Any]:
    return {"field": "contact_key", "op": "in", "value": list(keys) or ["nobody"]}


class Campaigns:
    """The joined world plus what campaign tests do: define, tick, and read the mail sink."""

    def __init__(self, world: World, sink: SmtpSink, lists: dict[str, str]) -> None:
        self.world = world
        self.sink = sink
        self.lists = lists

    def define(self, steps: list[dict[str, Any]] = WELCOME_STEPS, **fields: Any) -> int:
        definition = {
            "name": "Welcome",
            "activation": {"group": "Newcomers", "mode": "both"},
            "steps": steps,
        } | fields
        with self.world.marketing.transaction() as session:
            campaign_id = create_campaign(session, definition, now=T0).id
            activate(session, str(campaign_id), now=T0)
        return campaign_id

    def tick(self, at: datetime) -> TickReport:
        return run_tick(self.world.marketing, self.world.settings, now=at)

    def community_list(self, name: str, *keys: str) -> None:
        self.world.change_criteria(self.lists[name], members_in(*keys))

    def received(self) -> Counter[tuple[str, str]]:
        """(recipient, subject) -> how many times the sink received it."""
        return Counter(
            (recipient, str(message.message["Subject"]))
            for message in self.sink.messages
            for recipient in message.recipients
        )

    def enrolled(self, campaign_id: int) -> dict[str, str | None]:
        """email -> the step each enrollment is at (None: done)."""
        with self.world.marketing.session() as session:
            views = enrollment_views(session, get_campaign(session, campaign_id))
        return {view["email"]: view["step"] for view in views}

    def show(self, campaign_id: int, at: datetime) -> dict[str, Any]:
        with self.world.marketing.session() as session:
            return campaign_json(session, get_campaign(session, campaign_id), now=at)


@pytest.fixture
def campaigns(
    community_db: Database, marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> Iterator[Campaigns]:
    """Members m1..m6 with subscribers; the community lists Newcomers (m1, m2) and Posters
    (nobody), synced; the mailings Welcome, Thanks and Nudge."""
    settings = settings.model_copy(
        update={"marketing_db_url": marketing_db.url, "smtp_url": smtp_sink.url()}
    )
    start(settings)
    with joined_world(community_db, marketing_db, settings) as world:
        world.members(*((f"m{n}", f"L{n}", f"m{n}@example.org") for n in range(1, 7)))
        world.subscribers(*((f"m{n}@example.org", f"L{n}", "subscribed") for n in range(1, 7)))
        lists = {
            "Newcomers": world.list("Informz Newcomers", members_in("m1", "m2")),
            "Posters": world.list("Informz Posters", members_in()),
        }
        world.refresh()
        world.sync("Newcomers")
        world.sync("Posters", allow_empty=True)
        with marketing_db.transaction() as session:
            for name in ("Welcome", "Thanks", "Nudge"):
                create_mailing(
                    session,
                    MailingDraft(
                        name=name,
                        subject=f"{name} {{{{ first_name | default('friend') }}}}",
                        html=f"<p>{name}</p>",
                        include=["Newcomers"],
                    ),
                    now=T0,
                )
        yield Campaigns(world, smtp_sink, lists)


def test_wait_and_decide_branch_on_the_membership_the_hourly_sync_keeps_fresh(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define()

    first = campaigns.tick(T0)
    assert {s.group for s in first.syncs} == {"Newcomers", "Posters"}
    assert first.campaigns["Welcome"].enrolled == 2
    assert campaigns.received() == {
        ("m1@example.org", "Welcome friend"): 1,
        ("m2@example.org", "Welcome friend"): 1,
    }
    assert campaigns.enrolled(campaign_id) == {"m1@example.org": "wait", "m2@example.org": "wait"}

    campaigns.community_list("Posters", "m1")  # m1 posts during the wait
    campaigns.tick(T0 + DAY)  # the hourly sync of the Decide's group sees it
    assert campaigns.enrolled(campaign_id) == {"m1@example.org": "wait", "m2@example.org": "wait"}

    campaigns.tick(T0 + 3 * DAY)
    assert campaigns.enrolled(campaign_id) == {"m1@example.org": None, "m2@example.org": None}
    received = campaigns.received()
    assert received[("m1@example.org", "Thanks friend")] == 1
    assert received[("m2@example.org", "Nudge friend")] == 1
    assert ("m1@example.org", "Nudge friend") not in received
    steps = {step["id"]: step for step in campaigns.show(campaign_id, T0 + 3 * DAY)["steps"]}
    assert steps["posted"]["outcomes"] == {"yes": 1, "no": 1}
    assert steps["welcome"]["outcomes"] == {"sent": 2}
    assert steps["thanks"]["outcomes"] == {"sent": 1}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("at_once", {"m1@example.org", "m2@example.org"}),
        ("over_time", {"m3@example.org"}),
        ("both", {"m1@example.org", "m2@example.org", "m3@example.org"}),
    ],
)
def test_activation_modes_enroll_the_group_at_activation_or_its_newcomers(
    campaigns: Campaigns, mode: str, expected: set[str]
) -> None:
    campaign_id = campaigns.define(
        [{"id": "welcome", "mailing": "Welcome"}], activation={"group": "Newcomers", "mode": mode}
    )
    campaigns.tick(T0)
    campaigns.community_list("Newcomers", "m1", "m2", "m3")  # m3 joins the community
    campaigns.tick(T0 + 30 * timedelta(minutes=1))  # not yet the next hourly sync (12:55)
    assert "m3@example.org" not in campaigns.enrolled(campaign_id)

    report = campaigns.tick(T0 + HOUR)
    assert [s.group for s in report.syncs] == ["Newcomers"]
    assert set(campaigns.enrolled(campaign_id)) == expected
    assert {recipient for recipient, _ in campaigns.received()} == expected


def test_an_address_goes_through_a_campaign_once_even_leaving_and_coming_back(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define([{"id": "welcome", "mailing": "Welcome"}])
    campaigns.tick(T0)
    campaigns.community_list("Newcomers", "m2")  # m1 leaves the group ...
    campaigns.tick(T0 + HOUR)
    campaigns.community_list("Newcomers", "m1", "m2")  # ... and comes back
    campaigns.tick(T0 + 2 * HOUR)

    assert campaigns.enrolled(campaign_id) == {"m1@example.org": None, "m2@example.org": None}
    assert campaigns.received()[("m1@example.org", "Welcome friend")] == 1


def test_a_second_tick_for_the_same_moment_does_nothing_again(campaigns: Campaigns) -> None:
    campaigns.define()
    campaigns.tick(T0)
    again = campaigns.tick(T0)

    assert again.syncs == []
    assert again.campaigns["Welcome"].enrolled == 0
    assert again.campaigns["Welcome"].steps == {}
    assert sum(campaigns.received().values()) == 2
    with campaigns.world.marketing.session() as session:
        hourly = session.scalar(select(func.count()).where(SyncRun.trigger == "hourly"))
    assert hourly == 2  # Newcomers and Posters, once each


class Killed(Exception):
    """Stands for the process dying at this point."""


def test_a_tick_killed_midway_is_finished_by_the_next_without_repeating_or_skipping(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define()
    world = campaigns.world

    def dies_before_sending(mailing_id: int) -> None:
        raise Killed

    transport_settings = world.settings
    with pytest.raises(Killed):  # the deliveries are written, then the process dies
        tick(
            world.marketing,
            transport_settings,
            now=T0,
            transport=_transport(transport_settings),
            deliver=dies_before_sending,
        )
    assert campaigns.received() == {}
    assert campaigns.enrolled(campaign_id) == {
        "m1@example.org": "welcome",
        "m2@example.org": "welcome",
    }
    campaigns.tick(T0 + timedelta(minutes=1))  # the next tick (a new process)
    campaigns.tick(T0 + timedelta(minutes=2))
    assert campaigns.received() == {
        ("m1@example.org", "Welcome friend"): 1,
        ("m2@example.org", "Welcome friend"): 1,
    }
    assert campaigns.enrolled(campaign_id) == {"m1@example.org": "wait", "m2@example.org": "wait"}


def test_a_decide_can_ask_whether_the_person_opened_a_campaign_mailing(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define(
        [
            {"id": "welcome", "mailing": "Welcome"},
            {"id": "wait", "wait": {"hours": 2}},
            {
                "id": "opened",
                "decide": {"opened": "any"},
                "yes": [{"id": "thanks", "mailing": "Thanks"}],
                "no": [{"id": "nudge", "mailing": "Nudge"}],
            },
        ]
    )
    campaigns.tick(T0)
    (m1_message,) = [m for m in campaigns.sink.messages if m.recipients == ("m1@example.org",)]
    html = next(
        part.get_content()
        for part in m1_message.message.walk()
        if part.get_content_type() == "text/html"
    )
    pixel = html.split('<img src="', 1)[1].split('"', 1)[0]
    world = campaigns.world
    app = create_marketing_app(world.marketing, world.settings)
    with serve_on_loopback(app) as base_url:
        path = pixel.removeprefix(world.settings.public_url).removeprefix("/marketing")
        assert httpx.get(f"{base_url}{path}").status_code == 200

    campaigns.tick(T0 + 2 * HOUR)
    received = campaigns.received()
    assert received[("m1@example.org", "Thanks friend")] == 1
    assert received[("m2@example.org", "Nudge friend")] == 1
    steps = {s["id"]: s for s in campaigns.show(campaign_id, T0 + 2 * HOUR)["steps"]}
    assert steps["opened"]["outcomes"] == {"yes": 1, "no": 1}


def test_notify_and_profile_steps_tell_an_admin_and_change_a_static_group(
    campaigns: Campaigns,
) -> None:
    with campaigns.world.marketing.transaction() as session:
        create_group(session, name="Welcomed", now=T0)
    campaigns.define(
        [
            {"id": "tag", "profile": {"add_to": "Welcomed"}},
            {"id": "tell", "notify": "community-team@example.org", "subject": "New members"},
        ]
    )
    campaigns.tick(T0)
    campaigns.tick(T0)  # nothing twice

    received = campaigns.received()
    assert received == {("community-team@example.org", "New members"): 1}
    (notice,) = campaigns.sink.messages
    body = notice.message.get_content()
    assert "m1@example.org" in body and "m2@example.org" in body
    with campaigns.world.marketing.session() as session:
        group_id = get_group(session, "Welcomed").id
        held = session.scalar(select(func.count()).where(GroupMember.group_id == group_id))
    assert held == 2


def test_editing_a_reached_step_makes_a_version_only_new_enrollments_follow(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define()
    campaigns.tick(T0)  # m1 and m2 passed "welcome" and wait at "wait" (version 1)
    changed_steps = [{**WELCOME_STEPS[0], "mailing": "Thanks"}, *WELCOME_STEPS[1:]]
    with campaigns.world.marketing.transaction() as session:
        definition = {
            "name": "Welcome",
            "activation": {"group": "Newcomers", "mode": "both"},
            "steps": changed_steps,
        }
        _, new_version = change_campaign(session, str(campaign_id), definition, now=T0)
    assert new_version
    campaigns.community_list("Newcomers", "m1", "m2", "m3")
    campaigns.tick(T0 + HOUR)

    with campaigns.world.marketing.session() as session:
        rows = session.execute(select(Enrollment.email_key, Enrollment.version_id))
        versions = {email: version for email, version in rows}
    assert versions["m1@example.org"] == versions["m2@example.org"] != versions["m3@example.org"]
    received = campaigns.received()
    assert received[("m3@example.org", "Thanks friend")] == 1
    assert ("m3@example.org", "Welcome friend") not in received
    assert campaigns.show(campaign_id, T0 + HOUR)["version"] == 2


def test_what_saving_an_edit_does_is_said_before_and_is_what_saving_does(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define()
    campaigns.tick(T0)  # everyone passed "welcome" and waits at "wait"
    steps = [
        {**WELCOME_STEPS[0], "mailing": "Thanks"},
        WELCOME_STEPS[1],
        {**WELCOME_STEPS[2], "no": [{"id": "nudge", "mailing": "Thanks"}]},
    ]
    definition = {"name": "Welcome", "activation": {"group": "Newcomers"}, "steps": steps}
    with campaigns.world.marketing.session() as session:
        planned = planned_changes(session, str(campaign_id), definition)
    assert campaigns.show(campaign_id, T0)["version"] == 1  # nothing saved

    with campaigns.world.marketing.transaction() as session:
        _, new_version = change_campaign(session, str(campaign_id), definition, now=T0)

    assert planned.new_version == ["welcome"] and planned.in_place == ["nudge"]
    assert new_version


def test_editing_steps_nobody_reached_changes_them_in_place(campaigns: Campaigns) -> None:
    campaign_id = campaigns.define()
    campaigns.tick(T0)  # everyone waits at "wait": the Decide and its branches are unreached
    steps = [*WELCOME_STEPS[:2], {**WELCOME_STEPS[2], "no": [{"id": "nudge", "mailing": "Thanks"}]}]
    with campaigns.world.marketing.transaction() as session:
        definition = {"name": "Welcome", "activation": {"group": "Newcomers"}, "steps": steps}
        _, new_version = change_campaign(session, str(campaign_id), definition, now=T0)
    assert not new_version

    campaigns.tick(T0 + 3 * DAY)
    received = campaigns.received()
    assert received[("m1@example.org", "Thanks friend")] == 1
    assert received[("m2@example.org", "Thanks friend")] == 1
    assert campaigns.show(campaign_id, T0 + 3 * DAY)["version"] == 1


def test_a_deactivated_campaign_neither_enrolls_nor_moves_until_activated(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define()
    with campaigns.world.marketing.transaction() as session:
        deactivate(session, str(campaign_id), now=T0)
    report = campaigns.tick(T0)
    assert report.campaigns == {} and report.syncs == []
    with campaigns.world.marketing.transaction() as session:
        activate(session, str(campaign_id), now=T0 + HOUR)
    campaigns.tick(T0 + HOUR)
    assert set(campaigns.enrolled(campaign_id)) == {"m1@example.org", "m2@example.org"}


def test_the_hourly_sync_follows_the_configured_minute_and_interval(
    campaigns: Campaigns,
) -> None:
    campaigns.define()
    world = campaigns.world
    world.settings = world.settings.model_copy(
        update={"hourly_sync_minute": 5, "hourly_sync_interval_minutes": 15}
    )
    synced_at = []
    for minute in range(0, 61, 5):  # 12:00 ... 13:00
        report = campaigns.tick(T0 + timedelta(minutes=minute))
        if report.syncs:
            synced_at.append(minute)
    assert synced_at == [0, 5, 20, 35, 50]  # 12:00 catches up slot 11:50


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"decide": {"member_of": "Posters"}}], "step 1: a Decide must come right after a Wait"),
        ([{"mailing": "Nope"}], "step 1: no mailing is named 'Nope'"),
        ([{"wait": {"weeks": 2}}], "step 1: a Wait counts days, hours, minutes, not 'weeks'"),
        (
            [{"wait": {"days": 1}}, {"id": "ask", "decide": {"member_of": "Ghosts"}}],
            "step ask: no target group is named 'Ghosts'",
        ),
        (
            [{"end": True}, {"mailing": "Welcome"}],
            "step 2: nothing can follow an End in the same list",
        ),
        ([{"profile": {"add_to": "Newcomers"}}], "'Newcomers' is a community group"),
        ([{"wait": {"until": {"weekday": "someday"}}}], "step 1: a Wait until names a weekday"),
    ],
)
def test_a_definition_with_errors_is_refused_naming_the_step(
    campaigns: Campaigns, steps: list[dict[str, Any]], message: str
) -> None:
    with (
        pytest.raises(InvalidInput, match=_escaped(message)),
        campaigns.world.marketing.transaction() as session,
    ):
        create_campaign(
            session,
            {"name": "Broken", "activation": {"group": "Newcomers"}, "steps": steps},
            now=T0,
        )


def _escaped(text: str) -> str:
    return re.escape(text)


def _transport(settings: Settings) -> SmtpTransport:
    assert settings.smtp_url is not None
    return SmtpTransport(parse_smtp_url(settings.smtp_url))


def test_start_and_stop_dates_bound_enrolling_and_a_stopped_campaign_finishes(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define(
        [{"id": "welcome", "mailing": "Welcome"}, {"id": "wait", "wait": {"days": 1}}],
        starts_at=(T0 + HOUR).isoformat(),
        stops_at=(T0 + 3 * HOUR).isoformat(),
    )
    assert campaigns.tick(T0).campaigns["Welcome"].enrolled == 0  # not started yet
    assert campaigns.tick(T0 + HOUR).campaigns["Welcome"].enrolled == 2
    campaigns.community_list("Newcomers", "m1", "m2", "m3")
    report = campaigns.tick(T0 + 3 * HOUR)  # stopped: m3 is not enrolled, m1 and m2 wait on
    assert report.campaigns["Welcome"].enrolled == 0 and report.finished == []

    report = campaigns.tick(T0 + HOUR + DAY)
    assert report.finished == ["Welcome"]
    assert campaigns.show(campaign_id, T0 + HOUR + DAY)["status"] == "finished"
    assert set(campaigns.enrolled(campaign_id)) == {"m1@example.org", "m2@example.org"}


def test_the_tick_pulls_community_activity_daily_and_rescores_hourly(
    campaigns: Campaigns,
) -> None:
    with campaigns.world.marketing.transaction() as session:
        apply_model(
            session,
            {
                "rules": [{"name": "newcomer", "group": "Newcomers", "points": 5}],
                "grades": [{"grade": "A", "min_score": 5}],
            },
            now=T0,
        )
    first = campaigns.tick(T0 + HOUR)
    assert (first.pulled, first.rescored) == ("completed", False)  # the pull rescored
    again = campaigns.tick(T0 + HOUR)
    assert (again.pulled, again.rescored) == (None, False)
    campaigns.community_list("Newcomers", "m1", "m2", "m3")
    campaigns.world.sync("Newcomers")
    an_hour_on = campaigns.tick(T0 + 2 * HOUR)
    assert (an_hour_on.pulled, an_hour_on.rescored) == (None, True)
    assert campaigns.world.group_remote_ids("Grade A") == {"L1", "L2", "L3"}
    assert campaigns.tick(T0 + DAY + HOUR).pulled == "completed"


def test_a_member_who_enters_a_live_group_is_enrolled_and_mailed_by_a_worker_at_once(
    campaigns: Campaigns,
) -> None:
    campaign_id = campaigns.define(
        [{"id": "welcome", "mailing": "Welcome"}],
        activation={"group": "Newcomers", "mode": "over_time"},
    )
    campaigns.tick(utcnow())  # the campaign starts: who is in the group now stays out
    live = campaigns.world.settings.model_copy(
        update={"list_pass_seconds": 0.2, "live_sync_seconds": 0.2}
    )
    worker = create_worker(live, tick_seconds=3600)  # no tick of its own within the test
    worker.start()
    try:
        campaigns.community_list("Newcomers", "m1", "m2", "m3")  # m3 joins the community list
        deadline = time.monotonic() + 30
        while not campaigns.received():
            assert time.monotonic() < deadline, campaigns.enrolled(campaign_id)
            time.sleep(0.2)
    finally:
        worker.stop()

    assert campaigns.enrolled(campaign_id) == {"m3@example.org": None}
    assert campaigns.received() == {("m3@example.org", "Welcome friend"): 1}
    with campaigns.world.marketing.session() as session:
        assert session.scalars(select(SyncRun.trigger).order_by(SyncRun.id)).all()[-1] == "live"
