"""Sending a mailing: sync on send, the duplicate guard, then each address exactly once.

A send is a background job. It first resyncs every community group the mailing uses (directly
or inside compound groups) and checks the community's automation rules for duplicate mailings;
either can hold the mailing with the reason. It then writes one delivery per address (the
unique key (mailing, address) is what makes a message go at most once) and sends them over
`connections` parallel connections, each delivery claimed before it is sent and settled right
after.

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
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kith.config import Settings
from kith.csvimport.bulk import BatchWriter, among, dialect_insert
from kith.db import Database
from kith.emails import InvalidEmail, normalize_email
from kith.errors import Conflict, KithError
from kith.marketing.compound import community_groups_in
from kith.marketing.mailings.definition import get_mailing, mailing_groups
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.recipients import iter_recipients, recipients_query
from kith.marketing.mailings.templates import compile_template, text_of_html
from kith.marketing.mailings.transport import Sender, Transport
from kith.marketing.models import Delivery, Mailing, Subscriber
from kith.marketing.ports import ports
from kith.marketing.subscribers import find_subscriber

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CLAIM_BATCH = 20
PREPARE_BATCH = 10_000
LEASE = timedelta(minutes=2)


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
        failures: list[BaseException] = []

        def work() -> None:
            try:
                with self.transport.open() as sender:
                    while claimed := self._claim():
                        for delivery, subscriber in claimed:
                            self._send_one(sender, renderer, delivery, subscriber)
                        self._renew_lease()
            except BaseException as error:  # reported by the thread that started the workers
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(self.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    def _claim(self) -> list[tuple[Delivery, Subscriber | None]]:
        """The next few pending deliveries, marked `sending` by this worker (at most once)."""
        with self.db.transaction() as session:
            ids = (
                select(Delivery.id)
                .where(Delivery.mailing_id == self.mailing_id, Delivery.status == "pending")
                .order_by(Delivery.id)
                .limit(CLAIM_BATCH)
                .with_for_update(skip_locked=True)
            )
            claimed = session.scalars(
                update(Delivery)
                .where(Delivery.id.in_(ids.scalar_subquery()), Delivery.status == "pending")
                .values(status="sending", claimed_at=self.clock())
                .returning(Delivery.id)
            ).all()
            if not claimed:
                return []
            rows = (
                session.execute(
                    select(Delivery, Subscriber)
                    .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
                    .where(Delivery.id.in_(claimed))
                    .order_by(Delivery.id)
                )
                .tuples()
                .all()
            )
            session.expunge_all()
            return list(rows)

    def _send_one(
        self,
        sender: Sender,
        renderer: MessageBuilder,
        delivery: Delivery,
        subscriber: Subscriber | None,
    ) -> None:
        values: dict[str, Any]
        bounced = False
        if subscriber is None:
            values = {"status": "failed", "detail": "the subscriber was deleted", "attempts": 0}
        else:
            values, bounced = self._render_and_send(sender, renderer, delivery, subscriber)
        with self.db.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id)
                .values(sent_at=self.clock(), **values)
            )
            if bounced:  # a permanent refusal by the mail server: the address bounced
                session.execute(
                    update(Subscriber)
                    .where(Subscriber.id == delivery.subscriber_id)
                    .values(status="bounced", updated_at=self.clock())
                )

    def _render_and_send(
        self, sender: Sender, renderer: MessageBuilder, delivery: Delivery, subscriber: Subscriber
    ) -> tuple[dict[str, Any], bool]:
        """The delivery's settled values, and whether the server refused the address for good."""
        try:
            message = renderer.message(delivery, subscriber)
        except Exception as error:  # a template failing for this recipient fails it alone
            return {"status": "failed", "detail": f"rendering: {error}", "attempts": 0}, False
        else:
            result = sender.send(
                message,
                sender=renderer.mailing.from_address,
                recipient=delivery.email,
                key=_key(delivery.id),
            )
            values = {
                "status": result.status,
                "detail": result.detail,
                "attempts": result.attempts,
                "message_id": message["Message-ID"],
            }
            return values, result.status == "failed"

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
            return True

    def _renew_lease(self) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(Mailing)
                .where(Mailing.id == self.mailing_id, Mailing.lease_owner == self.owner)
                .values(lease_until=self.clock() + LEASE)
            )

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


class MessageBuilder:
    """Builds each recipient's message from the mailing's compiled templates."""

    def __init__(self, mailing: Mailing, links: LinkMaker) -> None:
        self.mailing = mailing
        self.links = links
        self.subject = compile_template(mailing.subject, part="subject")
        self.html = compile_template(mailing.html, part="html", html=True)
        self.text = compile_template(mailing.text, part="text") if mailing.text else None
        self.domain = mailing.from_address.rpartition("@")[2]
        self.sender = formataddr((mailing.from_name or "", mailing.from_address))

    def message(self, delivery: Delivery, subscriber: Subscriber) -> EmailMessage:
        unsubscribe = self.links.unsubscribe_url(delivery.id)
        context = personalization(subscriber, mailing_name=self.mailing.name)
        context["unsubscribe_url"] = unsubscribe
        html = self.html.render(context)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = delivery.email
        message["Subject"] = " ".join(self.subject.render(context).split())
        message["Date"] = format_datetime(datetime.now().astimezone())
        message["Message-ID"] = f"<{_key(delivery.id)}.m{self.mailing.id}@{self.domain}>"
        mailto = (
            f"mailto:unsubscribe@{self.domain}?subject={quote('unsubscribe ' + str(delivery.id))}"
        )
        message["List-Unsubscribe"] = f"<{unsubscribe}>, <{mailto}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(self.text.render(context) if self.text else text_of_html(html))
        message.add_alternative(self.links.track(html, delivery.id), subtype="html")
        return message


def personalization(subscriber: Subscriber, *, mailing_name: str) -> dict[str, Any]:
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
    """The message one subscriber would get (links built for a delivery numbered 0)."""
    mailing = get_mailing(session, mailing_id)
    subscriber = find_subscriber(session, reference)
    delivery = Delivery(id=0, mailing_id=mailing.id, email=subscriber.email)
    return MessageBuilder(mailing, links).message(delivery, subscriber)
