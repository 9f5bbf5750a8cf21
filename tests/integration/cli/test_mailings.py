"""`kith mailings ...` and `kith outbox list` on the embedded default (the outbox folder), and
the report's split by community activity."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.models import Subscriber, TargetGroup
from kith.marketing.scoring.models import CommunityActivityDay
from kith.marketing.subscriber_import import import_subscribers
from tests.support.cli_world import kith_command
from tests.support.community_world import NOW
from tests.support.import_files import csv_rows


@pytest.fixture
def kith(marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`kith ARGS...` on this test's marketing database, with no mail server (the outbox)."""
    with marketing_db.bulk_transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status",
                "ann@example.org,R1,Ann,,",
                "bo@example.org,R2,Bo,,",
                "cy@example.org,R3,,,",
            ),
            now=NOW,
        )
    with marketing_db.transaction() as session:
        group = create_group(session, "Readers", now=NOW)
        change_members(session, group, csv_rows("remote_id", "R1", "R2", "R3"), now=NOW)
        # Personalizations as the platform edition stores them
        for remote_id, community in (("R1", {"thread_started_30d": 2}), ("R2", {"login_30d": 0})):
            session.execute(
                update(Subscriber)
                .where(Subscriber.remote_id == remote_id)
                .values(community=community)
            )
        # community activity as the connection pulls it: R1 posted today, R2 long ago
        for remote_id, days_ago in (("R1", 0), ("R2", 40)):
            day = NOW.date() - timedelta(days=days_ago)
            session.add(
                CommunityActivityDay(remote_id=remote_id, day=day, activity_type="post", count=1)
            )
    with kith_command(monkeypatch, marketing_db, tmp_path / "var") as run:
        yield run


def new_mailing(
    kith: Any, tmp_path: Path, html: str, *, subject: str = "Hi", include: str = "Readers"
) -> str:
    """The id of a new mailing "News" with this HTML template, made by `kith mailings create`."""
    template = tmp_path / "m.html"
    template.write_text(html)
    code, output = kith(
        "mailings", "create", "--name", "News", "--subject", subject, "--html", str(template),
        "--include", include, "--json",
    )  # fmt: skip
    assert code == 0, output
    return str(orjson.loads(output)["id"])


def test_create_preview_recipients_send_and_report(kith: Any, tmp_path: Path) -> None:
    html = tmp_path / "m.html"
    html.write_text(
        "<p>Hi {{ first_name | default('friend') }}, "
        "{{ community.thread_started_30d | default(0) }} threads</p>"
    )
    code, output = kith(
        "mailings", "create", "--name", "News", "--subject", "Hello {{ first_name }}",
        "--html", str(html), "--include", "Readers", "--json",
    )  # fmt: skip
    assert code == 0, output
    mailing_id = str(orjson.loads(output)["id"])

    code, output = kith("mailings", "preview", mailing_id, "--to", "R1", "--json")
    preview = orjson.loads(output)
    assert preview["subject"] == "Hello Ann" and "Hi Ann, 2 threads" in preview["html"]
    code, output = kith("mailings", "recipients", mailing_id, "--json")
    assert orjson.loads(output)["count"] == 3

    code, output = kith("mailings", "send", mailing_id, "--wait", "--json")
    assert code == 0, output
    assert orjson.loads(output)["totals"]["sent"] == 3
    code, output = kith("mailings", "report", mailing_id, "--now", NOW.isoformat(), "--json")
    report = orjson.loads(output)
    assert {
        segment: counts["sent"] for segment, counts in report["by_community_activity"].items()
    } == {
        "active": 1,
        "inactive": 2,
        "unknown": 0,
    }
    code, output = kith("outbox", "list", "--json")
    assert sorted(entry["to"] for entry in orjson.loads(output)) == [
        "ann@example.org",
        "bo@example.org",
        "cy@example.org",
    ]
    code, output = kith("mailings", "send", mailing_id, "--wait")
    assert code == 1 and "was sent" in output  # a mailing goes once


