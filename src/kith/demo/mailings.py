"""The demo's mailings: a test of the thank-you to a marketer's address, then the thank-you sent
to a synced community group, into the local outbox; one the duplicate-mailing guard holds because
a community automation rule already e-mails them; and a copy of the thank-you scheduled for
nine in the morning a week on (after the days the demo's campaign ticks through), which a worker
(`make serve`) sends then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.marketing.mailings.copies import duplicate_mailing
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.outbox import OutboxTransport, outbox_folder
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.schedule import schedule_send
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.testing import SentTests, send_test
from kith.marketing.models import Mailing

THANK_YOU = MailingDraft(
    name="Thank you for starting a discussion",
    subject="Thanks for getting the conversation going, {{ first_name | default('friend') }}!",
    html=(
        "<html><body><h1>Thank you, {{ first_name | default('friend') }}!</h1>"
        "<p>Your thread got the community talking. Keep it coming:"
        ' <a href="https://community.example.org/discussions">see the discussions</a>.</p>'
        '<p><small><a href="{{ unsubscribe_url }}">Unsubscribe</a></small></p>'
        "</body></html>"
    ),
    include=["Has Started Discussion Thread"],
    exclude=["New Members"],  # the community welcomes those itself (see WELCOME_RULE)
    from_address="community@example.org",
    from_name="The Community Team",
)
WELCOME = MailingDraft(
    name="Welcome, new members",
    subject="Welcome aboard, {{ first_name | default('friend') }}",
    html=(
        "<p>Welcome! Introduce yourself in the Open Forum.</p>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    ),
    include=["New Members"],
    from_address="community@example.org",
)
MARKETER_ADDRESS = "marketing@example.org"  # where the demo's test of the thank-you goes


@dataclass(frozen=True)
class MailingDemo:
    tested: SentTests
    sent: Mailing
    report: dict[str, object]
    held: Mailing
    scheduled: Mailing
    outbox: str


def send_demo_mailings(marketing: Database, settings: Settings, *, now: datetime) -> MailingDemo:
    """Test the thank-you, send it (resyncing its group first), try the welcome, which is held,
    and schedule a copy of the thank-you for nine in the morning (UTC) a week on."""
    transport = OutboxTransport(outbox_folder(settings.data_dir))
    links = LinkMaker.from_settings(settings)
    mailings = []
    for draft in (THANK_YOU, WELCOME):
        with marketing.transaction() as session:
            mailings.append(create_mailing(session, draft, now=now).id)
    with marketing.session() as session:
        tested = send_test(
            session,
            mailings[0],
            [MARKETER_ADDRESS],
            personalized_as="",
            links=links,
            transport=transport,
        )
    results = []
    for mailing_id in mailings:
        with marketing.transaction() as session:
            request_send(session, mailing_id, SendOptions(), now=now)
        results.append(
            send_mailing_now(marketing, settings, mailing_id, transport=transport, clock=utcnow)
        )
    sent, held = results
    week_on = datetime.combine(now.date() + timedelta(days=7), time(9), now.tzinfo)
    with marketing.transaction() as session:
        copy = duplicate_mailing(session, sent.id, now=now)
        scheduled = schedule_send(session, copy.id, week_on, now=now)
    with marketing.session() as session:
        report = mailing_report(session, sent.id, now=now)
    return MailingDemo(tested, sent, report, held, scheduled, str(transport.folder))
