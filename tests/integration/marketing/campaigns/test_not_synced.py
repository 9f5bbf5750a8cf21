"""Which campaigns say they work from a group left unsynced, on SQLite and PostgreSQL: through
the activation group or a Decide step's group, directly or inside a compound group; never
synced means it enrolls nobody; a campaign using only synced groups says nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from kith.db import Database
from kith.marketing.campaigns.definition import create_campaign, get_campaign
from kith.marketing.campaigns.not_synced import campaigns_not_synced
from kith.marketing.groups.community import add_community_group
from kith.marketing.groups.target_groups import create_compound_group, create_group
from kith.marketing.models import SyncRun, TargetGroup
from tests.support.import_files import NOW

FAILED_AT = NOW + timedelta(hours=1)
REFUSED = "the community API refused IAM key 'k' (HTTP 401)"


def failed_sync(session: Session, group: TargetGroup) -> None:
    """What a refused sync leaves: a failed run, and the group marked failed with why."""
    session.add(
        SyncRun(
            group_id=group.id,
            trigger="manual",
            status="failed",
            list_key=group.list_key,
            edition="online-community",
            requested_at=FAILED_AT,
            heartbeat_at=FAILED_AT,
            finished_at=FAILED_AT,
            error=REFUSED,
        )
    )
    group.sync_status, group.sync_error = "failed", REFUSED


@pytest.fixture
def db(marketing_db: Database) -> Database:
    """Posters (synced once, then failed), Joiners (never synced, failed), Readers (static),
    "Active posters" (a compound of Posters); three campaigns using them."""
    with marketing_db.transaction() as session:
        posters = add_community_group(session, "Posters", list_key="cul_posters", now=NOW)
        posters.last_synced_at = NOW
        joiners = add_community_group(session, "Joiners", list_key="cul_joiners", now=NOW)
        for group in (posters, joiners):
            failed_sync(session, group)
        create_group(session, "Readers", now=NOW)
        create_compound_group(
            session, "Active posters", include=["Posters"], include_mode="any", now=NOW
        )
        campaigns = {
            "Welcome": ("Joiners", "Readers"),
            "Thank": ("Readers", "Active posters"),
            "Quiet": ("Readers", "Readers"),
        }
        for name, (activation, asked) in campaigns.items():
            written = {
                "name": name,
                "activation": {"group": activation, "mode": "over_time"},
                "steps": [
                    {"id": "wait", "wait": {"days": 1}},
                    {"id": "asked", "decide": {"member_of": asked}, "yes": [], "no": []},
                ],
            }
            create_campaign(session, written, now=NOW)
    return marketing_db


def test_each_campaign_names_the_unsynced_group_it_works_from_and_how(db: Database) -> None:
    with db.session() as session:
        campaigns = [get_campaign(session, name) for name in ("Welcome", "Thank", "Quiet")]
        found = campaigns_not_synced(session, campaigns)
        said = {
            campaign.name: [
                (each.group.name, each.use, each.failed_at, each.enrolls_nobody)
                for each in found.get(campaign.id, [])
            ]
            for campaign in campaigns
        }

    assert said == {
        "Welcome": [("Joiners", "activation group", FAILED_AT, True)],
        "Thank": [("Posters", "Decide group", FAILED_AT, False)],
        "Quiet": [],
    }
