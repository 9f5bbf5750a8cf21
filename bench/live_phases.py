"""The live benchmark's steps run in child processes (bench.live): setting up the ten live lists,
their groups and the campaign, and the floor's raw inserts of the same events.

Run through bench.phases, like the connection's steps (bench.sync_phases).
"""

from __future__ import annotations

from typing import Any

from bench.sync_phases import Config, _box, super_admin

# The ten live lists: who did one of these in the last day, once or twice
LOAD_TYPES = (
    "discussion_reply",
    "thread_started",
    "library_entry",
    "event_registration",
    "event_attended",
)
LIVE_LISTS = {
    f"Informz Live {kind} x{times}": {"activity": [kind], "min": times, "within_days": 1}
    for kind in LOAD_TYPES
    for times in (1, 2)
}
# The campaign's activation list: an activity the load never posts
WELCOME_TYPE = "badge_awarded"
WELCOME_LIST = "Informz Live Welcome"
WELCOME_CRITERIA = {"activity": [WELCOME_TYPE], "min": 1, "within_days": 1}
CAMPAIGN = "Live welcome"


def live_setup(config: Config) -> dict[str, Any]:
    """The credential, the eleven lists and the Integration Settings (pointing at `base_url`,
    served later), and the members to post activity for: members with a legacy key whose
    subscriber is subscribed, so that each belongs in the group of a list they enter."""
    from sqlalchemy import select

    from kith.clock import utcnow
    from kith.community.credentials import create_credential
    from kith.community.lists import create_list
    from kith.community.models import Member
    from kith.db import Database
    from kith.marketing.integration import configure_integration
    from kith.marketing.models import Subscriber

    now = utcnow()
    marketing = Database(config["marketing_url"])
    with marketing.session() as session:
        subscribed = set(
            session.scalars(
                select(Subscriber.remote_id).where(
                    Subscriber.status == "subscribed", Subscriber.remote_id.is_not(None)
                )
            )
        )
    community = Database(config["community_url"])
    with community.transaction() as session:
        admin = super_admin(session)
        issued = create_credential(session, name="Marketing (live bench)", by=admin, now=now)
        for name, criteria in (*LIVE_LISTS.items(), (WELCOME_LIST, WELCOME_CRITERIA)):
            create_list(session, name=name, criteria=criteria, by=admin, now=now)
        members = [
            [contact_key, legacy_key]
            for contact_key, legacy_key in session.execute(
                select(Member.contact_key, Member.legacy_contact_key)
                .where(Member.legacy_contact_key.is_not(None))
                .order_by(Member.id)
            ).tuples()
            if legacy_key in subscribed
        ]
    community.dispose()
    with marketing.transaction() as session:
        configure_integration(
            session,
            box=_box(config),
            now=now,
            url=config["base_url"],
            iam_key=issued.credential.iam_key,
            password=issued.password,
            active=True,
        )
    marketing.dispose()
    credential = {"iam_key": issued.credential.iam_key, "password": issued.password}
    return {"members": members, "credential": credential}


def live_groups(config: Config) -> dict[str, Any]:
    """Refresh (the eleven groups), sync each in full once so that it is live, pull the day's
    activity, and start the over-time campaign on the welcome group with a mailing as its first
    step."""
    from sqlalchemy import select

    from kith.clock import utcnow
    from kith.config import Settings
    from kith.connection.activity import run_pull
    from kith.connection.client import client_for
    from kith.connection.refresh import refresh_groups
    from kith.connection.runs import SyncRuns
    from kith.db import Database
    from kith.marketing.campaigns.definition import activate, create_campaign
    from kith.marketing.mailings.definition import MailingDraft, create_mailing
    from kith.marketing.models import TargetGroup
    from kith.marketing.scheduler import run_tick

    now = utcnow()
    settings = Settings(
        data_dir=config["data_dir"],
        secret_key=config["secret_key"],
        marketing_db_url=config["marketing_url"],
        community_db_url=config["community_url"],
    )
    marketing = Database(config["marketing_url"])
    with marketing.transaction() as session, client_for(session, _box(config)) as client:
        refresh_groups(session, client, now=now)
    with marketing.session() as session:
        groups = dict(
            session.execute(
                select(TargetGroup.name, TargetGroup.id).where(TargetGroup.kind == "community")
            )
            .tuples()
            .all()
        )
    names = [name.removeprefix("Informz ") for name in (*LIVE_LISTS, WELCOME_LIST)]
    runs = SyncRuns(marketing, settings)
    for name in names:
        run = runs.here(groups[name], trigger="manual", now=now, allow_empty=True)
        if run.status != "completed":
            raise SystemExit(f"the first sync of {name!r} ended {run.status}: {run.error}")
    welcome = WELCOME_LIST.removeprefix("Informz ")
    with marketing.transaction() as session:
        draft = MailingDraft(
            name="Welcome", subject="Welcome {{ first_name }}", html="<p>Hi</p>", include=[welcome]
        )
        create_mailing(session, draft, now=now)
        definition = {
            "name": CAMPAIGN,
            "activation": {"group": welcome, "mode": "over_time"},
            "steps": [{"id": "welcome", "mailing": "Welcome"}],
        }
        activate(session, str(create_campaign(session, definition, now=now).id), now=now)
    # the day's activity pull, which a running installation made earlier today (the tick makes
    # one a day): its first, just after Active, would otherwise run beside the load
    run_pull(marketing, settings)
    run_tick(marketing, settings, now=utcnow())  # the campaign starts; who enters next enrolls
    marketing.dispose()
    return {"groups": {name: groups[name] for name in names}}


def live_floor(config: Config) -> dict[str, Any]:
    """The raw driver's inserts of the same events, in transactions of the same batches, into
    the floor's activity table: what recording them costs without HTTP, kith or live lists."""
    from datetime import datetime
    from time import perf_counter

    from bench.raw import RawDatabase

    raw = RawDatabase(config["backend"], config["floor_raw"])
    member_ids = dict(raw.all("SELECT contact_key, id FROM members"))
    type_ids = raw.names("activity_types")
    insert = raw.sql(
        "INSERT INTO activity_events (event_id, member_id, type_id, occurred_at, community_id)"
        " VALUES (?, ?, ?, ?, NULL)"
    )
    batches = [
        [
            (
                event["event_id"],
                member_ids[event["contact_key"]],
                type_ids[event["type"]],
                raw.value(datetime.fromisoformat(event["occurred_at"])),
            )
            for event in batch
        ]
        for batch in config["batches"]
    ]
    started = perf_counter()
    for rows in batches:
        raw.begin()
        raw.connection.cursor().executemany(insert, rows)
        raw.commit()
    seconds = perf_counter() - started
    raw.close()
    return {"seconds": seconds, "events": sum(len(rows) for rows in batches)}
