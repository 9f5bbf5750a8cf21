"""Engagement scoring over pulled community activity, mailing opens and clicks and group
membership: scores and grade groups equal a plain-Python computation, explain adds up, a sync
rescores, bad models are refused naming the rule, and score and grade personalize mailings."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from kith.config import Settings
from kith.connection.activity import pull_activity
from kith.db import Database
from kith.errors import InvalidInput
from kith.marketing.app import create_marketing_app
from kith.marketing.groups.folders import get_folder
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group, get_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.messages import preview
from kith.marketing.mailings.outbox import OutboxTransport
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.models import Delivery, DeliveryEvent, GroupMember, Subscriber, TargetGroup
from kith.marketing.scoring.compute import apply_model, explain, recompute_scores
from kith.marketing.scoring.model import parse_definition, set_model
from kith.marketing.scoring.models import ScoringModel, SubscriberScore
from kith.marketing.subscriber_import import import_subscribers
from kith.marketing.tokens import create_token
from kith.web.loopback import serve_on_loopback
from tests.support.activity_world import NOW, ActivityWorld, build
from tests.support.cli_world import kith_command
from tests.support.connection_world import joined_world
from tests.support.fake_clock import FakeClock
from tests.support.import_files import csv_rows

MODEL: dict[str, Any] = {
    "rules": [
        {
            "name": "posts",
            "activity": ["thread_started", "discussion_reply"],
            "points": 5,
            "cap": 60,
            "within_days": 90,
        },
        {"name": "logins", "activity": "login", "points": 1, "within_days": 30},
        {"name": "anything", "activity": "any", "points": 1, "cap": 10},
        {"name": "opens", "mailing": "open", "points": 3, "within_days": 30},
        {"name": "clicks", "mailing": "click", "points": 4},
        {"name": "donors", "group": "Donors", "points": 20},
    ],
    "grades": [
        {"grade": "A", "min_score": 60},
        {"grade": "B", "min_score": 25},
        {"grade": "C", "min_score": 1},
    ],
}
DONORS = ("L2", "L8")
# (mailing, subscriber's Remote ID or email, kind, when): a mailing counts once per person
TRACKED = (
    (1, "L1", "open", NOW - timedelta(days=1)),
    (1, "L1", "open", NOW - timedelta(hours=20)),  # the same message opened again
    (2, "L1", "open", NOW - timedelta(days=29, hours=15)),  # the first hour of the 30 days
    (1, "L2", "open", NOW - timedelta(days=45)),  # before the 30 days
    (1, "L2", "click", NOW - timedelta(days=45)),  # clicks count whenever they were
    (2, "L3", "click", NOW - timedelta(days=2)),
    (2, "L3", "click", NOW + timedelta(days=1)),  # after now
    (2, "nokey@example.org", "open", NOW - timedelta(days=3)),
)


@dataclass
class Scored:
    aw: ActivityWorld
    ids: dict[str | None, int]

    @property
    def db(self) -> Database:
        return self.aw.world.marketing


@pytest.fixture
def scored(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[Scored]:
    """The activity world, pulled, with Donors and tracked mailings; no model set yet."""
    with joined_world(community_db, marketing_db, settings) as joined:
        aw = build(joined)
        pull_activity(marketing_db, joined.box, now=NOW)
        with marketing_db.transaction() as session:
            donors = create_group(session, "Donors", now=NOW)
            change_members(session, donors, csv_rows("remote_id", *DONORS), now=NOW)
        world = Scored(aw, aw.subscriber_ids())
        track(world)
        yield world


def track(world: Scored) -> None:
    """Two sent mailings with deliveries to everyone, and the opens and clicks of TRACKED."""
    with world.db.transaction() as session:
        emails = dict(session.execute(select(Subscriber.id, Subscriber.email)).tuples().all())
        for number in (1, 2):
            mailing = create_mailing(
                session,
                MailingDraft(f"News {number}", "News", "<p>News</p>", include=["Donors"]),
                now=NOW,
            )
            deliveries = {}
            for subscriber_id, address in emails.items():
                delivery = Delivery(
                    mailing_id=mailing.id,
                    subscriber_id=subscriber_id,
                    email=address,
                    email_key=address,
                    status="sent",
                    attempts=1,
                )
                session.add(delivery)
                session.flush()
                deliveries[subscriber_id] = delivery.id
            for which, who, kind, at in TRACKED:
                if which == number:
                    subscriber = world.ids.get(who) or next(
                        i for i, address in emails.items() if address == who
                    )
                    session.add(
                        DeliveryEvent(delivery_id=deliveries[subscriber], kind=kind, occurred_at=at)
                    )


def expected_points(world: Scored, model: dict[str, Any], now: datetime) -> dict[int, list[int]]:
    """Per subscriber id, the points of each rule, computed here from the raw data."""
    by_id = {id_: key for key, id_ in world.ids.items()}
    with world.db.session() as session:
        emails = dict(session.execute(select(Subscriber.id, Subscriber.email)).tuples().all())
        donors = set(
            session.scalars(
                select(GroupMember.subscriber_id).where(
                    GroupMember.group_id == get_group(session, "Donors").id
                )
            )
        )
    points: dict[int, list[int]] = {}
    for subscriber_id, address in emails.items():
        key = by_id.get(subscriber_id)
        row = []
        for rule in model["rules"]:
            days = rule.get("within_days")
            first = now.date() - timedelta(days=days - 1) if days else None
            if "activity" in rule:
                kinds = rule["activity"]
                types = (
                    None if kinds == "any" else tuple([kinds] if isinstance(kinds, str) else kinds)
                )
                count = world.aw.counted(key, types, first, now)
            elif "mailing" in rule:
                count = len(
                    {
                        mailing
                        for mailing, who, kind, at in TRACKED
                        if who in (key, address)
                        and kind == rule["mailing"]
                        and at <= now
                        and (first is None or at.date() >= first)
                    }
                )
            else:
                count = int(subscriber_id in donors)
            given = count * rule["points"]
            row.append(min(given, rule["cap"]) if "cap" in rule else given)
        points[subscriber_id] = row
    return points


def grade_of(score: int, model: dict[str, Any]) -> str | None:
    return next((g["grade"] for g in model["grades"] if score >= g["min_score"]), None)


def stored_scores(db: Database) -> dict[int, tuple[int, str | None]]:
    with db.session() as session:
        rows = session.execute(
            select(SubscriberScore.subscriber_id, SubscriberScore.score, SubscriberScore.grade)
        ).tuples()
        return {subscriber_id: (score, grade) for subscriber_id, score, grade in rows}


def grade_members(db: Database) -> dict[str, set[int]]:
    """The members of each group in the Scoring folder, by group name."""
    with db.session() as session:
        folder = get_folder(session, "Scoring")
        groups = session.scalars(select(TargetGroup).where(TargetGroup.folder_id == folder.id))
        return {
            group.name: set(
                session.scalars(
                    select(GroupMember.subscriber_id).where(GroupMember.group_id == group.id)
                )
            )
            for group in groups
        }


def expected_grades(points: dict[int, list[int]], model: dict[str, Any]) -> dict[str, set[int]]:
    members: dict[str, set[int]] = {f"Grade {g['grade']}": set() for g in model["grades"]}
    for subscriber_id, row in points.items():
        grade = grade_of(sum(row), model)
        if grade:
            members[f"Grade {grade}"].add(subscriber_id)
    return members


def test_scores_grade_groups_and_explanations_are_what_the_rules_say(scored: Scored) -> None:
    with scored.db.transaction() as session:
        recomputed = apply_model(session, MODEL, now=NOW)

    points = expected_points(scored, MODEL, NOW)
    scores = {i: sum(row) for i, row in points.items()}
    assert stored_scores(scored.db) == {i: (s, grade_of(s, MODEL)) for i, s in scores.items()}
    assert grade_members(scored.db) == expected_grades(points, MODEL)
    assert recomputed.scored == len(points)
    assert recomputed.grades == {
        **{
            g["grade"]: sum(grade_of(s, MODEL) == g["grade"] for s in scores.values())
            for g in MODEL["grades"]
        },
        None: sum(grade_of(s, MODEL) is None for s in scores.values()),
    }
    # every grade is reached by someone, and the caps and windows mattered
    assert all(recomputed.grades[g["grade"]] for g in MODEL["grades"])
    assert points[scored.ids["L1"]][3] == 6  # two mailings opened in 30 days, one twice
    assert points[scored.ids["L2"]][3:5] == [0, 4]  # opened too long ago; the click counts
    with scored.db.session() as session:
        assert {get_group(session, f"Grade {g}").kind for g in "ABC"} == {"scoring"}
        stored = stored_scores(scored.db)
        for key in ("L1", "L2", "L3", "L4", "L8", "nokey@example.org"):
            subscriber_id = scored.ids.get(key) or scored.ids[None]
            explanation = explain(session, key, now=NOW)
            assert [line.points for line in explanation.lines] == points[subscriber_id], key
            assert [line.rule for line in explanation.lines] == [r["name"] for r in MODEL["rules"]]
            assert explanation.score == sum(points[subscriber_id]) == stored[subscriber_id][0]
            assert explanation.stored_grade == explanation.grade


def test_a_recompute_moves_only_those_whose_grade_changed(scored: Scored) -> None:
    with scored.db.transaction() as session:
        apply_model(session, MODEL, now=NOW)
    before = grade_members(scored.db)
    later = NOW + timedelta(days=40)  # logins and opens fall out of their windows
    with scored.db.transaction() as session:
        change_members(session, get_group(session, "Donors"), csv_rows("remote_id", "L4"), now=NOW)
        recomputed = recompute_scores(session, now=later)
    assert recomputed is not None

    points = expected_points(scored, MODEL, later)
    after = grade_members(scored.db)
    assert after == expected_grades(points, MODEL)
    for grade, change in recomputed.changes.items():
        name = f"Grade {grade}"
        assert (change.added, change.removed) == (
            len(after[name] - before[name]),
            len(before[name] - after[name]),
        )
    assert any(change.added or change.removed for change in recomputed.changes.values())
    with scored.db.session() as session:  # those who stayed kept their membership row
        stayed = session.scalars(
            select(GroupMember.added_at).where(
                GroupMember.subscriber_id.in_(
                    [i for name in after for i in after[name] & before[name]]
                )
            )
        ).all()
    assert stayed and {at for at in stayed} == {NOW}


def test_a_completed_sync_rescores_with_the_new_membership(scored: Scored) -> None:
    world = scored.aw.world
    world.list("Informz Posters", {"activity": "thread_started", "min": 1})
    world.refresh()
    model = {**MODEL, "rules": [{"name": "posters", "group": "Posters", "points": 30}]}
    with scored.db.transaction() as session:
        apply_model(session, model, now=NOW)
    assert {score for score, _ in stored_scores(scored.db).values()} == {0}

    run = world.sync("Posters")

    assert run.status == "completed"
    posters = world.group_remote_ids("Posters")
    assert posters
    stored = stored_scores(scored.db)
    assert {key for key, id_ in scored.ids.items() if stored[id_][0] == 30} == posters
    assert {scored.ids[key] for key in posters} == grade_members(scored.db)["Grade B"]


def test_a_sync_leaves_the_scores_alone_when_no_rule_reads_groups(scored: Scored) -> None:
    """A rescore reads every subscriber; a live group syncs every few seconds under load."""
    world = scored.aw.world
    world.list("Informz Posters", {"activity": "thread_started", "min": 1})
    world.refresh()
    model = {**MODEL, "rules": [rule for rule in MODEL["rules"] if "group" not in rule]}
    scored_at = NOW - timedelta(minutes=5)
    with scored.db.transaction() as session:
        apply_model(session, model, now=scored_at)

    run = world.sync("Posters")

    assert run.status == "completed" and run.added
    with scored.db.session() as session:
        computed = set(session.scalars(select(SubscriberScore.computed_at)))
    assert computed == {scored_at}  # not computed again at the sync's time


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cap": 0}, "rule 1 (posts): cap must be a positive integer"),
        ({"points": "5"}, "rule 1 (posts): points must be a positive integer"),
        ({"within_days": -3}, "rule 1 (posts): within_days must be a positive integer"),
        ({"activity": []}, "rule 1 (posts): activity must be an activity type"),
        (
            {"mailing": "open"},
            "rule 1 (posts): give exactly one of activity, mailing, group or field",
        ),
        ({"poinst": 5}, "rule 1 (posts): unknown key 'poinst'"),
        ({"name": "logins"}, "rule 2 (logins): rule 1 has the same name"),
    ],
)
def test_a_bad_rule_is_refused_naming_it(change: dict[str, Any], message: str) -> None:
    rules = [dict(MODEL["rules"][0], **change), *MODEL["rules"][1:]]
    with pytest.raises(InvalidInput) as refused:
        parse_definition({**MODEL, "rules": rules})
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("rules", "grades", "message"),
    [
        (None, [{"grade": "A", "min_score": 5}, {"grade": "B", "min_score": 5}], "grade 2 (B)"),
        (None, [{"grade": "A", "min_score": -1}], "grade 1 (A): min_score must be"),
        (None, [{"grade": "A", "min_score": 1}, {"grade": "a", "min_score": 0}], "given twice"),
        ([{"mailing": "bounce", "points": 1}], None, "rule 1: mailing must be 'open' or 'click'"),
        ([{"group": "Board", "points": 1, "within_days": 3}], None, "rule 1 (group Board)"),
        ([], None, "'rules' must be a non-empty list"),
    ],
)
def test_bad_grades_and_rules_are_refused_naming_them(
    rules: list[Any] | None, grades: list[Any] | None, message: str
) -> None:
    raw = {"rules": MODEL["rules"] if rules is None else rules, "grades": grades or MODEL["grades"]}
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_definition(raw)


DONOR_MODEL: dict[str, Any] = {
    "rules": [{"name": "donors", "group": "Donors", "points": 20}],
    "grades": [{"grade": "A", "min_score": 20}, {"grade": "B", "min_score": 0}],
}


@pytest.fixture
def donors(marketing_db: Database) -> Database:
    """Three subscribers, all in Everyone, the first two in Donors; nothing from a community."""
    with marketing_db.bulk_transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status",
                *(f"d{n}@example.org,D{n},,," for n in (1, 2, 3)),
            ),
            now=NOW,
        )
    with marketing_db.transaction() as session:
        for name, keys in (("Everyone", ("D1", "D2", "D3")), ("Donors", ("D1", "D2"))):
            group = create_group(session, name, now=NOW)
            change_members(session, group, csv_rows("remote_id", *keys), now=NOW)
    return marketing_db


def test_a_model_naming_a_missing_or_grade_group_is_refused_and_changes_nothing(
    donors: Database,
) -> None:
    with donors.transaction() as session:
        apply_model(session, DONOR_MODEL, now=NOW)
    for group, message in (
        ("Nope", "rule 1 (vip): no target group is named 'Nope'"),
        ("Grade A", "rule 1 (vip): 'Grade A' is a grade group"),
    ):
        model = {**DONOR_MODEL, "rules": [{"name": "vip", "group": group, "points": 1}]}
        with (
            pytest.raises(InvalidInput, match=re.escape(message)),
            donors.transaction() as session,
        ):
            set_model(session, model, now=NOW)
    with donors.transaction() as session:
        create_group(session, "Grade Z", now=NOW)
    grade_z = {**DONOR_MODEL, "grades": [{"grade": "Z", "min_score": 0}]}
    with (
        pytest.raises(InvalidInput, match="'Grade Z' is taken by a static group"),
        donors.transaction() as session,
    ):
        set_model(session, grade_z, now=NOW)
    with donors.session() as session:
        assert session.scalar(select(func.max(ScoringModel.version))) == 1
        assert set(session.scalars(select(SubscriberScore.model_version))) == {1}


def test_score_and_grade_personalize_a_mailing(
    donors: Database, settings: Settings, tmp_path: Path
) -> None:
    with donors.transaction() as session:
        apply_model(session, DONOR_MODEL, now=NOW)
        mailing = create_mailing(
            session,
            MailingDraft(
                "Your score",
                "Grade {{ grade | default('none') }}",
                "<p>Score {{ score }}</p>",
                include=["Everyone"],
            ),
            now=NOW,
        )
        request_send(session, mailing.id, SendOptions(), now=NOW)
    links = LinkMaker(settings.public_url, settings.signing_key())
    with donors.session() as session:
        previewed = preview(session, mailing.id, "D1", links=links)
    outbox = OutboxTransport(tmp_path / "outbox")

    send_mailing_now(donors, settings, mailing.id, transport=outbox, clock=lambda: NOW)

    seen = {}
    for path in outbox.folder.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        html = next(p for p in message.walk() if p.get_content_type() == "text/html")
        body = html.get_payload(decode=True).decode()
        seen[message["To"]] = (message["Subject"], re.findall(r"Score (\d+)<", body))
    assert seen == {
        "d1@example.org": ("Grade A", ["20"]),
        "d2@example.org": ("Grade A", ["20"]),
        "d3@example.org": ("Grade B", ["0"]),
    }
    assert previewed["Subject"] == "Grade A"


# the command and its output are the same on either backend; the figures are checked on both
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_scoring_commands(
    scored: Scored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_file, bad_file = tmp_path / "model.json", tmp_path / "bad.json"
    model_file.write_bytes(orjson.dumps(MODEL))
    bad_rules = [
        *MODEL["rules"][:2],
        {"name": "posts2", "activity": "login", "points": 1, "cap": "x"},
    ]
    bad_file.write_bytes(orjson.dumps({**MODEL, "rules": bad_rules}))
    with kith_command(monkeypatch, scored.db, tmp_path / "var") as kith:
        refused = kith("scoring", "set", "--file", str(bad_file))
        empty = kith("scoring", "show", "--json")
        saved = kith("scoring", "set", "--file", str(model_file), "--now", NOW.isoformat())
        shown = kith("scoring", "show", "--json")
        explained = kith("scoring", "explain", "L1", "--now", NOW.isoformat(), "--json")
        recomputed = kith("scoring", "recompute", "--now", NOW.isoformat(), "--json")
        unknown = kith("scoring", "explain", "nobody@example.org")

    assert refused[0] == 1 and "rule 3 (posts2): cap must be a positive integer" in refused[1]
    assert empty == (0, "null\n")
    assert saved[0] == 0 and "Grade A" in saved[1], saved
    assert orjson.loads(shown[1])["rules"] == parse_definition(MODEL).as_json()["rules"]
    score = orjson.loads(explained[1])
    assert score["score"] == sum(r["points"] for r in score["rules"]) == score["stored"]["score"]
    assert recomputed[0] == 0 and orjson.loads(recomputed[1])["scored"] == len(scored.ids)
    assert unknown[0] == 1 and "nobody@example.org" in unknown[1]


# the command and its output are the same on either backend; the figures are checked on both
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_scoring_api(scored: Scored) -> None:
    with scored.db.transaction() as session:
        token = create_token(session, name="tests", now=NOW).token
    marketing = create_marketing_app(scored.db, scored.aw.world.settings)
    marketing.state.clock = FakeClock(NOW)
    with (
        serve_on_loopback(marketing) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        assert api.get("/api/scoring").status_code == 404
        bad = {**MODEL, "grades": [{"grade": "A", "min_score": 1}, {"grade": "B", "min_score": 2}]}
        refused = api.put("/api/scoring", json=bad)
        assert refused.status_code == 422 and refused.json()["message"].startswith("grade 2 (B)")
        saved = api.put("/api/scoring", json=MODEL)
        assert saved.status_code == 200, saved.text
        assert api.get("/api/scoring").json()["version"] == 1
        explained = api.get("/api/scoring/explain/L2").json()
        recomputed = api.post("/api/scoring/recompute").json()
    points = expected_points(scored, MODEL, NOW)
    assert explained["score"] == sum(points[scored.ids["L2"]])
    assert recomputed["scored"] == len(points)
    assert saved.json()["grades"] == recomputed["grades"]
    assert date.fromisoformat(recomputed["computed_at"][:10]) == NOW.date()
