"""Deleting a target group, on SQLite and PostgreSQL: refused while a compound group, a mailing
or a campaign (its activation group, or a step of a version still read or run) uses it, with a
message naming them; allowed once nothing does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.errors import Conflict
from kith.marketing.campaigns.definition import (
    campaign_json,
    change_campaign,
    create_campaign,
    get_campaign,
)
from kith.marketing.campaigns.progress import StepRunner, enroll
from kith.marketing.groups import target_groups as groups
from kith.marketing.groups.deletion import delete_group
from kith.marketing.groups.members import change_members
from kith.marketing.mailings.definition import MailingDraft, change_mailing, create_mailing
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from tests.support.import_files import NOW, csv_rows

GROUPS = ("Joined", "Posted", "Commented", "Thanked", "Other")


def welcome(posted: str = "Posted", wait_days: int = 1) -> dict[str, Any]:
    """Whoever is in Joined waits, then is thanked (Profile) if in `posted`."""
    return {
        "name": "Welcome",
        "activation": {"group": "Joined", "mode": "at_once"},
        "steps": [
            {"id": "wait", "wait": {"days": wait_days}},
            {
                "id": "posted",
                "decide": {"member_of": posted},
                "yes": [{"id": "thank", "profile": {"add_to": "Thanked"}}],
                "no": [],
            },
        ],
    }


@pytest.fixture
def world(marketing_db: Database) -> Database:
    """Two subscribers in Joined; the other groups empty."""
    with marketing_db.transaction() as session:
        rows = [SubscriberRow(2, "ann@example.org", "R1"), SubscriberRow(3, "bo@example.org", "R2")]
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())
        for name in GROUPS:
            groups.create_group(session, name, now=NOW)
        report = change_members(
            session, groups.get_group(session, "Joined"), csv_rows("remote_id", "R1", "R2"), now=NOW
        )
        assert report.rejected == []
    return marketing_db


def refusal(db: Database, name: str) -> str:
    with pytest.raises(Conflict) as refused, db.transaction() as session:
        delete_group(session, name)
    return str(refused.value)


def group_names(db: Database) -> list[str]:
    with db.session() as session:
        return [summary.group.name for summary in groups.list_groups(session)]


def test_a_group_a_campaign_activates_on_or_names_in_a_step_is_kept_naming_them(
    world: Database,
) -> None:
    with world.transaction() as session:
        create_campaign(session, welcome(), now=NOW)
        nurture = {**welcome(), "name": "Nurture", "activation": {"group": "Posted"}}
        create_campaign(session, nurture, now=NOW)

    assert refusal(world, "Joined") == (
        "the group 'Joined' is used by the campaign 'Welcome' (activation group); "
        "remove it from there first"
    )
    assert refusal(world, "Posted") == (
        "the group 'Posted' is used by the campaigns 'Nurture' (activation group, step "
        "'posted' of version 1), 'Welcome' (step 'posted' of version 1); "
        "remove it from there first"
    )
    assert refusal(world, "thanked") == (
        "the group 'Thanked' is used by the campaigns 'Nurture' (step 'thank' of version 1), "
        "'Welcome' (step 'thank' of version 1); remove it from there first"
    )
    assert group_names(world) == sorted(GROUPS)


def test_a_group_only_an_old_version_names_is_kept_until_nobody_is_in_that_version(
    world: Database,
) -> None:
    with world.transaction() as session:
        campaign = create_campaign(session, welcome("Posted"), now=NOW)
        assert enroll(session, campaign, now=NOW) == 2  # both wait in version 1
        # the reached Wait changes: a version 2, which asks about Commented instead
        _, new_version = change_campaign(
            session, "Welcome", welcome("Commented", wait_days=2), now=NOW
        )
        assert new_version
    assert refusal(world, "Posted") == (
        "the group 'Posted' is used by the campaign 'Welcome' (step 'posted' of version 1); "
        "remove it from there first"
    )
    assert "(step 'posted' of version 2)" in refusal(world, "Commented")

    StepRunner(world, campaign.id, deliver=_no_mailings, now=NOW + timedelta(days=3)).run()
    with world.transaction() as session:
        delete_group(session, "Posted")  # nobody is in version 1 any more
    with world.session() as session:
        view = campaign_json(session, get_campaign(session, "Welcome"), now=NOW)
    assert (view["version"], view["completed"]) == (2, 2)
    assert "Posted" not in group_names(world)


def test_a_group_a_mailing_includes_or_excludes_is_kept_naming_the_mailings(
    world: Database,
) -> None:
    with world.transaction() as session:
        hello = _mailing(session, "Hello", include=["Joined"], exclude=["Other"])
        bye = _mailing(session, "Bye", include=["Other"])

    assert refusal(world, "Other") == (
        f"the group 'Other' is used by the mailings 'Hello' (id {hello}, which excludes it), "
        f"'Bye' (id {bye}, which includes it); remove it from there first"
    )
    assert refusal(world, "Joined") == (
        f"the group 'Joined' is used by the mailing 'Hello' (id {hello}, which includes it); "
        "remove it from there first"
    )
    assert group_names(world) == sorted(GROUPS)


def test_every_kind_of_user_is_named_and_the_group_goes_once_they_let_it_go(
    world: Database,
) -> None:
    with world.transaction() as session:
        groups.create_compound_group(
            session, "Joined not Other", include=["Joined"], include_mode="any",
            exclude=["Other"], now=NOW,
        )  # fmt: skip
        hello = _mailing(session, "Hello", include=["Other"])
        create_campaign(session, welcome("Other"), now=NOW)

    assert refusal(world, "Other") == (
        "the group 'Other' is used by the compound group 'Joined not Other'; "
        f"the mailing 'Hello' (id {hello}, which includes it); "
        "the campaign 'Welcome' (step 'posted' of version 1); remove it from there first"
    )

    with world.transaction() as session:
        delete_group(session, "Joined not Other")
        change_campaign(session, "Welcome", welcome("Posted"), now=NOW)  # nobody reached it
        _mailing(session, "Hello", include=["Joined"], mailing_id=hello)
    with world.transaction() as session:
        assert delete_group(session, "Other").name == "Other"
    assert group_names(world) == ["Commented", "Joined", "Posted", "Thanked"]


def _mailing(
    session: Session,
    name: str,
    *,
    include: list[str],
    exclude: list[str] | None = None,
    mailing_id: int | None = None,
) -> int:
    """A new draft mailing to these groups (or the draft `mailing_id` changed to them); its id."""
    draft = MailingDraft(
        name=name, subject="Hi", html="<p>Hi</p>", include=include, exclude=exclude or ()
    )
    if mailing_id is not None:
        return change_mailing(session, mailing_id, draft, now=NOW).id
    return create_mailing(session, draft, now=NOW).id


def _no_mailings(mailing_id: int) -> None:
    raise AssertionError(f"these campaigns send no mailing, yet mailing {mailing_id} was sent")
