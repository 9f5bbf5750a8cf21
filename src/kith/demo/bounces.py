"""The demo's bounce: a delivery status notification (RFC 3464) for one recipient of the
thank-you mailing, as a remote mail server would send it, taken in as `kith bounces process`
does; the recipient becomes bounced, with the evidence on their record and in the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from sqlalchemy import select

from kith.config import Settings
from kith.db import Database
from kith.marketing.bounces.intake import BouncePolicy, Intake, take_in
from kith.marketing.mailings.report import mailing_report
from kith.marketing.models import Delivery
from kith.marketing.subscribers import find_subscriber, history_line, status_history


@dataclass(frozen=True)
class BounceDemo:
    file: str
    email: str
    intake: Intake
    history: list[str]
    totals: dict[str, int]


def bounce_demo(
    marketing: Database, settings: Settings, mailing_id: int, *, now: datetime
) -> BounceDemo | None:
    """A DSN for the mailing's first delivered recipient, written to the data dir and taken in."""
    with marketing.session() as session:
        delivery = session.scalar(
            select(Delivery)
            .where(Delivery.mailing_id == mailing_id, Delivery.status == "sent")
            .order_by(Delivery.id)
            .limit(1)
        )
    if delivery is None or delivery.message_id is None:
        return None
    raw = demo_dsn(delivery.email, delivery.message_id, now=now)
    folder = settings.data_dir / "bounces"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dsn-delivery-{delivery.id}.eml"
    path.write_bytes(raw)
    intake = take_in(marketing, BouncePolicy.from_settings(settings), raw, source="file", now=now)
    with marketing.session() as session:
        subscriber = find_subscriber(session, delivery.email)
        history = [history_line(change) for change in status_history(session, subscriber)]
        totals = mailing_report(session, mailing_id, now=now)["totals"]
    return BounceDemo(str(path), delivery.email, intake, history, totals)


def demo_dsn(recipient: str, message_id: str, *, now: datetime) -> bytes:
    """A DSN as Postfix writes one (to the bounce address: the demo sets no VERP address), quoting
    the original message's headers, whose Message-ID names the delivery."""
    date = format_datetime(now)
    text = f"""Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces@example.org
Subject: Undelivered Mail Returned to Sender
Date: {date}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="demo-dsn"

--demo-dsn
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.
<{recipient}>: host mx.example.net said: 550 5.1.1 User unknown (in reply to RCPT TO command)

--demo-dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: {date}

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: User unknown in virtual mailbox table

--demo-dsn
Content-Type: text/rfc822-headers

From: The Community Team <community@example.org>
To: {recipient}
Message-ID: {message_id}
Subject: Thanks for getting the conversation going

--demo-dsn--
"""
    return text.replace("\n", "\r\n").encode()
