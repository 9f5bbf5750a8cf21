"""Each recipient's message, rendered from the mailing's templates straight to wire bytes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy.orm import Session

from kith.marketing.mailings.body_cache import Body, BodyCache, fill, reads_of
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.mailings.links import LinkMaker, track_links
from kith.marketing.mailings.mime import (
    PLAIN_ADDRESS,
    PLAIN_MESSAGE_ID,
    alternative_of,
    encoded_part,
    header_line,
)
from kith.marketing.mailings.templates import compile_template
from kith.marketing.mailings.text_part import text_of_html
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

    The message is written straight to bytes (kith.marketing.mailings.mime's
    `header_line` and `alternative_of`): the bytes EmailMessage gave, without building one
    per recipient. What varies from one recipient to the next is all that is made per message:
    a body is shared by the recipients whose templates read the same values, with each one's
    own links written in (kith.marketing.mailings.body_cache).
    """

    def __init__(self, mailing: Mailing, links: LinkMaker) -> None:
        self.mailing = mailing
        # read for every message: plain attributes, not the ORM's instrumented ones
        self.mailing_id, self.mailing_name = mailing.id, mailing.name
        self.from_address = mailing.from_address
        self.links = links
        self.subject = compile_template(mailing.subject, part="subject")
        self.html = compile_template(mailing.html, part="html", html=True)
        self.text = compile_template(mailing.text, part="text") if mailing.text else None
        self.bodies = BodyCache(reads_of(self.subject, self.html, self.text))
        self.domain = mailing.from_address.rpartition("@")[2]
        self.sender = formataddr((mailing.from_name or "", mailing.from_address))
        try:
            self._from: bytes | Exception = header_line("From", self.sender, plain=None)
        except Exception as error:  # a line break in the name: each message fails, as before
            self._from = error
        self._mailto = f"mailto:unsubscribe@{self.domain}?subject={quote('unsubscribe ')}"
        self._date: tuple[int, bytes] = (0, b"")  # (the second it was made in, the line)
        # Message-ID and List-Unsubscribe differ from one message to the next only in a
        # delivery id and a token, which keep a plain header plain: when a sample is plain
        # (header_line would write it as it is), each is written so without being matched
        self._plain_ids = header_line(
            "Message-ID", self._message_id(1), PLAIN_MESSAGE_ID
        ) == f"Message-ID: {self._message_id(1)}\r\n".encode("ascii", "replace")
        sample = self._unsubscribe_value(links.unsubscribe_url(1), 1)
        self._plain_unsubscribe = header_line(
            "List-Unsubscribe", sample
        ) == f"List-Unsubscribe: {sample}\r\n".encode("ascii", "replace")

    def render(
        self, delivery_id: int, email: str, subscriber: Subscriber | SubscriberFields
    ) -> RenderedMessage:
        """The message of delivery `delivery_id` to `email`; a template's error is raised.

        The parts are made in the order EmailMessage was filled, so a recipient whose message
        fails in two ways is failed with the same reason.
        """
        unsubscribe = self.links.unsubscribe_url(delivery_id)
        context = personalization(subscriber, mailing_name=self.mailing_name)
        context["unsubscribe_url"] = unsubscribe
        bodies = self.bodies
        key = bodies.key(context, delivery_id) if bodies.on else None
        shared = bodies.get(key) if key is not None else None
        if shared is not None:
            message = self._shared(shared, delivery_id, email, context)
            if message is not None:
                return message
        html = self.html.render(context)
        headers, message_id, subject = self._head(
            delivery_id, email, unsubscribe, lambda: self._subject_line(context)
        )
        parts, urls, targets = self._parts(html, context, delivery_id)
        if key is not None and not bodies.known(key):
            reads = bodies.reads
            shown = reads is not None and reads.subject_shows_links
            tokens = [_token(url) for url in urls]
            bodies.store(key, None if shown else subject, html, parts, tokens, targets)
        return RenderedMessage(b"".join((*headers, alternative_of(*parts))), message_id)

    def _shared(
        self, shared: Body, delivery_id: int, email: str, context: dict[str, Any]
    ) -> RenderedMessage | None:
        """The message with a shared body and the delivery's own links; None when the body
        does not fit them (it always should) or differs from a full rendering (a check)."""
        unsubscribe = context["unsubscribe_url"]
        links = self.links
        urls = [unsubscribe, links.open_url(delivery_id)]
        urls.extend(links.click_url(delivery_id, target) for target in shared.targets)
        tokens = [_token(url).encode("ascii") for url in urls]
        if tuple(map(len, tokens)) != shared.lengths:
            return None
        parts = fill(shared.text, tokens), fill(shared.html, tokens)
        subject = shared.subject
        if self.bodies.checking():
            html = self.html.render(context)
            if (subject or self._subject_line(context), parts) != (
                self._subject_line(context),
                self._parts(html, context, delivery_id)[0],
            ):
                self.bodies.mismatch()
                return None
        headers, message_id, _ = self._head(
            delivery_id,
            email,
            unsubscribe,
            (lambda: subject) if subject is not None else (lambda: self._subject_line(context)),
        )
        return RenderedMessage(b"".join((*headers, alternative_of(*parts))), message_id)

    def _head(
        self, delivery_id: int, email: str, unsubscribe: str, subject: Callable[[], bytes]
    ) -> tuple[tuple[bytes, ...], str, bytes]:
        """The header lines, the Message-ID and the Subject line."""
        if isinstance(self._from, Exception):
            raise self._from
        to = header_line("To", email, PLAIN_ADDRESS)
        subject_line = subject()
        message_id = self._message_id(delivery_id)
        unsubscribe_value = self._unsubscribe_value(unsubscribe, delivery_id)
        headers = (
            self._from,
            to,
            subject_line,
            self._date_line(),
            f"Message-ID: {message_id}\r\n".encode("ascii")
            if self._plain_ids and len(message_id) < _FITS
            else header_line("Message-ID", message_id, PLAIN_MESSAGE_ID),
            f"List-Unsubscribe: {unsubscribe_value}\r\n".encode("ascii")
            if self._plain_unsubscribe and len(unsubscribe_value) < _FITS
            else header_line("List-Unsubscribe", unsubscribe_value),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        )
        return headers, message_id, subject_line

    def _message_id(self, delivery_id: int) -> str:
        return f"<{delivery_key(delivery_id)}.m{self.mailing_id}@{self.domain}>"

    def _unsubscribe_value(self, unsubscribe: str, delivery_id: int) -> str:
        return f"<{unsubscribe}>, <{self._mailto}{delivery_id}>"

    def _subject_line(self, context: dict[str, Any]) -> bytes:
        return header_line("Subject", " ".join(self.subject.render(context).split()))

    def _parts(
        self, html: str, context: dict[str, Any], delivery_id: int
    ) -> tuple[tuple[tuple[bytes, bytes], tuple[bytes, bytes]], list[str], list[str]]:
        """The encoded text and HTML parts; the links' URLs (unsubscribe, open, each click)
        and the clicks' destinations."""
        text = self.text.render(context) if self.text else text_of_html(html)
        unsubscribe = context["unsubscribe_url"]
        urls = [unsubscribe, self.links.open_url(delivery_id)]
        targets: list[str] = []

        def click(target: str) -> str:
            url = self.links.click_url(delivery_id, target)
            targets.append(target)
            urls.append(url)
            return url

        tracked = track_links(html, unsubscribe, urls[1], click)
        return (encoded_part(text), encoded_part(tracked)), urls, targets

    def _date_line(self) -> bytes:
        """The Date header of a message made now; formatted once a second, not per message."""
        second = int(time.time())
        made_in, line = self._date
        if made_in != second:
            line = header_line("Date", format_datetime(datetime.now().astimezone()))
            self._date = (second, line)
        return line


_FITS = 998 - len("List-Unsubscribe: ")  # a value this short fits on one line


def _token(url: str) -> str:
    """A link's token: the last part of its path."""
    return url.rpartition("/")[2]


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
    rendered = MessageBuilder(mailing, links).render(
        0, subscriber.email, subscriber_fields(session, subscriber)
    )
    # line endings as Python writes them, so the parts' text reads as the templates' did
    return message_from_bytes(rendered.data.replace(b"\r\n", b"\n"), policy=default)


def subscriber_fields(session: Session, subscriber: Subscriber) -> SubscriberFields:
    """What a message to `subscriber` is personalized with, their last score included."""
    stored = session.get(SubscriberScore, subscriber.id)
    return SubscriberFields(
        subscriber.email,
        subscriber.first_name,
        subscriber.last_name,
        subscriber.remote_id,
        subscriber.fields,
        subscriber.community,
        stored.score if stored else None,
        stored.grade if stored else None,
    )
