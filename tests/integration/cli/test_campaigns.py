"""`kith campaigns ...` and `kith tick --now`, on a static activation group (no community
needed): create, activate, tick through a wait, show, enrollments, and refused definitions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from kith.app import create_worker
from kith.config import get_settings
from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing, get_mailing
from kith.marketing.mailings.sending import SendOptions, request_send
from kith.marketing.models import Mailing
from kith.marketing.subscriber_import import import_subscribers
from kith.processes import this_thread
from tests.support.cli_world import kith_command
from tests.support.community_world import NOW
from tests.support.import_files import csv_rows

CAMPAIGN = {
    "name": "Onboarding",
    "activation": {"group": "Readers", "mode": "at_once"},
    "steps": [
        {"id": "hello", "mailing": "Hello"},
        {"id": "pause", "wait": {"until": {"weekday": "monday", "at": "09:00"}}},
        {"id": "tag", "profile": {"add_to": "Onboarded"}},
    ],
}


@pytest.fixture
def kith(marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`kith ARGS...` on this test's marketing database; mail goes to the outbox."""
    with marketing_db.bulk_transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status",
                "ann@example.org,R1,Ann,,",
                "bo@example.org,R2,Bo,,",
            ),
            now=NOW,
        )
    with marketing_db.transaction() as session:
        readers = create_group(session, "Readers", now=NOW)
        create_group(session, "Onboarded", now=NOW)
        change_members(session, readers, csv_rows("remote_id", "R1", "R2"), now=NOW)
        hello = MailingDraft(name="Hello", subject="Hi", html="<p>Hi</p>", include=["Readers"])
        create_mailing(session, hello, now=NOW)
    with kith_command(monkeypatch, marketing_db, tmp_path / "var") as run:
        yield run


def test_a_campaign_runs_from_the_command_line_through_a_wait_until_monday(
    kith: Any, tmp_path: Path
) -> None:
    definition = tmp_path / "campaign.json"
    definition.write_bytes(orjson.dumps(CAMPAIGN))
    code, output = kith("campaigns", "create", "--file", str(definition), "--json")
    assert code == 0, output
    campaign_id = str(orjson.loads(output)["id"])
    assert kith("campaigns", "activate", campaign_id)[0] == 0

    friday = "2026-06-12T10:00:00Z"  # a Friday: the wait lasts until Monday 09:00
    code, output = kith("tick", "--now", friday, "--json")
    assert code == 0, output
    assert orjson.loads(output)["campaigns"]["Onboarding"] == {
        "enrolled": 2,
        "steps": {"hello": {"sent": 2}},
    }
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 2
    code, output = kith("tick", "--now", "2026-06-15T08:59:00Z", "--json")
    assert orjson.loads(output)["campaigns"]["Onboarding"]["steps"] == {}

    code, output = kith("tick", "--now", "2026-06-15T09:00:00Z")
    assert code == 0 and "Onboarding: 0 enrolled; pause: 2 done, tag: 2 done" in output, output
    code, output = kith("campaigns", "show", campaign_id, "--json")
    view = orjson.loads(output)
    assert view["completed"] == 2
    assert [(s["id"], s["outcomes"]) for s in view["steps"]] == [
        ("hello", {"sent": 2}),
        ("pause", {"done": 2}),
        ("tag", {"done": 2}),
    ]
    code, output = kith("campaigns", "enrollments", campaign_id, "--json")
    assert {row["email"]: row["status"] for row in orjson.loads(output)} == {
        "ann@example.org": "done",
        "bo@example.org": "done",
    }
    code, output = kith("marketing", "groups", "members", "Onboarded", "--json")
    assert code == 0, output
    assert sorted(m["email"] for m in orjson.loads(output)) == ["ann@example.org", "bo@example.org"]


def test_a_campaigns_definition_is_printed_as_written_to_be_edited_and_updated(
    kith: Any, tmp_path: Path
) -> None:
    written = tmp_path / "campaign.json"
    written.write_bytes(orjson.dumps(CAMPAIGN))
    _, output = kith("campaigns", "create", "--file", str(written), "--json")
    campaign_id = str(orjson.loads(output)["id"])

    code, output = kith("campaigns", "definition", campaign_id)
    assert code == 0, output
    printed = orjson.loads(output)
    assert printed == CAMPAIGN
    printed["steps"].append({"id": "bye", "mailing": "Hello"})
    written.write_bytes(orjson.dumps(printed))
    code, output = kith("campaigns", "update", campaign_id, "--file", str(written))

    assert code == 0 and "Updated in place" in output, output
    code, output = kith("campaigns", "definition", "Onboarding")
    assert orjson.loads(output)["steps"][-1] == {"id": "bye", "mailing": "Hello"}


