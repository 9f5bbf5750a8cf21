"""A person's data on both sides: exported in full, then erased with nothing left behind but
anonymous counts and a keyed digest; the connection and the links behave afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from kith.cli import app
from kith.community.credentials import create_credential
from kith.community.models import Erasure as CommunityErasure
from kith.community.models import Member
from kith.community.personal_data import delete_member, export_member
from kith.config import Settings, get_settings
from kith.db import Database
from kith.erasures import forget_deleted_rows
from kith.errors import InvalidInput, PermissionDenied
from kith.marketing.app import create_marketing_app
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.outbox import outbox_folder
from kith.marketing.mailings.report import mailing_report
from kith.marketing.models import ErasedPerson, Erasure, Subscriber, SyncSkip
from kith.marketing.personal_data import erase_subscriber, export_subscriber, lift_erasure
from kith.marketing.subscribers import set_status
from kith.marketing.tokens import create_token
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import NOW
from tests.support.connection_world import World, joined_world
from tests.support.person_world import (
    CONTACT_KEY,
    EMAIL,
    LEGACY_KEY,
    TRACES,
    Person,
    make_person,
)


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    with joined_world(community_db, marketing_db, settings, edition="platform") as joined:
        yield joined


@pytest.fixture
def person(world: World) -> Person:
    return make_person(world)


def test_the_community_export_holds_each_kind_of_record_of_the_member_once(
    world: World, person: Person
) -> None:
    with world.community.session() as session:
        document = export_member(session, CONTACT_KEY)

    assert document["member"]["email"] == EMAIL
    assert document["account"]["email"] == EMAIL and "password_hash" not in document["account"]
    assert [m["community"] for m in document["memberships"]] == ["Gardeners"]
    assert [a["type"] for a in document["activity"]] == ["login"]
    assert [held["name"] for held in document["lists"]] == ["Informz Hosts", "Informz Readers"]
    assert [(c["list_key"], c["change"]) for c in document["list_changes"]] == [
        (person.hosts_list_key, "added")
    ]


def test_the_marketing_export_holds_each_kind_of_record_of_the_subscriber_once(
    world: World, person: Person
) -> None:
    with world.marketing.session() as session:
        document = export_subscriber(session, EMAIL, outbox=outbox_folder(world.settings.data_dir))

    assert document["subscriber"]["remote_id"] == LEGACY_KEY
    assert [g["group"] for g in document["groups"]] == ["Readers"]
    assert [s["reason"] for s in document["sync_skips"]] == ["unsubscribed"]
    assert [m["contact_key"] for m in document["community_list_members"]] == [CONTACT_KEY]
    [delivery] = document["deliveries"]
    assert delivery["id"] == person.delivery_id and delivery["mailing"] == "Spring news"
    assert sorted(event["kind"] for event in delivery["events"]) == ["click", "open"]
    [enrollment] = document["campaign_enrollments"]
    assert [step["step"] for step in enrollment["steps"]] == ["start"]
    assert document["campaign_baselines"] == ["Onboarding"]
    assert document["score"]["score"] == 7
    assert document["community_member"]["remote_id"] == LEGACY_KEY
    assert [day["count"] for day in document["community_activity_days"]] == [2]
    assert len(document["notifications"]) == 1
    [bounce] = document["bounces"]
    assert bounce["status_code"] == "4.2.2" and EMAIL in bounce["message"]
    [stored] = document["outbox"]
    assert stored["file"] == f"delivery-{person.delivery_id}.eml" and EMAIL in stored["message"]


def erase_everywhere(world: World) -> None:
    """The member deleted by the community's Super Admin, the subscriber erased by an admin,
    and the deleted rows made unreadable from the files, as the commands do."""
    with world.community.transaction() as session:
        delete_member(session, CONTACT_KEY, by="admin", now=NOW)
    with world.marketing.transaction() as session:
        erase_subscriber(
            session,
            LEGACY_KEY,
            by="admin@example.org",
            box=world.box,
            now=NOW,
            outbox=outbox_folder(world.settings.data_dir),
        )
    assert forget_deleted_rows(world.community) and forget_deleted_rows(world.marketing)


def test_a_bounced_person_erased_still_counts_as_bounced_in_the_report(
    world: World, person: Person
) -> None:
    with world.marketing.transaction() as session:
        set_status(session, LEGACY_KEY, "bounced", now=NOW)
    with world.marketing.session() as session:
        before = mailing_report(session, person.mailing_id, now=NOW)["totals"]

    erase_everywhere(world)

    with world.marketing.session() as session:
        assert mailing_report(session, person.mailing_id, now=NOW)["totals"] == before
    assert before["bounced"] == 1


def test_after_erasure_nothing_on_either_side_names_the_person_and_reports_add_up(
    world: World, person: Person, backend: str, tmp_path: Path
) -> None:
    with world.marketing.session() as session:
        before = mailing_report(session, person.mailing_id, now=NOW)["totals"]
        subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == EMAIL))
    with world.community.session() as session:
        member_id = session.scalar(select(Member.id).where(Member.contact_key == CONTACT_KEY))
    assert {trace for *_, trace in traces_in_tables(world.community)} == set(TRACES)
    assert {trace for *_, trace in traces_in_tables(world.marketing)} == set(TRACES)
    assert traces_in_files(outbox_folder(world.settings.data_dir)) != []

    erase_everywhere(world)
    synced = world.sync("Readers")

    assert synced.status == "completed" and synced.removed == 0  # already gone with them
    assert traces_in_tables(world.community) == [] and traces_in_tables(world.marketing) == []
    assert ids_in_tables(world.community, "member_id", member_id) == []
    assert ids_in_tables(world.marketing, "subscriber_id", subscriber_id) == []
    assert traces_in_files(outbox_folder(world.settings.data_dir)) == []
    if backend == "sqlite":  # free pages and the WAL too
        assert traces_in_files(tmp_path) == []
    with world.marketing.session() as session:
        assert mailing_report(session, person.mailing_id, now=NOW)["totals"] == before
        digests = session.scalars(select(ErasedPerson.digest)).all()
        [erasure] = session.scalars(select(Erasure)).all()
    assert sorted(digests) == sorted(
        [
            world.box.person_digests("email", EMAIL)[0],
            world.box.person_digests("remote_id", LEGACY_KEY)[0],
        ]
    )
    assert erasure.erased_by == "admin@example.org"
    assert erasure.counts["subscribers"] == 1 and erasure.counts["outbox_files"] == 1
    with world.community.session() as session:
        [deleted] = session.scalars(select(CommunityErasure)).all()
    assert deleted.erased_by == "admin" and deleted.counts["members"] == 1
    assert deleted.counts["activity_events"] == 1 and deleted.counts["list_members"] == 2


def test_a_delta_sync_after_a_community_delete_removes_the_member_from_the_group(
    world: World, person: Person
) -> None:
    assert LEGACY_KEY in world.group_remote_ids("Readers")
    with world.community.transaction() as session:
        delete_member(session, CONTACT_KEY, by="admin", now=NOW)

    synced = world.sync("Readers", delta=True)

    assert synced.status == "completed", synced.error
    assert synced.removed == 1 and synced.mode == "full"  # the cursor was Gone: read in full
    assert LEGACY_KEY not in world.group_remote_ids("Readers")


def test_a_super_admin_cannot_delete_themself_nor_a_member_delete_anyone(
    world: World, person: Person
) -> None:
    with world.community.transaction() as session, pytest.raises(InvalidInput, match="another"):
        delete_member(session, "admin", by="admin", now=NOW)
    with world.community.transaction() as session, pytest.raises(PermissionDenied):
        delete_member(session, "admin", by=CONTACT_KEY, now=NOW)
    with world.community.session() as session:
        assert export_member(session, CONTACT_KEY)["member"]["email"] == EMAIL


def test_the_platform_edition_creates_an_erased_person_again_only_once_lifted(
    world: World, person: Person
) -> None:
    with world.marketing.transaction() as session:
        erase_subscriber(session, EMAIL, by="admin@example.org", box=world.box, now=NOW)

    kept_out = world.sync("Readers")

    assert kept_out.skipped is not None and kept_out.skipped["erased"] == 1
    assert kept_out.created == 0 and LEGACY_KEY not in world.group_remote_ids("Readers")
    with world.marketing.session() as session:
        [skip] = session.scalars(select(SyncSkip).where(SyncSkip.run_id == kept_out.id)).all()
    assert (skip.reason, skip.contact_key, skip.legacy_contact_key, skip.email) == (
        "erased",
        None,
        None,
        None,
    )
    with world.marketing.transaction() as session:
        lift_erasure(session, EMAIL, box=world.box)
        lift_erasure(session, LEGACY_KEY, box=world.box)
    back = world.sync("Readers")
    assert back.created == 1 and LEGACY_KEY in world.group_remote_ids("Readers")


def test_the_links_of_a_message_to_an_erased_person_answer_a_plain_page(
    world: World, person: Person
) -> None:
    links = LinkMaker(world.settings.public_url, world.settings.signing_key())
    with world.marketing.transaction() as session:
        erase_subscriber(session, EMAIL, by="admin@example.org", box=world.box, now=NOW)
    app = create_marketing_app(world.marketing, world.settings)
    base = f"{world.settings.public_url}/marketing"

    with serve_on_loopback(app) as url, httpx.Client(base_url=url) as client:
        answers = [
            client.get(links.open_url(person.delivery_id).removeprefix(base)),
            client.get(
                links.click_url(person.delivery_id, "https://example.org/garden").removeprefix(base)
            ),
            client.get(links.unsubscribe_url(person.delivery_id).removeprefix(base)),
            client.post(links.unsubscribe_url(person.delivery_id).removeprefix(base)),
        ]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    assert all("Not on our lists" in answer.text for answer in answers[1:])
    with world.marketing.session() as session:
        assert mailing_report(session, person.mailing_id, now=NOW)["totals"]["opened"] == 1


def traces_in_tables(db: Database) -> list[tuple[str, str, str]]:
    """(table, column, trace) wherever a value of any row of any table holds a trace."""
    found = []
    with db.session() as session:
        for table in inspect(db.engine).get_table_names():
            result = session.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    found += [
                        (table, column, trace)
                        for trace in TRACES
                        if trace.lower() in str(value).lower()
                    ]
    return found


def ids_in_tables(db: Database, column: str, value: int | None) -> list[str]:
    """The tables with a column named `column` holding `value` (a row id of the person's)."""
    assert value is not None
    found = []
    with db.session() as session:
        for table in inspect(db.engine).get_table_names():
            names = [each["name"] for each in inspect(db.engine).get_columns(table)]
            if column in names and session.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :value'),
                {"value": value},
            ):
                found.append(table)
    return found