def test_a_template_with_an_unknown_field_is_refused_at_create(kith: Any, tmp_path: Path) -> None:
    html = tmp_path / "m.html"
    html.write_text("<p>Hi</p>\n<p>{{ frist_name }}</p>")
    code, output = kith(
        "mailings", "create", "--name", "News", "--subject", "Hi", "--html", str(html),
        "--include", "Readers",
    )  # fmt: skip
    assert code == 1
    assert "html, line 2, column 7: unknown field 'frist_name'" in output


@pytest.mark.parametrize(
    ("html", "refusal"),
    [
        pytest.param(
            "<p>{{ 'x' * 1000000000 }}</p>",
            "html, line 1, column 11: '*' makes more than 1,000,000 characters",
            id="a billion characters",
        ),
        pytest.param(
            "{% for a in range(99999) %}{% for b in range(99999) %}.{% endfor %}{% endfor %}",
            "html, line 1, column 4: the template takes more than 100,000 steps",
            id="nested loops",
        ),
        pytest.param(
            "<p>{{ 99999 ** 99999999 }}</p>",
            "html, line 1, column 13: '**' makes a number of more than 4,300 digits",
            id="a huge power",
        ),
    ],
)
def test_a_runaway_template_is_refused_at_create_in_one_line(
    kith: Any, tmp_path: Path, html: str, refusal: str
) -> None:
    template = tmp_path / "m.html"
    template.write_text(html)
    code, output = kith(
        "mailings", "create", "--name", "News", "--subject", "Hi", "--html", str(template),
        "--include", "Readers",
    )  # fmt: skip
    assert code == 1
    [line] = output.splitlines()
    assert line.startswith(f"error: {refusal}")


def test_a_preview_for_a_subscriber_the_template_runs_away_for_is_refused(
    kith: Any, tmp_path: Path
) -> None:
    mailing_id = new_mailing(
        kith, tmp_path, "<p>Hi</p>\n{% if first_name == 'Ann' %}{{ 'x' * 1000000000 }}{% endif %}"
    )

    code, output = kith("mailings", "preview", mailing_id, "--to", "R1")

    assert code == 1
    assert output.splitlines() == [
        "error: html, line 2, column 36: '*' makes more than 1,000,000 characters (the limit "
        "of a render)"
    ]


def test_a_send_to_nobody_is_refused_and_the_mailing_stays_a_draft_to_send_later(
    kith: Any, marketing_db: Database, tmp_path: Path
) -> None:
    with marketing_db.transaction() as session:
        create_group(session, "Nobody yet", now=NOW)
    mailing_id = new_mailing(kith, tmp_path, "<p>Hi</p>", include="Nobody yet")

    code, output = kith("mailings", "send", mailing_id, "--wait")

    assert code == 1
    assert "was not sent: nobody to send to: no subscribed subscriber is in Nobody yet" in output
    code, output = kith("mailings", "list", "--json")
    [listed] = [row for row in orjson.loads(output) if str(row["id"]) == mailing_id]
    assert listed["status"] == "draft"
    with marketing_db.transaction() as session:
        group = session.scalar(select(TargetGroup).where(TargetGroup.name == "Nobody yet"))
        assert group is not None
        change_members(session, group, csv_rows("remote_id", "R1"), now=NOW)
    code, output = kith("mailings", "send", mailing_id, "--wait", "--json")
    assert code == 0 and orjson.loads(output)["totals"]["sent"] == 1


