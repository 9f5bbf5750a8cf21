"""Send a test: a mailing's message to a few addresses the marketer types, as a send renders it.

The subject says "[Test]" and the message has a Message-ID of its own (a mail service that
drops a second message with an ID it has seen would otherwise hide the next test). A test is
not a send: no delivery is recorded, the mailing's status is left as it was, and its links
point at no delivery, so an open or a click of a test is counted nowhere.

It is personalized as the subscriber the marketer picks, else as the mailing's first recipient
now, else with no subscriber's values at all (the templates' `default`s show).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kith.emails import normalize_email
from kith.errors import InvalidInput
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.messages import MessageBuilder, SubscriberFields, subscriber_fields
from kith.marketing.mailings.mime import header_line
from kith.marketing.mailings.recipients import recipients_query
from kith.marketing.mailings.transport import Transport
from kith.marketing.models import Mailing, Subscriber
from kith.marketing.subscribers import find_subscriber

TEST_ADDRESSES = 10  # at most, in one test
SUBJECT_PREFIX = "[Test] "
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class SentTest:
    """How the test message to one address went: sent, failed or deferred, and the server's
    last word."""

    address: str
    status: str
    detail: str


@dataclass(frozen=True)
class SentTests:
    """A whole test: who its messages are personalized as, and each address's outcome."""

    personalized_as: str
    sent: list[SentTest]


def addresses_to_test(text: str) -> list[str]:
    """The addresses typed (commas, semicolons, spaces or lines between them), each checked."""
    typed = [part for part in _SEPARATORS.split(text) if part]
    if not typed:
        raise InvalidInput(
            f"type the address (or up to {TEST_ADDRESSES} addresses) to send the test to"
        )
    if len(typed) > TEST_ADDRESSES:
        raise InvalidInput(
            f"a test goes to at most {TEST_ADDRESSES} addresses; {len(typed)} were typed"
        )
    return list(dict.fromkeys(normalize_email(part) for part in typed))  # InvalidEmail names it


def send_test(
    session: Session,
    mailing_id: int,
    addresses: list[str],
    *,
    personalized_as: str,
    links: LinkMaker,
    transport: Transport,
) -> SentTests:
    """Send the test message to each of `addresses` through `transport`; nothing is written."""
    mailing = get_mailing(session, mailing_id)
    subscriber = _personalizing(session, mailing, personalized_as)
    fields = subscriber_fields(session, subscriber) if subscriber else None
    builder = _TestMessages(mailing, links)
    outcomes = []
    with transport.open() as sender:
        for address in addresses:
            message = builder.render(0, address, fields or _nobody(address))
            result = sender.send(
                message.data,
                sender=mailing.from_address,
                recipient=address,
                key=f"test-{uuid.uuid4().hex}",
            )
            outcomes.append(SentTest(address, result.status, result.detail))
    shown_as = subscriber.email if subscriber else "no subscriber (the templates' defaults)"
    return SentTests(shown_as, outcomes)


def _personalizing(session: Session, mailing: Mailing, reference: str) -> Subscriber | None:
    if reference.strip():
        return find_subscriber(session, reference)
    first = session.execute(recipients_query(session, mailing).limit(1)).first()
    return None if first is None else session.get(Subscriber, first[0])


def _nobody(address: str) -> SubscriberFields:
    return SubscriberFields(address, None, None, None, None, None)


class _TestMessages(MessageBuilder):
    """The send's messages with "[Test]" before the subject and a Message-ID never given
    twice."""

    def _subject_line(self, context: dict[str, Any]) -> bytes:
        subject = " ".join(self.subject.render(context).split())
        return header_line("Subject", SUBJECT_PREFIX + subject)

    def _message_id(self, delivery_id: int) -> str:
        return f"<test-{uuid.uuid4().hex}.m{self.mailing_id}@{self.domain}>"