def traces_in_files(folder: Path) -> list[tuple[str, str]]:
    """(file, trace) for every file under `folder` whose bytes hold a trace."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes().lower()
            found += [(path.name, trace) for trace in TRACES if trace.lower().encode() in data]
    return found


def test_the_apis_export_and_erase_a_person_as_the_services_do(
    world: World, person: Person
) -> None:
    with world.community.transaction() as session:
        issued = create_credential(session, name="Privacy desk", by="admin", now=NOW)
    with world.marketing.transaction() as session:
        token = create_token(session, name="Privacy desk", now=NOW).token
    community = httpx.Client(
        base_url=f"{world.url}/api/v1",
        headers={"HLIAMKey": issued.credential.iam_key, "HLPassword": issued.password},
    )
    member = f"/members/{CONTACT_KEY}"

    assert community.get(f"{member}/data").json()["member"]["email"] == EMAIL
    deleted = community.delete(member)
    assert deleted.status_code == 200 and deleted.json()["counts"]["members"] == 1
    assert deleted.json()["erased_by"] == "admin"
    assert community.get(f"{member}/data").status_code == 404
    app = create_marketing_app(world.marketing, world.settings)
    with (
        serve_on_loopback(app) as url,
        httpx.Client(
            base_url=f"{url}/api", headers={"Authorization": f"Bearer {token}"}
        ) as marketing,
    ):
        exported = marketing.get(f"/subscribers/{EMAIL}/data")
        erased = marketing.delete(f"/subscribers/{LEGACY_KEY}")
        gone = marketing.get(f"/subscribers/{EMAIL}/data")
        lifted = marketing.delete(f"/erased/{EMAIL}")
        lifted_again = marketing.delete(f"/erased/{EMAIL}")

    assert [each["id"] for each in exported.json()["deliveries"]] == [person.delivery_id]
    assert erased.status_code == 200 and erased.json()["counts"]["subscribers"] == 1
    assert erased.json()["erased_by"] == "API token Privacy desk (kith_" + token[5:12] + ")"
    assert (gone.status_code, lifted.status_code, lifted_again.status_code) == (404, 204, 404)


def test_the_commands_export_and_erase_a_person(
    world: World, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("KITH_COMMUNITY_DB_URL", world.community.url),
        ("KITH_MARKETING_DB_URL", world.marketing.url),
        ("KITH_DATA_DIR", str(world.settings.data_dir)),
        ("KITH_SECRET_KEY", world.settings.secret_key),
    ):
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    runner = CliRunner()

    def kith(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return orjson.loads(result.output) if result.output.startswith("{") else result.output

    try:
        member = kith("community", "members", "export-data", CONTACT_KEY)
        refused = runner.invoke(
            app, ["community", "members", "delete", CONTACT_KEY, "--by", CONTACT_KEY]
        )
        deleted = kith("community", "members", "delete", CONTACT_KEY, "--by", "admin", "--json")
        subscriber = kith("marketing", "subscribers", "export-data", EMAIL)
        erased = kith("marketing", "subscribers", "erase", EMAIL, "--by", "privacy desk", "--json")
        missing = runner.invoke(app, ["marketing", "subscribers", "export-data", EMAIL])
        lifted = kith("marketing", "subscribers", "lift-erasure", LEGACY_KEY)
    finally:
        get_settings.cache_clear()

    assert member["member"]["contact_key"] == CONTACT_KEY
    assert refused.exit_code != 0 and "not a Super Admin" in refused.output
    assert deleted["side"] == "community" and deleted["counts"]["memberships"] == 1
    assert subscriber["outbox"][0]["file"] == f"delivery-{person.delivery_id}.eml"
    assert erased["erased_by"] == "privacy desk" and erased["counts"]["outbox_files"] == 1
    assert missing.exit_code != 0 and "no subscriber has the email" in missing.output
    assert "may be created again" in lifted
