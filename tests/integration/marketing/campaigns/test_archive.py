"""Putting a campaign away, on SQLite and PostgreSQL: one never activated is deleted with its
steps; one that ran is refused deletion and archived instead, which stops it, keeps its
enrollments, hides it from Campaigns and refuses activation until it is unarchived."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kith.db import Database
from kith.errors import Conflict
from kith.marketing.campaigns.archive import archive_campaign, delete_campaign, unarchive_campaign
from kith.marketing.campaigns.definition import activate, create_campaign, get_campaign
from kith.marketing.campaigns.models import CampaignVersion, Enrollment
from kith.marketing.campaigns.progress import enroll
from kith.marketing.web.search import search_campaigns
from tests.support.bounce_world import add_readers
from tests.support.import_files import NOW


@pytest.fixture
def db(marketing_db: Database) -> Database:
    """The group Joined (ann, bo) and the campaigns "Plan" (never activated) and "Welcome"
    (activated, both enrolled)."""
    add_readers(marketing_db, ("ann@example.org", "bo@example.org"), group_name="Joined")
    with marketing_db.transaction() as session:
        for name in ("Plan", "Welcome"):
            written = {
                "name": name,
                "activation": {"group": "Joined", "mode": "at_once"},
                "steps": [{"id": "wait", "wait": {"days": 7}}],
            }
            create_campaign(session, written, now=NOW)
        enroll(session, activate(session, "Welcome", now=NOW), now=NOW)
    return marketing_db


def listed(db: Database, *, archived: bool = False) -> list[str]:
    with db.session() as session:
        return [campaign.name for campaign in search_campaigns(session, "", archived=archived).rows]


def test_a_campaign_never_activated_is_deleted_with_its_steps(db: Database) -> None:
    with db.transaction() as session:
        plan_id = get_campaign(session, "Plan").id
        delete_campaign(session, "Plan")

    with db.session() as session:
        versions = select(func.count()).where(CampaignVersion.campaign_id == plan_id)
        assert session.scalar(versions) == 0
    assert listed(db) == ["Welcome"]


def test_a_running_campaign_is_not_deleted_but_archived_which_stops_it(db: Database) -> None:
    with (
        pytest.raises(Conflict, match="'Welcome' has run: archive it instead"),
        db.transaction() as session,
    ):
        delete_campaign(session, "Welcome")

    with db.transaction() as session:
        archived = archive_campaign(session, "Welcome", now=NOW + timedelta(days=1))
        assert archived.status == "inactive"

    assert listed(db) == ["Plan"]
    assert listed(db, archived=True) == ["Plan", "Welcome"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 2
    with (
        pytest.raises(Conflict, match="is archived: unarchive it to activate it"),
        db.transaction() as session,
    ):
        activate(session, "Welcome", now=NOW + timedelta(days=2))


def test_an_unarchived_campaign_is_listed_again_still_stopped_until_activated(db: Database) -> None:
    with db.transaction() as session:
        archive_campaign(session, "Welcome", now=NOW)
    with db.transaction() as session:
        assert unarchive_campaign(session, "Welcome", now=NOW).status == "inactive"
        assert activate(session, "Welcome", now=NOW).status == "active"
    assert listed(db) == ["Plan", "Welcome"]


def test_a_campaign_never_activated_is_not_archived_there_being_nothing_to_keep(
    db: Database,
) -> None:
    nothing_to_keep = "'Plan' never ran, so it has nothing to keep: delete it instead"
    with pytest.raises(Conflict, match=nothing_to_keep), db.transaction() as session:
        archive_campaign(session, "Plan", now=NOW)
