"""Seeing who is in everything, over real HTTP on SQLite and PostgreSQL: a group's members of
every kind, a mailing's recipients before the send and its deliveries after, a subscriber's
mailings, score and campaigns, and the people behind a sync's keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape

import pytest
from sqlalchemy import select

from kith.community.lists import create_list
from kith.csvimport.report import ImportReport
from kith.marketing.campaigns.definition import activate, create_campaign
from kith.marketing.campaigns.progress import enroll
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_compound_group, create_group, get_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing, mailing_groups
from kith.marketing.mailings.tracking import record_event
from kith.marketing.models import Mailing, Subscriber
from kith.marketing.scoring.compute import apply_model
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from tests.conftest import BACKENDS, _side_database
from tests.integration.web.test_app import MARKETER, NOW, Site, _done, _served
from tests.support.bounce_world import add_readers, send_to_readers
from tests.support.community_world import add_member
from tests.support.smtp_sink import SmtpSink
from tests.support.web_client import text_of


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("see-who")
    with (
        contextmanager(_side_database)("community", request.param, request, folder) as community,
        contextmanager(_side_database)("marketing", request.param, request, folder) as marketing,
    ):
        yield from _served(community, marketing, folder)


def _add_people(site: Site, prefix: str, count: int, *, status: str = "subscribed") -> None:
    rows = [
        SubscriberRow(
            line, f"{prefix}{line:03}@example.org", f"{prefix.upper()}-{line}", status=status
        )
        for line in range(1, count + 1)
    ]
    with site.marketing.transaction() as session:
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())


def _member_emails(html: str) -> list[str]:
    return re.findall(r'<a href="/marketing/subscribers/\d+">([^<]+)</a>', html)


def test_a_static_groups_members_are_paged_searched_and_link_to_each_subscriber(
    site: Site,
) -> None:
    _add_people(site, "crowd", 60)
    with site.marketing.transaction() as session:
        group = create_group(session, "Crowd", now=NOW)
        change_members(
            session,
            group,
            [["email"], *([f"crowd{n:03}@example.org"] for n in range(1, 61))],
            now=NOW,
        )
        group_id = group.id
        first = session.scalar(select(Subscriber).where(Subscriber.email == "crowd001@example.org"))
        assert first is not None
        first_id = first.id
    marketer = site.signed_in("marketing", MARKETER)

    groups = marketer.page("/groups")
    info = marketer.page(f"/groups/{group_id}")
    page_one = marketer.page(f"/groups/{group_id}/members")
    page_two = marketer.page(f"/groups/{group_id}/members", page=2)
    searched = marketer.page(f"/groups/{group_id}/members", q="CROWD-7")

    assert f'href="/marketing/groups/{group_id}/members"' in groups
    assert f'href="/marketing/groups/{group_id}/members"' in info
    assert "60 subscribers" in text_of(page_one) and "Page 1 of 2" in text_of(page_one)
    assert len(_member_emails(page_one)) == 50 and len(_member_emails(page_two)) == 10
    assert _member_emails(page_two)[0] == "crowd051@example.org"
    assert f'<a href="/marketing/subscribers/{first_id}">crowd001@example.org</a>' in page_one
    assert _member_emails(searched) == ["crowd007@example.org"]
    assert "crowd007@example.org CROWD-7 subscribed import" in text_of(searched)


def test_compound_and_grade_groups_show_who_they_hold_now_with_their_status(site: Site) -> None:
    _add_people(site, "mix", 3)
    _add_people(site, "gone", 1, status="unsubscribed")
    with site.marketing.transaction() as session:
        everyone = create_group(session, "Mix all", now=NOW)
        change_members(
            session,
            everyone,
            [
                ["email"],
                ["mix001@example.org"],
                ["mix002@example.org"],
                ["mix003@example.org"],
                ["gone001@example.org"],
            ],
            now=NOW,
        )
        left = create_group(session, "Mix left", now=NOW)
        change_members(session, left, [["email"], ["mix002@example.org"]], now=NOW)
        compound_id = create_compound_group(
            session,
            "Mix stayed",
            include=["Mix all"],
            include_mode="any",
            exclude=["Mix left"],
            now=NOW,
        ).id
        apply_model(
            session,
            {
                "rules": [{"name": "left", "group": "Mix left", "points": 5}],
                "grades": [{"grade": "Leavers", "min_score": 5}],
            },
            now=NOW,
        )
        grade_id = get_group(session, "Grade Leavers").id
    marketer = site.signed_in("marketing", MARKETER)

    compound = marketer.page(f"/groups/{compound_id}/members")
    unsubscribed = marketer.page(f"/groups/{compound_id}/members", status="unsubscribed")
    grade = marketer.page(f"/groups/{grade_id}/members")
    nobody = marketer.page(f"/groups/{grade_id}/members", q="no such person")

    assert _member_emails(compound) == [
        "gone001@example.org",
        "mix001@example.org",
        "mix003@example.org",
    ]
    assert "gone001@example.org GONE-1 unsubscribed" in text_of(compound)
    assert _member_emails(unsubscribed) == ["gone001@example.org"]
    assert _member_emails(grade) == ["mix002@example.org"]
    assert "No member matches." in text_of(nobody)


def test_a_group_that_does_not_exist_has_no_members_page(site: Site) -> None:
    marketer = site.signed_in("marketing", MARKETER)

    missing = marketer.get("/groups/999999/members")

    assert missing.status_code == 404
    assert "no target group has the id 999999" in text_of(missing.text)


def test_a_mailing_shows_who_it_would_reach_then_each_delivery_with_its_outcome(
    site: Site, smtp_sink: SmtpSink
) -> None:
    backend = site.marketing.engine.dialect.name
    readers = tuple(f"reader{n}-{backend}@example.net" for n in (1, 2, 3))
    add_readers(site.marketing, readers, group_name="Who reads")
    with site.marketing.transaction() as session:
        draft = MailingDraft(
            name="Who draft", subject="Hi", html="<p>Hi</p>", include=["Who reads"]
        )
        draft_id = create_mailing(session, draft, now=NOW).id
    sent = send_to_readers(
        site.marketing, site.settings, smtp_sink, name="Who sent", group_name="Who reads"
    )
    with site.marketing.transaction() as session:
        opened = sent.deliveries[readers[1]]
        for kind in ("open", "open", "click"):
            record_event(session, opened, kind, now=NOW)
    marketer = site.signed_in("marketing", MARKETER)

    mailing = marketer.page(f"/mailings/{draft_id}")
    before = marketer.page(f"/mailings/{draft_id}/people")
    found = marketer.page(f"/mailings/{draft_id}/people", q="reader2")
    after = marketer.page(f"/mailings/{sent.mailing_id}/people")
    failed = marketer.page(f"/mailings/{sent.mailing_id}/people", status="failed")
    bad = marketer.get(f"/mailings/{sent.mailing_id}/people", status="lost")

    assert f'href="/marketing/mailings/{draft_id}/people"' in mailing
    assert "See who the send would reach" in text_of(mailing)
    assert _member_emails(before) == list(readers)
    assert _member_emails(found) == [readers[1]]
    assert "Recipients" in text_of(before) and "3 subscribers" in text_of(before)
    assert _member_emails(after) == list(readers)
    assert "3 deliveries" in text_of(after)
    assert f"{readers[1]} sent 2026-06-15" in text_of(after)
    assert re.search(rf"{readers[1]} sent [^|]*? 2 1 ", text_of(after))
    assert "No delivery matches." in text_of(failed)
    assert bad.status_code == 422 and "not 'lost'" in unescape(text_of(bad.text))


def test_a_subscribers_page_shows_the_mailings_they_received_their_score_and_campaigns(
    site: Site, smtp_sink: SmtpSink
) -> None:
    reader = f"followed-{site.marketing.engine.dialect.name}@example.net"
    add_readers(site.marketing, (reader,), group_name="Followed")
    sent = send_to_readers(
        site.marketing, site.settings, smtp_sink, name="Followed news", group_name="Followed"
    )
    with site.marketing.transaction() as session:
        for kind in ("open", "click", "click"):
            record_event(session, sent.deliveries[reader], kind, now=NOW)
        campaign = create_campaign(
            session,
            {
                "name": "Followed series",
                "activation": {"group": "Followed", "mode": "at_once"},
                "steps": [{"id": "hello", "mailing": "Followed news"}],
            },
            now=NOW,
        )
        activate(session, str(campaign.id), now=NOW)
        enroll(session, campaign, now=NOW)
        apply_model(
            session,
            {
                "rules": [{"name": "followed", "group": "Followed", "points": 7}],
                "grades": [{"grade": "Keen", "min_score": 5}],
            },
            now=NOW,
        )
        subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == reader))
    marketer = site.signed_in("marketing", MARKETER)

    shown = text_of(marketer.page(f"/subscribers/{subscriber_id}"))

    assert "Score 7 points, grade Keen" in shown
    assert "Followed news sent 2026-06-15" in shown
    assert re.search(r"Followed news sent [^|]*? 1 2 ", shown)
    assert "Followed series 2026-06-15" in shown and "at step hello" in shown
    assert "Not in any campaign." not in shown


def test_rejected_members_and_the_diagnosis_name_the_people_left_out(site: Site) -> None:
    with site.community.transaction() as session:
        add_member(
            session,
            "dee",
            email="dee@example.org",
            legacy_contact_key="R-DEE",
            first_name="Dee",
            last_name="Left",
        )
        add_member(session, "eve", email="eve@example.org")
        create_list(
            session,
            name="Informz Who left",
            criteria={"field": "contact_key", "op": "in", "value": ["dee", "eve"]},
            by="sam",
            now=NOW,
        )
    with site.marketing.transaction() as session:
        rows = [SubscriberRow(2, "dee@example.org", "R-DEE", "Dee", "Left", status="unsubscribed")]
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())
        dee_id = session.scalar(select(Subscriber.id).where(Subscriber.remote_id == "R-DEE"))
    marketer = site.signed_in("marketing", MARKETER)
    marketer.post("/groups/refresh")
    with site.marketing.session() as session:
        group_id = get_group(session, "Who left").id
    started = marketer.post_json(f"/groups/{group_id}/sync", {})
    assert _done(marketer, started.json()["poll"])["status"] == "completed"

    rejected = marketer.page(f"/groups/{group_id}", tab="rejected")
    diagnosis = text_of(marketer.page(f"/groups/{group_id}/diagnosis"))

    assert "— eve@example.org eve — no Legacy Contact Key" in text_of(rejected)
    assert f'<a href="/marketing/subscribers/{dee_id}">Dee Left</a>' in rejected
    assert "(unsubscribed; e.g. dee (Dee Left, dee@example.org))" in diagnosis
    assert "(missing_contact_key; e.g. eve (eve@example.org))" in diagnosis


def test_a_sent_mailing_is_duplicated_as_a_draft_with_its_message_and_groups(
    site: Site, smtp_sink: SmtpSink
) -> None:
    reader = f"again-{site.marketing.engine.dialect.name}@example.net"
    add_readers(site.marketing, (reader,), group_name="Again")
    sent = send_to_readers(
        site.marketing, site.settings, smtp_sink, name="Say it again", group_name="Again"
    )
    marketer = site.signed_in("marketing", MARKETER)

    duplicated = marketer.post(f"/mailings/{sent.mailing_id}/duplicate")
    missing = marketer.post("/mailings/999999/duplicate")

    assert duplicated.status_code == 303
    copy_id = int(duplicated.headers["location"].split("/")[-2])
    assert duplicated.headers["location"] == f"/marketing/mailings/{copy_id}/edit"
    with site.marketing.session() as session:
        original, copy = session.get(Mailing, sent.mailing_id), session.get(Mailing, copy_id)
        assert original is not None and copy is not None
        groups = mailing_groups(session, copy)
        assert [group.name for group in groups["include"]] == ["Again"]
    assert (copy.name, copy.status, copy.prepared_at) == ("Say it again (copy)", "draft", None)
    assert (copy.subject, copy.html, copy.from_address) == (
        original.subject,
        original.html,
        original.from_address,
    )
    assert original.status == "sent"
    assert _member_emails(marketer.page(f"/mailings/{copy_id}/people")) == [reader]
    assert missing.status_code == 404 and "no mailing has the id 999999" in text_of(missing.text)


@pytest.mark.parametrize(
    "path", ["/groups/{id}/members", "/mailings/{id}/people", "/mailings/{id}/duplicate"]
)
def test_an_id_no_row_can_have_is_refused_by_the_new_pages(site: Site, path: str) -> None:
    marketer = site.signed_in("marketing", MARKETER)
    url = path.replace("{id}", "2147483648")

    answer = marketer.post(url) if path.endswith("duplicate") else marketer.get(url)

    assert answer.status_code == 422
    assert "the request is not valid: path." in unescape(text_of(answer.text))


def test_mailings_and_campaigns_are_searched_and_paged_beyond_fifty(site: Site) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Bulk readers", now=NOW)
        for number in range(1, 56):
            draft = MailingDraft(
                name=f"Bulk mailing {number:02}",
                subject=f"Bulk news {number:02}",
                html="<p>Hi</p>",
                include=["Bulk readers"],
            )
            create_mailing(session, draft, now=NOW)
        for number in range(1, 53):
            definition = {
                "name": f"Bulk series {number:02}",
                "activation": {"group": "Bulk readers", "mode": "at_once"},
                "steps": [{"id": "hello", "mailing": "Bulk mailing 01"}],
            }
            create_campaign(session, definition, now=NOW)
    marketer = site.signed_in("marketing", MARKETER)

    mailings = marketer.page("/mailings", q="bulk MAILING")
    mailings_two = marketer.page("/mailings", q="bulk mailing", page=2)
    by_subject = marketer.page("/mailings", q="Bulk news 07", status="draft")
    none_sent = marketer.page("/mailings", q="bulk mailing", status="sent")
    bad_status = marketer.get("/mailings", status="lost")
    campaigns = marketer.page("/campaigns", q="bulk series")
    campaigns_two = marketer.page("/campaigns", q="bulk series", page=2)

    def names(html: str, kind: str) -> list[str]:
        return re.findall(rf'<a href="/marketing/{kind}/\d+">(Bulk [^<]+)</a>', html)

    assert "55 mailings" in text_of(mailings) and "Page 1 of 2" in text_of(mailings)
    assert names(mailings, "mailings")[:2] == ["Bulk mailing 55", "Bulk mailing 54"]
    assert len(names(mailings, "mailings")) == 50
    assert names(mailings_two, "mailings") == [f"Bulk mailing {n:02}" for n in range(5, 0, -1)]
    assert names(by_subject, "mailings") == ["Bulk mailing 07"]
    assert "No mailing matches." in text_of(none_sent)
    assert bad_status.status_code == 422
    assert "not 'lost'" in unescape(text_of(bad_status.text))
    assert "52 campaigns" in text_of(campaigns) and len(names(campaigns, "campaigns")) == 50
    assert names(campaigns_two, "campaigns") == ["Bulk series 51", "Bulk series 52"]


def test_groups_are_searched_by_name_and_paged_beyond_fifty(site: Site) -> None:
    with site.marketing.transaction() as session:
        for number in range(1, 56):
            create_group(session, f"Paged group {number:02}", now=NOW)
    marketer = site.signed_in("marketing", MARKETER)

    first = marketer.page("/groups", q=" PAGED group ")
    second = marketer.page("/groups", q="paged group", page=2)
    nothing = marketer.page("/groups", q="100%_")

    def names(html: str) -> list[str]:
        return re.findall(r'<a href="/marketing/groups/\d+">(Paged group \d+)</a>', html)

    assert "55 groups" in text_of(first) and "Page 1 of 2" in text_of(first)
    assert len(names(first)) == 50 and names(first)[0] == "Paged group 01"
    assert names(second) == [f"Paged group {number}" for number in range(51, 56)]
    assert 'href="?folder=&amp;q=paged+group&amp;page=1"' in second
    assert "No group matches." in text_of(nothing)
