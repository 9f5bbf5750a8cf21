"""Each recipient's message, rendered from the mailing's templates straight to wire bytes."""

from __future__ import annotations

import time
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy.orm import Session

from kith.marketing.mailings.definition import get_mailing
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.templates import compile_template, text_of_html
from kith.marketing.mailings.transport import (
    PLAIN_ADDRESS,
    PLAIN_MESSAGE_ID,
    alternative_body,
    header_line,
)
from kith.marketing.models import Mailing, Subscriber
from kith.marketing.scoring.models import SubscriberScore
from kith.marketing.subscribers import find_subscriber


def delivery_key(delivery_id: int) -> str:
    """The delivery's name in the outbox (and its Message-ID's local part)."""
    return f"delivery-{delivery_id}"


class SubscriberFields(NamedTuple):
    """The subscriber's values a message is personalized with, as a claim reads them."""

    email: str
    first_name: str | None
    last_name: str | None
    remote_id: str | None
    fields: dict[str, Any] | None
    community: dict[str, Any] | None
    score: int | None = None  # the engagement score and grade of the last recompute
    grade: str | None = None


class RenderedMessage(NamedTuple):
    """One recipient's message as it goes over the wire (CRLF line endings), and its id."""

    data: bytes
    message_id: str


class MessageBuilder:
    """Builds each recipient's message from the mailing's compiled templates.

    The message is written straight to bytes (kith.marketing.mailings.transport's
    `header_line` and `alternative_body`): the bytes EmailMessage gave, without building one
    per recipient. What varies from one recipient to the next is all that is made per message.
    """

    def __init__(self, mailing: Mailing, links: LinkMaker) -> None:
        self.mailing = mailing
        self.links = links
        self.subject = compile_template(mailing.subject, part="subject")
        self.html = compile_template(mailing.html, part="html", html=True)
        self.text = compile_template(mailing.text, part="text") if mailing.text else None
        self.domain = mailing.from_address.rpartition("@")[2]
        self.sender = formataddr((mailing.from_name or "", mailing.from_address))
        try:
            self._from: bytes | Exception = header_line("From", self.sender, plain=None)
        except Exception as error:  # a line break in the name: each message fails, as before
            self._from = error
        self._mailto = f"mailto:unsubscribe@{self.domain}?subject={quote('unsubscribe ')}"
        self._date: tuple[int, bytes] = (0, b"")  # (the second it was made in, the line)

    def render(
        self, delivery_id: int, email: str, subscriber: Subscriber | SubscriberFields
    ) -> RenderedMessage:
        """The message of delivery `delivery_id` to `email`; a template's error is raised.

        The parts are made in the order EmailMessage was filled, so a recipient whose message
        fails in two ways is failed with the same reason.
        """
        unsubscribe = self.links.unsubscribe_url(delivery_id)
        context = personalization(subscriber, mailing_name=self.mailing.name)
        context["unsubscribe_url"] = unsubscribe
        html = self.html.render(context)
        if isinstance(self._from, Exception):
            raise self._from
        to = header_line("To", email, PLAIN_ADDRESS)
        subject = header_line("Subject", " ".join(self.subject.render(context).split()))
        message_id = f"<{delivery_key(delivery_id)}.m{self.mailing.id}@{self.domain}>"
        headers = (
            self._from,
            to,
            subject,
            self._date_line(),
            header_line("Message-ID", message_id, PLAIN_MESSAGE_ID),
            header_line("List-Unsubscribe", f"<{unsubscribe}>, <{self._mailto}{delivery_id}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        )
        text = self.text.render(context) if self.text else text_of_html(html)
        body = alternative_body(text, self.links.track(html, delivery_id, unsubscribe))
        data = b"".join((*headers, body))
        return RenderedMessage(data, message_id)

    def _date_line(self) -> bytes:
        """The Date header of a message made now; formatted once a second, not per message."""
        second = int(time.time())
        made_in, line = self._date
        if made_in != second:
            line = header_line("Date", format_datetime(datetime.now().astimezone()))
            self._date = (second, line)
        return line


def personalization(
    subscriber: Subscriber | SubscriberFields, *, mailing_name: str
) -> dict[str, Any]:
    """A subscriber's template fields; absent values are left out, so `default` applies."""
    values: dict[str, Any] = {
        "email": subscriber.email,
        "first_name": subscriber.first_name,
        "last_name": subscriber.last_name,
        "remote_id": subscriber.remote_id,
        "fields": subscriber.fields or {},
        "community": subscriber.community or {},
        "mailing": {"name": mailing_name},
    }
    if isinstance(subscriber, SubscriberFields):
        values["score"], values["grade"] = subscriber.score, subscriber.grade
    return {name: value for name, value in values.items() if value is not None}


def preview(session: Session, mailing_id: int, reference: str, *, links: LinkMaker) -> EmailMessage:
    """The message one subscriber would get (links built for a delivery numbered 0): the bytes
    a send would write, read back."""
    mailing = get_mailing(session, mailing_id)
    subscriber = find_subscriber(session, reference)
    stored = session.get(SubscriberScore, subscriber.id)
    fields = SubscriberFields(
        subscriber.email,
        subscriber.first_name,
        subscriber.last_name,
        subscriber.remote_id,
        subscriber.fields,
        subscriber.community,
        stored.score if stored else None,
        stored.grade if stored else None,
    )
    rendered = MessageBuilder(mailing, links).render(0, subscriber.email, fields)
    # line endings as Python writes them, so the parts' text reads as the templates' did
    return message_from_bytes(rendered.data.replace(b"\r\n", b"\n"), policy=default)
