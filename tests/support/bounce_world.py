"""A mailing world for bounce tests: three subscribers in one group, a mailing to them, sent
through a real SMTP server on loopback with VERP return paths at `bounces@mail.example.org`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kith.config import Settings
from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.models import Delivery
from kith.marketing.subscriber_import import import_subscribers
from tests.support.community_world import NOW
from tests.support.import_files import csv_rows
from tests.support.smtp_sink import ReceivedMessage, SmtpSink

BOUNCE_ADDRESS = "bounces@mail.example.org"
ADDRESSES = ("ann@example.org", "bo@example.net", "cy@example.com")


@dataclass(frozen=True)
class SentMailing:
    mailing_id: int
    messages: dict[str, ReceivedMessage]  # by recipient
    deliveries: dict[str, int]  # delivery id by recipient


def with_bounce_address(settings: Settings, address: str | None = BOUNCE_ADDRESS) -> Settings:
    return settings.model_copy(update={"bounce_address": address})


def add_readers(
    db: Database, addresses: tuple[str, ...] = ADDRESSES, *, group_name: str = "Readers"
) -> None:
    """`addresses` as subscribers R1, R2, R3 ... (else their address as Remote ID), all in the
    group `group_name`."""
    remote_ids = [
        f"R{n}" if addresses == ADDRESSES else address for n, address in enumerate(addresses, 1)
    ]
    with db.bulk_transaction() as session:
        rows = [
            f"{address},{remote_id},,,"
            for address, remote_id in zip(addresses, remote_ids, strict=True)
        ]
        header = "email,remote_id,first_name,last_name,status"
        import_subscribers(session, csv_rows(header, *rows), now=NOW)
    with db.transaction() as session:
        group = create_group(session, group_name, now=NOW)
        change_members(session, group, csv_rows("remote_id", *remote_ids), now=NOW)


def send_to_readers(
    db: Database,
    settings: Settings,
    sink: SmtpSink,
    *,
    name: str = "News",
    group_name: str = "Readers",
    options: SendOptions | None = None,
) -> SentMailing:
    """A mailing to `group_name`, sent through `sink`; what the sink received of it."""
    already = len(sink.messages)
    with db.transaction() as session:
        draft = MailingDraft(
            name=name,
            subject="Hello",
            html="<html><body><p>Hello</p></body></html>",
            include=[group_name],
            exclude=[],
            from_address="news@example.org",
            from_name="Kith News",
        )
        mailing_id = create_mailing(session, draft, now=NOW).id
        request_send(session, mailing_id, options or SendOptions(), now=NOW)
    send_mailing_now(
        db, settings, mailing_id, transport=SmtpTransport(sink.config()), clock=lambda: NOW
    )
    with db.session() as session:
        rows = session.execute(
            select(Delivery.email, Delivery.id).where(Delivery.mailing_id == mailing_id)
        )
        deliveries = {email: delivery_id for email, delivery_id in rows.tuples()}
    messages = {message.recipients[0]: message for message in sink.messages[already:]}
    return SentMailing(mailing_id, messages, deliveries)
