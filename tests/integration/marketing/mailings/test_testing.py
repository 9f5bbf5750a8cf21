"""Send a test: the mailing's message to a few typed addresses through a real SMTP server
(aiosmtpd on loopback), "[Test]" before its subject, personalized as a send would, and not a
send: no delivery written, the mailing's status as it was, the real send's addresses untouched."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from kith.config import Settings
from kith.db import Database
from kith.errors import InvalidInput, NotFound
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.mailings.testing import SentTests, addresses_to_test, send_test
from kith.marketing.models import Delivery
from tests.integration.marketing.mailings import test_sending
from tests.integration.marketing.mailings.test_sending import new_mailing, send, settings_for
from tests.support.smtp_sink import SmtpSink

marketing = test_sending.marketing  # the fixture: six subscribers, Readers and Board


def send_a_test(
    db: Database, settings: Settings, mailing_id: int, sink: SmtpSink, to: str, as_: str = ""
) -> SentTests:
    links = LinkMaker(settings_for(settings).public_url, settings.signing_key())
    with db.session() as session:
        return send_test(
            session,
            mailing_id,
            addresses_to_test(to),
            personalized_as=as_,
            links=links,
            transport=SmtpTransport(sink.config()),
        )


def deliveries(db: Database, mailing_id: int) -> int:
    with db.session() as session:
        count = session.scalar(select(func.count()).where(Delivery.mailing_id == mailing_id))
    return count or 0


def test_a_test_reaches_the_typed_addresses_as_the_first_recipient_would_see_it_and_is_no_send(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mailing_id = new_mailing(marketing)

    tested = send_a_test(
        marketing, settings, mailing_id, smtp_sink, "me@example.net, ann@example.org"
    )

    assert tested.personalized_as == "ann@example.org"  # Readers' first, Board left out
    assert [(sent.address, sent.status) for sent in tested.sent] == [
        ("me@example.net", "sent"),
        ("ann@example.org", "sent"),
    ]
    received = smtp_sink.messages
    assert [message.recipients for message in received] == [
        ("me@example.net",),
        ("ann@example.org",),
    ]
    assert {message.message["Subject"] for message in received} == {"[Test] Hi Ann"}
    assert "Hello Ann," in received[0].message.get_body(("html",)).get_content()
    assert received[0].message["Message-ID"] != received[1].message["Message-ID"]
    assert deliveries(marketing, mailing_id) == 0
    with marketing.session() as session:
        assert get_mailing(session, mailing_id).status == "draft"

    send(marketing, settings, mailing_id, smtp_sink)  # the real send: Ann gets it all the same

    real = {message.recipients[0]: message.message["Subject"] for message in smtp_sink.messages[2:]}
    assert real == {"ann@example.org": "Hi Ann", "Shared@example.org": "Hi Cy"}


def test_a_test_is_personalized_as_the_subscriber_picked_or_as_nobody_when_nobody_is_in_it(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    picked = send_a_test(
        marketing, settings, new_mailing(marketing), smtp_sink, "me@example.net", as_="R3"
    )
    nobody = send_a_test(
        marketing,
        settings,
        new_mailing(marketing, include=["Board"], exclude=["Board"]),
        smtp_sink,
        "me@example.net",
    )

    assert picked.personalized_as == "Shared@example.org"
    assert nobody.personalized_as == "no subscriber (the templates' defaults)"
    subjects = [message.message["Subject"] for message in smtp_sink.messages]
    assert subjects == ["[Test] Hi Cy", "[Test] Hi there"]
    with pytest.raises(NotFound):
        send_a_test(marketing, settings, new_mailing(marketing), smtp_sink, "me@example.net", "R99")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "type the address (or up to 10 addresses) to send the test to"),
        ("me@example.net, nope", "'nope' is not a valid email address"),
        (" ".join(f"t{n}@example.net" for n in range(11)), "at most 10 addresses; 11 were typed"),
    ],
)
def test_test_addresses_are_checked_and_capped(typed: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        addresses_to_test(typed)


def test_test_addresses_may_be_split_by_commas_semicolons_or_lines_and_count_once() -> None:
    typed = "me@example.net;\nyou@Example.NET, me@example.net"

    assert addresses_to_test(typed) == ["me@example.net", "you@example.net"]
