"""Mailings end to end: templates checked when saved, recipients, delivery through a real SMTP
server (aiosmtpd on loopback), per-recipient failures, kill-and-resume exactly once, and the
signed links (unsubscribe, open, click)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from kith.config import Settings
from kith.db import Database
from kith.marketing.app import create_marketing_app
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing, get_mailing
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.recipients import count_recipients, iter_recipients
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.mailings.templates import InvalidTemplate, compile_template
from kith.marketing.models import Delivery, Subscriber
from kith.marketing.subscriber_changes import changes_seen
from kith.marketing.subscriber_import import import_subscribers
from kith.marketing.subscribers import find_subscriber, status_history
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import NOW
from tests.support.import_files import csv_rows
from tests.support.smtp_sink import SmtpSink

PUBLIC_URL = "https://kith.example.org"
HTML = (
    '<html><body><p>Hello {{ first_name | default("there") }},</p>'
    "<p>{{ community.thread_started_30d | default(0) }} threads this month.</p>"
    '<a href="https://example.org/forum?a=1&amp;b=2">Forum</a>'
    "{% if fields.boom %}{{ 1 // 0 }}{% endif %}"
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>'
)


@pytest.fixture
def marketing(marketing_db: Database) -> Database:
    """Six subscribers: two groups, a shared address, an unsubscribed one."""
    with marketing_db.bulk_transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status,boom",
                "ann@example.org,R1,Ann,,,",
                "bo@example.org,R2,,,,",
                "Shared@Example.org,R3,Cy,,,",
                "shared@example.org,R4,Di,,,",
                "gone@example.org,R5,Ed,,unsubscribed,",
                "boom@example.org,R6,Fay,,,yes",
            ),
            now=NOW,
        )
    with marketing_db.transaction() as session:
        for name, members in (("Readers", "R1 R2 R3 R4 R5 R6"), ("Board", "R2")):
            group = create_group(session, name, now=NOW)
            change_members(session, group, csv_rows("remote_id", *members.split()), now=NOW)
    return marketing_db


def new_mailing(db: Database, **changes: object) -> int:
    values: dict[str, object] = {
        "name": "Welcome",
        "subject": "Hi {{ first_name | default('there') }}",
        "html": HTML,
        "include": ["Readers"],
        "exclude": ["Board"],
        "from_address": "news@example.org",
        "from_name": "Kith News",
    }
    with db.transaction() as session:
        return create_mailing(session, MailingDraft(**values | changes), now=NOW).id  # type: ignore[arg-type]


def numbered_group(db: Database, name: str, prefix: str, count: int) -> None:
    """`count` subscribers {prefix}0@example.org ... (remote ids in capitals), all in `name`."""
    with db.bulk_transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status",
                *(
                    f"{prefix}{n}@example.org,{prefix.upper()}{n},{prefix}{n},,"
                    for n in range(count)
                ),
            ),
            now=NOW,
        )
    with db.transaction() as session:
        group = create_group(session, name, now=NOW)
        members = (f"{prefix.upper()}{n}" for n in range(count))
        change_members(session, group, csv_rows("remote_id", *members), now=NOW)


def settings_for(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": PUBLIC_URL})


def send(
    db: Database, settings: Settings, mailing_id: int, sink: SmtpSink, *, connections: int = 2
) -> None:
    with db.transaction() as session:
        request_send(session, mailing_id, SendOptions(), now=NOW)
    send_mailing_now(
        db,
        settings_for(settings),
        mailing_id,
        transport=SmtpTransport(sink.config(connections=connections)),
        clock=lambda: NOW,
    )


# --- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hi {{ frist_name }}", "line 1, column 7: unknown field 'frist_name'"),
        ("Hi\n{% if %}", "line 2: "),
        ("{{ email.__class__ }}", "'__class__' is internal"),
        ("{{ email._secret }}", "'_secret' is internal"),
        ('{{ "{0.__class__}".format(email) }}', r"\.format\(\) is not allowed"),
        ('{{ email.__len__ and "{0.__class__.__mro__}" }}', "'__len__' is internal"),
        ("{% for x in range(10) %}{{ x.__class__ }}{% endfor %}", "'__class__' is internal"),
        ("{{ (fields | attr('__class__')) }}", "reaches an internal attribute"),
    ],
)
def test_a_template_is_refused_when_saved_with_where_and_why(source: str, message: str) -> None:
    with pytest.raises(InvalidTemplate, match=message):
        compile_template(source, part="subject")


def test_a_loop_can_number_its_rounds_and_loop_means_nothing_outside_one() -> None:
    numbered = compile_template("{% for x in range(3) %}{{ loop.index }}.{% endfor %}", part="html")

    assert numbered.render({}) == "1.2.3."
    with pytest.raises(InvalidTemplate, match="unknown field 'loop'"):
        compile_template("{% for x in range(3) %}{% endfor %}{{ loop.index }}", part="html")


def test_a_template_beyond_the_size_cap_is_refused() -> None:
    with pytest.raises(InvalidTemplate, match="the limit is 100,000"):
        compile_template("x" * 100_001, part="html", html=True)


# --- recipients ----------------------------------------------------------------------------


def test_recipients_are_included_minus_excluded_subscribed_and_one_per_address(
    marketing: Database,
) -> None:
    mailing_id = new_mailing(marketing)
    with marketing.session() as session:
        mailing = get_mailing(session, mailing_id)
        emails = [recipient.email for recipient in iter_recipients(session, mailing)]
        assert count_recipients(session, mailing) == len(emails)
    assert emails == ["ann@example.org", "Shared@example.org", "boom@example.org"]


# --- sending ---------------------------------------------------------------------------------


def test_a_send_delivers_personalized_messages_with_unsubscribe_headers(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mailing_id = new_mailing(marketing)
    send(marketing, settings, mailing_id, smtp_sink)

    received = {message.recipients[0]: message.message for message in smtp_sink.messages}
    assert sorted(received) == ["Shared@example.org", "ann@example.org"]  # boom@ failed
    ann = received["ann@example.org"]
    assert ann["Subject"] == "Hi Ann"
    assert ann["From"] == "Kith News <news@example.org>"
    assert ann["Message-ID"].endswith("@example.org>")
    unsubscribe = ann["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{PUBLIC_URL}/marketing/u/") and "<mailto:" in unsubscribe
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = ann.get_body(("html",)).get_content()
    assert "Hello Ann," in html and "0 threads this month" in html
    assert f"{PUBLIC_URL}/marketing/t/click/" in html and f"{PUBLIC_URL}/marketing/t/open/" in html
    assert "Hello Ann," in ann.get_body(("plain",)).get_content()

    with marketing.session() as session:
        statuses = dict(session.execute(select(Delivery.email, Delivery.status)).tuples().all())
        boom = session.scalar(select(Delivery).where(Delivery.email == "boom@example.org"))
    assert statuses == {
        "ann@example.org": "sent",
        "Shared@example.org": "sent",
        "boom@example.org": "failed",
    }
    assert boom is not None and boom.detail is not None and "division" in boom.detail
    report = mailing_report(marketing.session().__enter__(), mailing_id, now=NOW)
    assert (report["status"], report["totals"]["sent"], report["totals"]["failed"]) == (
        "sent",
        2,
        1,
    )


def test_a_template_running_away_for_one_recipient_fails_that_delivery_saying_where_and_why(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    runaway = HTML.replace("{{ 1 // 0 }}", "{{ 'x' * 1000000000 }}")
    mailing_id = new_mailing(marketing, html=runaway)

    send(marketing, settings, mailing_id, smtp_sink)

    with marketing.session() as session:
        outcomes = dict(session.execute(select(Delivery.email, Delivery.detail)).tuples().all())
    column = runaway.index("* 1000000000") + 1
    assert outcomes["boom@example.org"] == (
        f"rendering: html, line 1, column {column}: '*' makes more than 1,000,000 characters "
        "(the limit of a render)"
    )
    assert sorted(message.recipients[0] for message in smtp_sink.messages) == [
        "Shared@example.org",
        "ann@example.org",
    ]


def test_a_permanent_refusal_bounces_and_a_temporary_one_is_retried(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.reject("ann@example.org")
    smtp_sink.defer("Shared@example.org", times=2)
    mailing_id = new_mailing(marketing)
    with marketing.session() as session:
        seen = changes_seen(session)
    send(marketing, settings, mailing_id, smtp_sink)

    with marketing.session() as session:
        deliveries = {d.email: (d.status, d.attempts) for d in session.scalars(select(Delivery))}
        ann = session.scalar(select(Subscriber).where(Subscriber.remote_id == "R1"))
    assert deliveries["ann@example.org"][0] == "failed"
    assert deliveries["Shared@example.org"] == ("sent", 3)
    assert ann is not None and ann.status == "bounced"
    assert ann.change_seq > seen  # live community groups decide ann's members again
    with marketing.session() as session:
        assert mailing_report(session, mailing_id, now=NOW)["totals"]["bounced"] == 1
        history = status_history(session, find_subscriber(session, "R1"))
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        ("subscribed", "bounced", "refused_at_send")
    ]


def test_a_send_killed_midway_and_resumed_delivers_every_address_exactly_once(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    numbered_group(marketing, "Many", "p", 40)
    mailing_id = new_mailing(marketing, include=["Many"], exclude=[], html="<p>{{ email }}</p>")
    env = {key: value for key, value in os.environ.items() if not key.startswith("KITH_")}
    env |= {
        "KITH_MARKETING_DB_URL": marketing.url,
        "KITH_DATA_DIR": str(tmp_path / "var"),
        "KITH_SECRET_KEY": settings.secret_key or "",
        "KITH_SMTP_URL": smtp_sink.url() + "&connections=1&backoff=0",
    }
    command = [sys.executable, "-m", "kith", "mailings", "send", str(mailing_id), "--wait"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def kill_the_sender(_message: object) -> str:
        os.kill(first.pid, signal.SIGKILL)  # dies before hearing that message 15 was accepted
        first.wait(timeout=10)
        return "421 4.3.0 shutting down"

    smtp_sink.on_message(15, kill_the_sender)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, first.communicate()
    assert len(smtp_sink.messages) == 14

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    assert resumed.returncode == 0, resumed.stderr
    delivered = [message.recipients[0] for message in smtp_sink.messages]
    assert sorted(delivered) == sorted(f"p{n}@example.org" for n in range(40))
    with marketing.session() as session:
        assert mailing_report(session, mailing_id, now=NOW)["totals"]["sent"] == 40


SLOW_SETTLEMENT = """
CREATE FUNCTION slow_settlement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$;
CREATE TRIGGER slow_settlement BEFORE UPDATE ON deliveries
FOR EACH ROW WHEN (NEW.status = 'sent') EXECUTE FUNCTION slow_settlement();
"""


def test_a_message_is_handed_over_only_once_the_one_before_it_is_settled(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    """On PostgreSQL a settlement runs while the next envelope goes out; the next message's
    data must still wait for its commit, or a kill would leave two messages in doubt."""
    numbered_group(marketing, "Queue", "q", 30)
    mailing_id = new_mailing(marketing, include=["Queue"], exclude=[])
    if not marketing.is_sqlite:  # each commit slowed, so that a message not waiting would show
        with marketing.transaction() as session:
            session.execute(text(SLOW_SETTLEMENT))
    unsettled: list[set[str]] = []  # at each message's arrival: earlier ones not yet recorded

    def check(_message: object) -> None:
        accepted = {message.recipients[0] for message in smtp_sink.messages}
        with marketing.session() as session:
            sent = set(session.scalars(select(Delivery.email).where(Delivery.status == "sent")))
        unsettled.append(accepted - sent)

    for number in range(1, 31):
        smtp_sink.on_message(number, check)

    send(marketing, settings, mailing_id, smtp_sink, connections=1)

    assert len(unsettled) == 30
    assert unsettled == [set()] * 30


# --- links -----------------------------------------------------------------------------------


@pytest.fixture
def sent_mailing(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> tuple[int, dict[str, str]]:
    """A mailing sent to ann@ and shared@; the links ann@ received."""
    mailing_id = new_mailing(marketing)
    send(marketing, settings, mailing_id, smtp_sink)
    with marketing.session() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.email == "ann@example.org"))
        assert delivery is not None
    links = LinkMaker(PUBLIC_URL, settings.signing_key())
    return mailing_id, {
        "unsubscribe": links.unsubscribe_url(delivery.id),
        "open": links.open_url(delivery.id),
        "click": links.click_url(delivery.id, "https://example.org/forum?a=1&b=2"),
    }


@pytest.fixture
def public(marketing: Database, settings: Settings) -> Iterator[httpx.Client]:
    app = create_marketing_app(marketing, settings_for(settings))
    app.state.clock = lambda: NOW
    with serve_on_loopback(app) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def local(url: str) -> str:
    return url.removeprefix(f"{PUBLIC_URL}/marketing")


def test_opens_and_clicks_are_recorded_and_clicks_go_only_where_the_message_led(
    marketing: Database, sent_mailing: tuple[int, dict[str, str]], public: httpx.Client
) -> None:
    mailing_id, links = sent_mailing
    opened = public.get(local(links["open"]))
    clicked = public.get(local(links["click"]), follow_redirects=False)
    public.get(local(links["click"]), follow_redirects=False)  # the same person, twice

    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://example.org/forum?a=1&b=2"
    payload, signature = local(links["click"]).rsplit("/", 1)[1].split(".")
    forged = public.get(f"/t/click/{payload}x.{signature}", follow_redirects=False)
    assert forged.status_code == 400
    with marketing.session() as session:
        totals = mailing_report(session, mailing_id, now=NOW)["totals"]
    assert (totals["opened"], totals["clicked"]) == (1, 1)


def test_unsubscribing_from_the_page_or_in_one_click_and_not_with_a_forged_token(
    marketing: Database, sent_mailing: tuple[int, dict[str, str]], public: httpx.Client
) -> None:
    mailing_id, links = sent_mailing
    path = local(links["unsubscribe"])
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")

    assert public.post(tampered).status_code == 400
    assert status_of(marketing, "R1") == "subscribed"
    page = public.get(path)
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert status_of(marketing, "R1") == "subscribed"  # looking at the page changes nothing

    done = public.post(path, data={"List-Unsubscribe": "One-Click"})

    assert done.status_code == 200 and "ann@example.org is unsubscribed" in done.text
    assert status_of(marketing, "R1") == "unsubscribed"
    with marketing.session() as session:
        assert mailing_report(session, mailing_id, now=NOW)["totals"]["unsubscribed"] == 1


def status_of(db: Database, remote_id: str) -> str:
    with db.session() as session:
        subscriber = session.scalar(select(Subscriber).where(Subscriber.remote_id == remote_id))
        assert subscriber is not None
        return subscriber.status