def test_a_test_goes_to_the_outbox_as_the_first_recipient_sees_it_and_leaves_a_draft(
    kith: Any, tmp_path: Path
) -> None:
    mailing_id = new_mailing(
        kith,
        tmp_path,
        "<p>Hi {{ first_name | default('friend') }}</p>",
        subject="Hello {{ first_name }}",
    )

    code, output = kith("mailings", "test", mailing_id, "--to", "me@example.net", "--json")

    assert code == 0, output
    tested = orjson.loads(output)
    assert tested["personalized_as"] == "ann@example.org"
    assert [(sent["address"], sent["status"]) for sent in tested["sent"]] == [
        ("me@example.net", "sent")
    ]
    code, output = kith("outbox", "list", "--json")
    assert [(entry["to"], entry["subject"]) for entry in orjson.loads(output)] == [
        ("me@example.net", "[Test] Hello Ann")
    ]
    code, output = kith("mailings", "test", mailing_id, "--to", "me@example.net, nope")
    assert code != 0 and "'nope' is not a valid email address" in output
    code, output = kith("mailings", "show", mailing_id, "--json")
    assert orjson.loads(output)["status"] == "draft"


def test_a_send_is_scheduled_in_a_time_zone_refused_in_the_past_and_unscheduled(
    kith: Any, tmp_path: Path
) -> None:
    mailing_id = new_mailing(kith, tmp_path, "<p>Hi</p>")

    code, output = kith("mailings", "schedule", mailing_id, "--at", "2020-01-01 09:00")
    assert code != 0 and "is in the past" in output
    code, output = kith(
        "mailings", "schedule", mailing_id, "--at", "2099-07-01 09:30",
        "--timezone", "Europe/Paris", "--json",
    )  # fmt: skip
    assert code == 0, output
    scheduled = orjson.loads(output)
    assert (scheduled["status"], scheduled["scheduled_for"]) == (
        "scheduled",
        "2099-07-01T07:30:00+00:00",
    )

    code, output = kith("mailings", "unschedule", mailing_id)

    assert code == 0 and "is a draft again" in output
    code, output = kith("mailings", "show", mailing_id, "--json")
    assert (orjson.loads(output)["status"], orjson.loads(output)["scheduled_for"]) == (
        "draft",
        None,
    )


def test_a_tick_at_the_scheduled_time_sends_the_mailing_and_one_before_it_does_not(
    kith: Any, tmp_path: Path
) -> None:
    mailing_id = new_mailing(kith, tmp_path, "<p>Hi</p>")
    kith("mailings", "schedule", mailing_id, "--at", "2099-07-01 09:30")

    _, before = kith("tick", "--now", "2099-07-01T09:29:00+00:00", "--json")
    _, at_the_time = kith("tick", "--now", "2099-07-01T09:30:00+00:00", "--json")

    assert orjson.loads(before)["scheduled_sends"] == []
    assert orjson.loads(at_the_time)["scheduled_sends"] == [int(mailing_id)], at_the_time
    _, output = kith("mailings", "show", mailing_id, "--json")
    assert orjson.loads(output)["status"] == "sent"
    _, output = kith("outbox", "list", "--json")
    assert len(orjson.loads(output)) == 3


def test_a_draft_is_deleted_and_a_sent_mailing_archived_from_the_command_line(
    kith: Any, tmp_path: Path
) -> None:
    html = tmp_path / "m.html"
    html.write_text("<p>Hi</p>")
    ids = []
    for name in ("Draft", "News"):
        code, output = kith(
            "mailings", "create", "--name", name, "--subject", "Hi", "--html", str(html),
            "--include", "Readers", "--json",
        )  # fmt: skip
        ids.append(str(orjson.loads(output)["id"]))
    draft, news = ids
    assert kith("mailings", "send", news, "--wait")[0] == 0

    code, output = kith("mailings", "archive", draft)
    assert code == 1 and "never sent, so it has nothing to keep: delete it instead" in output
    assert kith("mailings", "delete", draft)[0] == 0
    code, output = kith("mailings", "delete", news)
    assert code == 1 and "was sent: archive it instead" in output
    assert kith("mailings", "archive", news)[0] == 0
    assert orjson.loads(kith("mailings", "list", "--json")[1]) == []
    archived = orjson.loads(kith("mailings", "list", "--archived", "--json")[1])
    assert [view["name"] for view in archived] == ["News"]
    assert kith("mailings", "unarchive", news)[0] == 0