def test_a_refused_definition_names_the_step_and_creates_nothing(kith: Any, tmp_path: Path) -> None:
    broken = {
        **CAMPAIGN,
        "steps": [{"id": "hello", "mailing": "Hello"}, {"id": "ask", "decide": {"opened": "any"}}],
    }
    definition = tmp_path / "campaign.json"
    definition.write_bytes(orjson.dumps(broken))
    code, output = kith("campaigns", "create", "--file", str(definition))
    assert code == 1
    assert "step ask: a Decide must come right after a Wait" in output
    code, output = kith("campaigns", "list", "--json")
    assert orjson.loads(output) == []


def test_a_group_the_campaign_uses_is_not_deleted_and_the_campaigns_still_show(
    kith: Any, tmp_path: Path
) -> None:
    definition = tmp_path / "campaign.json"
    definition.write_bytes(orjson.dumps(CAMPAIGN))
    assert kith("campaigns", "create", "--file", str(definition))[0] == 0

    code, output = kith("marketing", "groups", "delete", "Onboarded")
    assert (code, output) == (
        1,
        "error: the group 'Onboarded' is used by the campaign 'Onboarding' (step 'tag' of "
        "version 1); remove it from there first\n",
    )
    code, output = kith("marketing", "groups", "delete", "Readers")
    assert code == 1
    assert "the mailing 'Hello' (id " in output
    assert "the campaign 'Onboarding' (activation group)" in output
    code, output = kith("campaigns", "list")
    assert code == 0 and "Onboarding" in output, output
    code, output = kith("campaigns", "show", "Onboarding", "--json")
    assert code == 0 and orjson.loads(output)["steps"][-1]["describe"] == "add to 'Onboarded'"


def test_a_running_worker_ticks_on_its_own(kith: Any, tmp_path: Path) -> None:
    definition = tmp_path / "campaign.json"
    definition.write_bytes(orjson.dumps(CAMPAIGN))
    _, output = kith("campaigns", "create", "--file", str(definition), "--json")
    campaign_id = str(orjson.loads(output)["id"])
    kith("campaigns", "activate", campaign_id)

    worker = create_worker(get_settings(), workers=1, tick_seconds=0.1)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, output = kith("campaigns", "show", campaign_id, "--json")
            if orjson.loads(output)["enrolled"] == 2:
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    view = orjson.loads(kith("campaigns", "show", campaign_id, "--json")[1])
    assert view["enrolled"] == 2
    assert view["steps"][0]["outcomes"] == {"sent": 2}


def test_a_tick_resumes_a_send_whose_job_was_lost_but_not_one_being_carried(
    kith: Any, marketing_db: Database, tmp_path: Path
) -> None:
    with marketing_db.transaction() as session:
        hello = session.scalars(select(Mailing).where(Mailing.name == "Hello")).one()
        lost = request_send(session, hello.id, SendOptions(), now=NOW)  # its job never ran
        carried = create_mailing(
            session,
            MailingDraft(name="Carried", subject="Hi", html="<p>Hi</p>", include=["Readers"]),
            now=NOW,
        )
        request_send(session, carried.id, SendOptions(), now=NOW)
        carried.lease_owner, carried.lease_until = this_thread(), NOW + timedelta(hours=1)
        lost_id, carried_id = lost.id, carried.id

    code, output = kith("tick", "--now", (NOW + timedelta(seconds=30)).isoformat(), "--json")
    assert orjson.loads(output)["resumed_sends"] == []  # asked for too recently
    code, output = kith("tick", "--now", (NOW + timedelta(minutes=2)).isoformat(), "--json")
    assert code == 0, output
    assert orjson.loads(output)["resumed_sends"] == [lost_id]
    with marketing_db.session() as session:
        assert get_mailing(session, lost_id).status == "sent"
        assert get_mailing(session, carried_id).status == "sending"
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 2


def test_a_campaign_is_deleted_or_archived_from_the_command_line(kith: Any, tmp_path: Path) -> None:
    definition = tmp_path / "campaign.json"
    definition.write_bytes(orjson.dumps(CAMPAIGN))
    assert kith("campaigns", "create", "--file", str(definition))[0] == 0
    assert kith("campaigns", "activate", "Onboarding")[0] == 0

    code, output = kith("campaigns", "delete", "Onboarding")
    assert code == 1 and "has run: archive it instead" in output
    code, output = kith("campaigns", "archive", "Onboarding")
    assert code == 0 and "Campaign 'Onboarding' is archived (inactive)." in output
    assert orjson.loads(kith("campaigns", "list", "--json")[1]) == []
    shown = orjson.loads(kith("campaigns", "list", "--archived", "--json")[1])
    assert [view["name"] for view in shown] == ["Onboarding"]
    assert kith("campaigns", "unarchive", "Onboarding")[0] == 0
    assert len(orjson.loads(kith("campaigns", "list", "--json")[1])) == 1
