"""The demo's mailings: a thank-you to a synced community group, into the local outbox, and one
the duplicate-mailing guard holds because a community automation rule already e-mails them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.outbox import OutboxTransport, outbox_folder
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
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


@dataclass(frozen=True)
class MailingDemo:
    sent: Mailing
    report: dict[str, object]
    held: Mailing
    outbox: str


def send_demo_mailings(marketing: Database, settings: Settings, *, now: datetime) -> MailingDemo:
    """Send the thank-you (resyncing its group first) and try the welcome, which is held."""
    transport = OutboxTransport(outbox_folder(settings.data_dir))
    results = []
    for draft in (THANK_YOU, WELCOME):
        with marketing.transaction() as session:
            mailing = create_mailing(session, draft, now=now)
            request_send(session, mailing.id, SendOptions(), now=now)
        results.append(
            send_mailing_now(marketing, settings, mailing.id, transport=transport, clock=utcnow)
        )
    sent, held = results
    with marketing.session() as session:
        report = mailing_report(session, sent.id, now=now)
    return MailingDemo(sent, report, held, str(transport.folder))
