"""A send whose recipients share bodies (kith.marketing.mailings.body_cache), through a real SMTP
server: each message still carries its own recipient's values and links (the unsubscribe
link, the open pixel and the click redirect name that recipient's delivery), and a recipient
whose rendering fails is failed alone."""

from __future__ import annotations

import re

from sqlalchemy import select

from kith.config import Settings
from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.links import read_link
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.models import Delivery
from kith.marketing.subscriber_import import import_subscribers
from tests.support.community_world import NOW
from tests.support.import_files import csv_rows
from tests.support.smtp_sink import SmtpSink

HTML = (
    "<html><body><p>Hello {{ first_name }} in {{ fields.city }},</p>"
    '<p><a href="https://example.org/meetup">The meetup</a></p>'
    "{% if fields.boom %}{{ 1 // 0 }}{% endif %}"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)
TOKEN = r"([\w-]+\.[\w-]{43})"  # a payload, a dot and a signature (43 characters of base64)


def test_recipients_sharing_a_body_each_get_their_own_values_and_links(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    rows = ["email,remote_id,first_name,last_name,status,city,boom"]
    rows += [f"ann{n}@example.org,A{n},Ann,,,Lyon," for n in range(8)]
    rows += [f"bo{n}@example.org,B{n},Bo,,,Porto," for n in range(4)]
    rows += ["boom@example.org,X1,Ann,,,Lyon,yes"]
    with marketing_db.bulk_transaction() as session:
        import_subscribers(session, csv_rows(*rows), now=NOW)
    with marketing_db.transaction() as session:
        group = create_group(session, "Readers", now=NOW)
        members = [row.split(",")[1] for row in rows[1:]]
        change_members(session, group, csv_rows("remote_id", *members), now=NOW)
        draft = MailingDraft(
            name="Meetup",
            subject="{{ first_name }}, the meetup",
            html=HTML,
            include=["Readers"],
            from_address="news@example.org",
        )
        mailing_id = create_mailing(session, draft, now=NOW).id
        request_send(session, mailing_id, SendOptions(), now=NOW)
    public = settings.model_copy(update={"public_url": "https://kith.example.org"})

    send_mailing_now(
        marketing_db,
        public,
        mailing_id,
        transport=SmtpTransport(smtp_sink.config(connections=3)),
        clock=lambda: NOW,
    )

    with marketing_db.session() as session:
        deliveries = {d.email: d for d in session.scalars(select(Delivery))}
    assert deliveries.pop("boom@example.org").status == "failed"
    assert {d.status for d in deliveries.values()} == {"sent"}
    key = public.signing_key()
    received = {message.recipients[0]: message for message in smtp_sink.messages}
    assert sorted(received) == sorted(deliveries)
    for email, message in received.items():
        own = deliveries[email].id
        name, city = ("Ann", "Lyon") if email.startswith("ann") else ("Bo", "Porto")
        html = message.message.get_body(("html",))
        assert html is not None and f"Hello {name} in {city}," in html.get_content()
        assert message.message["Subject"] == f"{name}, the meetup"
        assert message.message["To"] == email
        assert message.message["Message-ID"] == deliveries[email].message_id
        text = message.raw.replace(b"=\r\n", b"").decode()  # soft line breaks joined
        named = [
            int(read_link(token, kind, key=key)["d"])
            for path, token in re.findall(r"/marketing/(u|t/open|t/click)/" + TOKEN, text)
            for kind in [{"u": "unsubscribe", "t/open": "open", "t/click": "click"}[path]]
        ]
        # List-Unsubscribe, the text part's link, the HTML's, its redirect and its pixel
        assert named == [own] * 5, email
