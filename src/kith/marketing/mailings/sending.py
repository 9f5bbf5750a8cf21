"""Sending a mailing: sync on send, the duplicate guard, then each address exactly once.

A send is a background job. It first resyncs every community group the mailing uses (directly
or inside compound groups) and checks the community's automation rules for duplicate mailings;
either can hold the mailing with the reason. It then writes one delivery per address (the
unique key (mailing, address) is what makes a message go at most once) and sends them over
`connections` parallel connections, each delivery claimed before it is sent and settled right
after.

Each sending thread keeps one database connection for its claims and settlements: a claim
marks a few pending deliveries `sending` in one transaction, and every message is settled in a
transaction of its own, committed before the thread sends its next message. So a kill leaves
at most one message per connection sent but unsettled. (Settling several messages per commit
would be cheaper, but a kill would then leave every accepted message of the batch in doubt,
and each would be sent again.) On SQLite the threads take turns at the write lock in-process,
rather than sleeping in SQLite's busy handler.

A send killed midway is resumed by sending again. Deliveries it left claimed but unsettled are
in doubt: the outbox tells exactly whether they went; over SMTP they are sent again with the
same Message-ID (the only window for a copy is between the server's acceptance and our record
of it, a few milliseconds a message).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from kith.config import Settings
from kith.csvimport.bulk import BatchWriter, among, dialect_insert
from kith.csvimport.timestamps import sqlite_text
from kith.db import Database
from kith.emails import InvalidEmail, normalize_email
from kith.errors import Conflict, KithError
from kith.marketing.compound import community_groups_in
from kith.marketing.mailings.definition import get_mailing, mailing_groups
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.recipients import iter_recipients, recipients_query
from kith.marketing.mailings.templates import compile_template, text_of_html
from kith.marketing.mailings.transport import (
    PLAIN_ADDRESS,
    PLAIN_MESSAGE_ID,
    Sender,
    Transport,
    alternative_body,
    header_line,
)
from kith.marketing.models import Delivery, Mailing, Subscriber
from kith.marketing.ports import ports
from kith.marketing.subscribers import find_subscriber

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CLAIM_BATCH = 50
PREPARE_BATCH = 10_000
LEASE = timedelta(minutes=2)
LEASE_RENEWAL_SECONDS = 15.0  # how often a running send pushes its lease forward


@dataclass(frozen=True)
class SendOptions:
    allow_stale: bool = False
    ack_duplicates: bool = False


def request_send(
    session: Session, mailing_id: int, options: SendOptions, *, now: datetime
) -> Mailing:
    """Mark a mailing for sending (a draft, a held one, or one to resume)."""
    mailing = get_mailing(session, mailing_id)
    if mailing.status == "sent":
        raise Conflict(f"mailing {mailing.id} was sent on {mailing.finished_at:%Y-%m-%d %H:%M}")
    mailing.status, mailing.status_reason = "sending", None
    mailing.allow_stale, mailing.ack_duplicates = options.allow_stale, options.ack_duplicates
    mailing.send_requested_at = now
    return mailing


class MailingSender:
    """One send job's work on one mailing, holding the mailing's lease while it runs."""

    def __init__(
        self,
        db: Database,
        mailing_id: int,
        *,
        transport: Transport,
        links: LinkMaker,
        clock: Clock,
        connections: int = 1,
    ) -> None:
        self.db = db
        self.mailing_id = mailing_id
        self.transport = transport
        self.links = links
        self.clock = clock
        self.connections = max(1, connections)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._lease_renewed = 0.0  # time.monotonic() of the last renewal

    def run(self) -> Mailing:
        """Carry the send as far as it goes; the mailing as it is afterwards."""
        if not self._take_lease():
            return self._mailing()
        try:
            with self.db.session() as session:
                mailing = get_mailing(session, self.mailing_id)
                prepared = mailing.prepared_at is not None
            if not prepared and not self._prepare():
                return self._mailing()
            self._settle_in_doubt()
            self._deliver()
            self._finish()
        finally:
            self._release_lease()
        return self._mailing()

    # --- before the first message ---------------------------------------------------------

    def _prepare(self) -> bool:
        """Sync on send, the duplicate guard, then one pending delivery per address."""
        with self.db.session() as session:
            mailing = get_mailing(session, self.mailing_id)
            allow_stale, ack = mailing.allow_stale, mailing.ack_duplicates
            groups = mailing_groups(session, mailing)
            community = community_groups_in(session, [*groups["include"], *groups["exclude"]])
        for group in community:
            reason = self._sync_on_send(group)
            if reason and not allow_stale:
                return self._hold(reason)
        if community and not ack:
            try:
                reason = self._duplicate_risk()
            except KithError as error:  # the community could not be asked
                reason = f"the duplicate-mailing check could not read the community: {error}"
            if reason:
                return self._hold(reason)
        with self.db.bulk_transaction() as session:
            mailing = get_mailing(session, self.mailing_id)
            writer = BatchWriter(session, _prepared_insert(session), _PREPARED)
            skipped, batch = 0, []
            for recipient in iter_recipients(session, mailing):
                try:
                    normalize_email(recipient.email)
                except InvalidEmail:
                    skipped += 1
                    continue
                batch.append(
                    (
                        mailing.id,
                        recipient.subscriber_id,
                        recipient.email,
                        recipient.email_key,
                        "pending",
                        0,
                    )
                )
                if len(batch) >= PREPARE_BATCH:
                    writer.write(batch)
                    batch = []
            writer.write(batch)
            mailing.skipped_malformed = skipped
            mailing.prepared_at = self.clock()
        return True

    def _sync_on_send(self, group: str) -> str | None:
        if ports.sync_group is None:
            return f"group {group!r} could not be resynced: the connection is not wired"
        outcome = ports.sync_group(group, trigger="on_send", now=self.clock())
        if outcome.status == "completed":
            return None
        return f"the sync on send of {group!r} was {outcome.status}: {outcome.error}"

    def _duplicate_risk(self) -> str | None:
        if ports.check_duplicates is None:
            return None
        with self.db.session() as session:
            mailing = get_mailing(session, self.mailing_id)
            recipients = recipients_query(session, mailing).subquery()

            def recipients_among(remote_ids: Collection[str]) -> int:
                among_them = among(session, recipients.c.remote_id, remote_ids)
                return session.scalar(select(func.count()).where(among_them)) or 0

            overlaps = ports.check_duplicates(session, recipients_among)
        if not overlaps:
            return None
        named = "; ".join(
            f"rule {o.rule!r} (send_email {o.subject!r}) also e-mails {o.recipients} of them"
            for o in overlaps
        )
        return f"duplicate mailing risk: {named}; send with --ack-duplicates to send anyway"

    def _hold(self, reason: str) -> bool:
        with self.db.transaction() as session:
            mailing = get_mailing(session, self.mailing_id)
            mailing.status, mailing.status_reason = "held", reason
        return False

    # --- the messages -------------------------------------------------------------------

    def _settle_in_doubt(self) -> None:
        """Deliveries a crashed send left claimed: delivered, when the transport can tell (the
        outbox can), else sent again."""
        with self.db.transaction() as session:
            claimed = session.scalars(
                select(Delivery.id).where(
                    Delivery.mailing_id == self.mailing_id, Delivery.status == "sending"
                )
            ).all()
            delivered = [id_ for id_ in claimed if self.transport.delivered(_key(id_))]
            if delivered:
                session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(delivered))
                    .values(status="sent", sent_at=self.clock())
                )
            session.execute(
                update(Delivery)
                .where(Delivery.mailing_id == self.mailing_id, Delivery.status == "sending")
                .values(status="pending")
            )

    def _deliver(self) -> None:
        with self.db.session() as session:
            mailing = get_mailing(session, self.mailing_id)
            session.expunge(mailing)
        renderer = MessageBuilder(mailing, self.links)
        # SQLite has one writer at a time: threads that queue here instead of in SQLite's busy
        # handler (which sleeps a millisecond or more) keep their connections busy
        write_turn = threading.Lock() if self.db.is_sqlite else None
        failures: list[BaseException] = []

        def work() -> None:
            try:
                with self.db.engine.connect() as connection, self.transport.open() as sender:
                    connection.execution_options(sqlite_begin="IMMEDIATE")
                    ledger = _Ledger(connection, self.mailing_id, self.clock, write_turn)
                    while claimed := ledger.claim():
                        for delivery in claimed:
                            self._send_one(sender, renderer, ledger, delivery)
                            self._renew_lease(ledger)
            except BaseException as error:  # reported by the thread that started the workers
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(self.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    def _send_one(
        self, sender: Sender, renderer: MessageBuilder, ledger: _Ledger, delivery: _Claimed
    ) -> None:
        """Render, send and settle one delivery; settled before the thread sends another."""
        if delivery.subscriber is None:
            ledger.settle(delivery, "failed", "the subscriber was deleted", attempts=0)
            return
        try:
            message = renderer.render(delivery.id, delivery.email, delivery.subscriber)
        except Exception as error:  # a template failing for this recipient fails it alone
            ledger.settle(delivery, "failed", f"rendering: {error}", attempts=0)
            return
        result = sender.send(
            message.data,
            sender=renderer.mailing.from_address,
            recipient=delivery.email,
            key=_key(delivery.id),
        )
        ledger.settle(
            delivery,
            result.status,
            result.detail,
            attempts=result.attempts,
            message_id=message.message_id,
            # a permanent refusal by the mail server: the address bounced
            bounced=result.status == "failed",
        )

    def _finish(self) -> None:
        with self.db.transaction() as session:
            mailing = get_mailing(session, self.mailing_id)
            left = session.scalar(
                select(func.count()).where(
                    Delivery.mailing_id == mailing.id, Delivery.status.in_(("pending", "sending"))
                )
            )
            if not left:
                mailing.status, mailing.finished_at = "sent", self.clock()

    # --- the lease ----------------------------------------------------------------------

    def _take_lease(self) -> bool:
        """Hold the mailing: free, run out, or left by a process of this host that died."""
        now = self.clock()
        with self.db.transaction() as session:
            mailing = session.get(Mailing, self.mailing_id, with_for_update=True)
            if mailing is None or mailing.status != "sending":
                return False
            held = mailing.lease_until is not None and mailing.lease_until >= now
            if held and not _owner_is_dead(mailing.lease_owner):
                return False
            mailing.lease_owner, mailing.lease_until = self.owner, now + LEASE
        self._lease_renewed = time.monotonic()
        return True

    def _renew_lease(self, ledger: _Ledger) -> None:
        """Push the lease forward every LEASE_RENEWAL_SECONDS, whichever thread comes by.

        Asked after every message, so that a batch slowed down by retries cannot outlast the
        lease; a look at the clock is all it costs the other times.
        """
        if time.monotonic() - self._lease_renewed < LEASE_RENEWAL_SECONDS:
            return
        self._lease_renewed = time.monotonic()
        ledger.renew_lease(self.owner, self.clock() + LEASE)

    def _release_lease(self) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(Mailing)
                .where(Mailing.id == self.mailing_id, Mailing.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    def _mailing(self) -> Mailing:
        with self.db.session() as session:
            return get_mailing(session, self.mailing_id)


class _Claimed(NamedTuple):
    """A delivery a thread has claimed; `subscriber` is None when the subscriber was deleted."""

    id: int
    email: str
    subscriber_id: int | None
    subscriber: SubscriberFields | None


class _Ledger:
    """One sending thread's claims and settlements, on a database connection of its own.

    Statements built once and a connection kept for the whole send: a Session, an ORM update
    and a statement built anew per message cost more than rendering the message. The
    settlement goes one step further, straight to the driver (`_Settlement`). `write_turn`
    (SQLite only) lets one thread of the send write at a time.
    """

    def __init__(
        self,
        connection: Connection,
        mailing_id: int,
        clock: Clock,
        write_turn: threading.Lock | None,
    ) -> None:
        self.connection = connection
        self.mailing_id = mailing_id
        self.clock = clock
        self._write_turn = write_turn
        self._settlement = _Settlement(connection)

    def _writing(self) -> AbstractContextManager[object]:
        return self._write_turn if self._write_turn is not None else nullcontext()

    def claim(self) -> list[_Claimed]:
        """The next few pending deliveries, marked `sending` by this thread (at most once)."""
        with self._writing(), self.connection.begin():
            claimed = self.connection.scalars(
                _CLAIM, {"claiming_mailing_id": self.mailing_id, "claiming_at": self.clock()}
            ).all()
            if not claimed:
                return []
            rows = self.connection.execute(_CLAIMED, {"ids": claimed}).all()
        return [
            _Claimed(
                row[0],
                row[1],
                row[2],
                None if row[3] is None else SubscriberFields(*row[4:]),
            )
            for row in rows
        ]

    def settle(
        self,
        delivery: _Claimed,
        status: str,
        detail: str,
        *,
        attempts: int,
        message_id: str | None = None,
        bounced: bool = False,
    ) -> None:
        """Record how a delivery ended, committed before this returns; `bounced` (a permanent
        refusal by the mail server) also marks its subscriber bounced."""
        now = self.clock()
        values = {
            "delivery_id": delivery.id,
            "settled_status": status,
            "settled_detail": detail,
            "settled_attempts": attempts,
            "settled_message_id": message_id,
            "settled_at": now,
        }
        if not bounced:
            with self._writing():
                self._settlement.run(values)
            return
        with self._writing(), self.connection.begin():  # rare: two updates, one transaction
            self.connection.execute(_SETTLE, values)
            self.connection.execute(
                update(Subscriber)
                .where(Subscriber.id == delivery.subscriber_id)
                .values(status="bounced", updated_at=now)
            )

    def renew_lease(self, owner: str, until: datetime) -> None:
        with self._writing(), self.connection.begin():
            self.connection.execute(
                update(Mailing)
                .where(Mailing.id == self.mailing_id, Mailing.lease_owner == owner)
                .values(lease_until=until)
            )


class _Settlement:
    """`_SETTLE` compiled once for the connection's dialect and run by its driver, as a
    transaction of its own: SQLAlchemy's execution of it cost more than the update itself.

    SQLAlchemy is in no transaction on the connection here (the ledger's are `begin()` blocks
    that end before), so the driver's state is the whole story: SQLite's driver is in
    autocommit mode (kith.db), where one statement is its own transaction; psycopg begins one
    with the statement, which is committed. Values go in stored form, as kith.csvimport.bulk
    writes them: a time as text on SQLite.
    """

    def __init__(self, connection: Connection) -> None:
        compiled = _SETTLE.compile(dialect=connection.dialect)
        self.connection = connection
        self.sql = str(compiled)
        # SQLite's driver takes "?" placeholders in order; psycopg takes them by name
        self.positions = tuple(compiled.positiontup or ())
        self.is_sqlite = connection.dialect.name == "sqlite"

    def run(self, values: dict[str, Any]) -> None:
        driver = self.connection.connection.driver_connection
        assert driver is not None  # the connection is open: the thread holds it
        if self.is_sqlite:
            stored = values | {"settled_at": sqlite_text(values["settled_at"])}
            driver.execute(self.sql, tuple(stored[name] for name in self.positions))
            return
        try:
            driver.execute(self.sql, values)
            driver.commit()
        except BaseException:
            driver.rollback()
            raise


# Statements built once: building one costs about as much as running it.
_CLAIM = (
    update(Delivery)
    .where(
        Delivery.id.in_(
            select(Delivery.id)
            .where(
                Delivery.mailing_id == bindparam("claiming_mailing_id"),
                Delivery.status == "pending",
            )
            .order_by(Delivery.id)
            .limit(CLAIM_BATCH)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        ),
        Delivery.status == "pending",
    )
    .values(status="sending", claimed_at=bindparam("claiming_at"))
    .returning(Delivery.id)
)
# each claimed delivery with its subscriber's id (None: deleted), then SubscriberFields in order
_CLAIMED = (
    select(
        Delivery.id,
        Delivery.email,
        Delivery.subscriber_id,
        Subscriber.id,
        Subscriber.email,
        Subscriber.first_name,
        Subscriber.last_name,
        Subscriber.remote_id,
        Subscriber.fields,
        Subscriber.community,
    )
    .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
    .where(Delivery.id.in_(bindparam("ids", expanding=True)))
    .order_by(Delivery.id)
)
# an earlier Message-ID is kept when a delivery fails before it had one
_SETTLE = (
    update(Delivery)
    .where(Delivery.id == bindparam("delivery_id"))
    .values(
        status=bindparam("settled_status"),
        detail=bindparam("settled_detail"),
        attempts=bindparam("settled_attempts"),
        message_id=func.coalesce(
            bindparam("settled_message_id", type_=Delivery.message_id.type),
            Delivery.message_id,
        ),
        sent_at=bindparam("settled_at", type_=Delivery.sent_at.type),
    )
)


_PREPARED = ("mailing_id", "subscriber_id", "email", "email_key", "status", "attempts")


def _prepared_insert(session: Session) -> Any:
    """Pending deliveries; an address already there (a resumed preparation) is left alone."""
    return dialect_insert(session, Delivery).on_conflict_do_nothing()


def _owner_is_dead(owner: str | None) -> bool:
    """Whether a lease's owner was a process of this host that no longer runs."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's: its lease runs out on its own
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _key(delivery_id: int) -> str:
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
        message_id = f"<{_key(delivery_id)}.m{self.mailing.id}@{self.domain}>"
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
    return {name: value for name, value in values.items() if value is not None}


def send_mailing_now(
    db: Database, settings: Settings, mailing_id: int, *, transport: Transport, clock: Clock
) -> Mailing:
    """Run the send job for a mailing in this process."""
    sender = MailingSender(
        db,
        mailing_id,
        transport=transport,
        links=LinkMaker(settings.public_url, settings.signing_key()),
        clock=clock,
        connections=transport.connections,
    )
    return sender.run()


def preview(session: Session, mailing_id: int, reference: str, *, links: LinkMaker) -> EmailMessage:
    """The message one subscriber would get (links built for a delivery numbered 0): the bytes
    a send would write, read back."""
    mailing = get_mailing(session, mailing_id)
    subscriber = find_subscriber(session, reference)
    rendered = MessageBuilder(mailing, links).render(0, subscriber.email, subscriber)
    # line endings as Python writes them, so the parts' text reads as the templates' did
    return message_from_bytes(rendered.data.replace(b"\r\n", b"\n"), policy=default)
