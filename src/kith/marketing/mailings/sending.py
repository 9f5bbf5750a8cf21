"""Sending a mailing: sync on send, the duplicate guard, then each address exactly once.

A send is a background job. It first resyncs every community group the mailing uses (directly
or inside compound groups) and checks the community's automation rules for duplicate mailings;
either can hold the mailing with the reason. A mailing with nobody to send to once the groups
are synced goes back to being a draft, saying so (it would otherwise be "sent" to nobody and
could never be sent later). It then writes one delivery per address (the
unique key (mailing, address) is what makes a message go at most once) and sends them over
`connections` parallel connections, each delivery claimed before it is sent and settled right
after.

Each sending thread keeps one database connection for its claims and settlements (ledger.py):
a claim marks a few pending deliveries `sending` in one transaction, and every message is
settled in a transaction of its own, committed before the thread hands over its next message
(messages.py renders it). So a kill leaves at most one message per connection sent but
unsettled. Two things overlap without changing that: the next message is rendered while the
server takes the last one's data, and on PostgreSQL the settlement's commit (a round trip to
the server) runs while the next message's envelope goes out, its data waiting for the
commit. (Settling several messages per commit would be cheaper, but a kill would then leave
every accepted message of the batch in doubt, and each would be sent again.) On SQLite
the threads take turns at the write lock in-process, rather than sleeping in SQLite's busy
handler.

A send killed midway is resumed by sending again. Deliveries it left claimed but unsettled are
in doubt: the outbox tells exactly whether they went; over SMTP they are sent again with the
same Message-ID (the only window for a copy is between the server's acceptance and our record
of it, a few milliseconds a message).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import Session

from kith.config import Settings
from kith.csvimport.bulk import BatchWriter, among, dialect_insert
from kith.db import Database
from kith.emails import InvalidEmail, normalize_email
from kith.errors import Conflict, KithError, describe
from kith.marketing.bounces.verp import ReturnPath
from kith.marketing.groups.compound import GroupRef, community_groups_in
from kith.marketing.mailings.definition import get_mailing, mailing_groups
from kith.marketing.mailings.ledger import Claimed, Ledger
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.messages import (
    MessageBuilder,
    RenderedMessage,
    SubscriberFields,
    delivery_key,
)
from kith.marketing.mailings.recipients import (
    count_recipients,
    iter_recipients,
    recipients_query,
)
from kith.marketing.mailings.transport import (
    Sender,
    Transport,
)
from kith.marketing.models import Delivery, Mailing
from kith.marketing.ports import NotWired, Overlapping, RuleOverlap, ports
from kith.processes import lease_held, this_thread

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PREPARE_BATCH = 10_000
DUPLICATE_RISK = "duplicate mailing risk"  # how a hold for duplicates begins
DUPLICATE_ADVICE = "; send with --ack-duplicates"  # where its command-line advice begins
LEFT_OUT = "left out of this send"  # how the reason of a recipient left out begins
NAMED_OVERLAPS = 3  # recipients a duplicate-mailing warning names per rule
LEASE = timedelta(minutes=2)
LEASE_RENEWAL_SECONDS = 15.0  # how often a running send pushes its lease forward


@dataclass(frozen=True)
class SendOptions:
    """`ack_duplicates` sends to everyone although community rules e-mail some of them too;
    `leave_out_duplicates` sends to everyone else, the overlap recorded as skipped."""

    allow_stale: bool = False
    ack_duplicates: bool = False
    leave_out_duplicates: bool = False


def request_send(
    session: Session, mailing_id: int, options: SendOptions, *, now: datetime
) -> Mailing:
    """Mark a mailing for sending (a draft, a scheduled or held one, or one to resume)."""
    mailing = get_mailing(session, mailing_id)
    if mailing.status == "sent":
        raise Conflict(f"mailing {mailing.id} was sent on {mailing.finished_at:%Y-%m-%d %H:%M}")
    mailing.status, mailing.status_reason, mailing.scheduled_for = "sending", None, None
    mailing.allow_stale, mailing.ack_duplicates = options.allow_stale, options.ack_duplicates
    mailing.leave_out_duplicates = options.leave_out_duplicates
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
        return_path: ReturnPath | None = None,
    ) -> None:
        self.db = db
        self.mailing_id = mailing_id
        self.transport = transport
        self.links = links
        self.clock = clock
        self.connections = max(1, connections)
        self.return_path = return_path or ReturnPath(None, b"")
        self.owner = this_thread()
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
            leave_out = mailing.leave_out_duplicates
            groups = mailing_groups(session, mailing)
            community = community_groups_in(session, [*groups["include"], *groups["exclude"]])
        for group in community:
            reason = self._sync_on_send(group)
            if reason and not allow_stale:
                return self._hold(reason)
        self._forget_left_out()
        if community and not ack and (reason := self._duplicate_guard(leave_out)):
            return self._hold(reason)
        if nobody := self._nobody_to_send_to():
            return self._back_to_draft(nobody)
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

    def _sync_on_send(self, group: GroupRef) -> str | None:
        try:
            outcome = ports.syncer()(self.db, group.id, trigger="on_send", now=self.clock())
        except NotWired as error:
            return f"group {group.name!r} could not be resynced: {error}"
        if outcome.status == "completed":
            return None
        return f"the sync on send of {group.name!r} was {outcome.status}: {outcome.error}"

    def _duplicate_guard(self, leave_out: bool) -> str | None:
        """Why the send is held for duplicate mailings, if it is; with `leave_out`, whom a
        community rule also e-mails is left out of the send instead."""
        try:
            if leave_out:
                self._leave_out_duplicates()
                return None
            return self._duplicate_risk()
        except KithError as error:  # the community could not be asked
            return f"the duplicate-mailing check could not read the community: {error}"

    def _duplicate_risk(self) -> str | None:
        """Which community rules would e-mail the recipients too; a KithError when the
        community cannot be asked (the connection not wired included): never "no risk"."""
        check_duplicates = ports.duplicate_checker()
        with self.db.session() as session:
            mailing = get_mailing(session, self.mailing_id)
            recipients = recipients_query(session, mailing).subquery()

            def recipients_among(_rule: str, remote_ids: Collection[str]) -> Overlapping:
                among_them = among(session, recipients.c.remote_id, remote_ids)
                count = session.scalar(select(func.count()).where(among_them)) or 0
                if not count:
                    return Overlapping(0)
                first = select(recipients.c.email).where(among_them).order_by(recipients.c.email)
                return Overlapping(count, tuple(session.scalars(first.limit(NAMED_OVERLAPS))))

            overlaps = check_duplicates(session, recipients_among)
        if not overlaps:
            return None
        named = "; ".join(_overlap_in_words(overlap) for overlap in overlaps)
        return (
            f"{DUPLICATE_RISK}: {named}{DUPLICATE_ADVICE} to send anyway, "
            "or with --leave-out-duplicates to send to the others"
        )

    def _leave_out_duplicates(self) -> None:
        """Record the recipients a community rule e-mails too as skipped, saying which rule:
        their address is then never sent this mailing. A batch of them a transaction."""
        check_duplicates = ports.duplicate_checker()

        def leave_out(rule: str, remote_ids: Collection[str]) -> Overlapping:
            reason = f"{LEFT_OUT}: the community rule {rule!r} also e-mails them"
            with self.db.transaction() as session:
                mailing = get_mailing(session, self.mailing_id)
                recipients = recipients_query(session, mailing).subquery()
                overlap = select(
                    literal(mailing.id),
                    recipients.c.id,
                    recipients.c.email,
                    recipients.c.email_key,
                    literal("skipped"),
                    literal(0),
                    literal(reason),
                ).where(among(session, recipients.c.remote_id, remote_ids))
                written = session.execute(
                    _prepared_insert(session).from_select([*_PREPARED, "detail"], overlap)
                )
            return Overlapping(written.rowcount)  # type: ignore[attr-defined]

        with self.db.session() as session:
            check_duplicates(session, leave_out)

    def _forget_left_out(self) -> None:
        """Before the guard decides again: who an earlier try left out (no other delivery
        exists before the preparation)."""
        with self.db.transaction() as session:
            session.execute(
                delete(Delivery).where(
                    Delivery.mailing_id == self.mailing_id, Delivery.status == "skipped"
                )
            )

    def _nobody_to_send_to(self) -> str | None:
        """Why the mailing has no recipient now, or None when it has some."""
        with self.db.session() as session:
            mailing = get_mailing(session, self.mailing_id)
            recipients = count_recipients(session, mailing)
            left_out = session.scalar(
                select(func.count()).where(
                    Delivery.mailing_id == mailing.id, Delivery.status == "skipped"
                )
            )
            if recipients > (left_out or 0):
                return None
            groups = mailing_groups(session, mailing)
        if recipients:
            return (
                "nobody to send to: a community automation rule also e-mails every recipient, "
                "and they were left out; the mailing stays a draft"
            )
        included = ", ".join(group.name for group in groups["include"]) or "any group"
        excluded = ", ".join(group.name for group in groups["exclude"])
        outside = f" outside {excluded}" if excluded else ""
        return (
            f"nobody to send to: no subscribed subscriber is in {included}{outside}; "
            "the mailing stays a draft"
        )

    def _back_to_draft(self, reason: str) -> bool:
        with self.db.transaction() as session:
            mailing = get_mailing(session, self.mailing_id)
            mailing.status, mailing.status_reason = "draft", reason
        return False

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
            delivered = [id_ for id_ in claimed if self.transport.delivered(delivery_key(id_))]
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
                    ledger = Ledger(connection, self.mailing_id, self.clock, write_turn)
                    with ledger:
                        self._send_claimed(sender, renderer, ledger)
            except BaseException as error:  # reported by the thread that started the workers
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(self.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    def _send_claimed(self, sender: Sender, renderer: MessageBuilder, ledger: Ledger) -> None:
        while claimed := ledger.claim():
            made = _Made(renderer)
            for delivery, following in zip(claimed, [*claimed[1:], None], strict=True):
                self._send_one(sender, made, ledger, delivery, following)
                self._renew_lease(ledger)

    def _send_one(
        self,
        sender: Sender,
        made: _Made,
        ledger: Ledger,
        delivery: Claimed,
        following: Claimed | None,
    ) -> None:
        """Render, send and settle one delivery.

        The settlement runs while the next message's envelope goes to the server, and is
        committed before that message's data is written (`before_data`): a message is never
        handed over while the one before it on this connection is unsettled. The `following`
        delivery's message is made while the server takes this one.
        """
        if delivery.subscriber is None:
            ledger.settle(delivery, "failed", "the subscriber was deleted", attempts=0)
            return
        message = made.take(delivery)
        if isinstance(message, Exception):  # a template failing for this recipient fails it alone
            ledger.settle(delivery, "failed", f"rendering: {describe(message)}", attempts=0)
            return
        result = sender.send(
            message.data,
            sender=self.return_path.sender(
                made.renderer.from_address, self.mailing_id, delivery.id
            ),
            recipient=delivery.email,
            key=delivery_key(delivery.id),
            before_data=ledger.settled,
            meanwhile=None if following is None else lambda: made.ahead(following),
        )
        ledger.settle(
            delivery,
            result.status,
            result.detail,
            attempts=result.attempts,
            message_id=message.message_id,
            # a permanent refusal by the mail server: the address bounced
            bounced=result.status == "failed",
            # PostgreSQL's commit is a round trip to the server, spent on the next envelope
            later=not self.db.is_sqlite,
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
            if lease_held(mailing.lease_owner, mailing.lease_until, now=now):
                return False
            mailing.lease_owner, mailing.lease_until = self.owner, now + LEASE
        self._lease_renewed = time.monotonic()
        return True

    def _renew_lease(self, ledger: Ledger) -> None:
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


def _overlap_in_words(overlap: RuleOverlap) -> str:
    """'the community rule 'R' (it e-mails 'S') also reaches 12 of the recipients: a, b, c and
    9 more'."""
    sends = f" (it e-mails {overlap.subject!r})" if overlap.subject else ""
    who = ", ".join(overlap.some)
    if overlap.recipients > len(overlap.some):
        who += f" and {overlap.recipients - len(overlap.some):,} more"
    return (
        f"the community rule {overlap.rule!r}{sends} also reaches "
        f"{overlap.recipients:,} of the recipients: {who}"
    )


_PREPARED = ("mailing_id", "subscriber_id", "email", "email_key", "status", "attempts")


def _prepared_insert(session: Session) -> Any:
    """Pending deliveries; an address already there (a resumed preparation) is left alone."""
    return dialect_insert(session, Delivery).on_conflict_do_nothing()


def send_mailing_now(
    db: Database, settings: Settings, mailing_id: int, *, transport: Transport, clock: Clock
) -> Mailing:
    """Run the send job for a mailing in this process."""
    sender = MailingSender(
        db,
        mailing_id,
        transport=transport,
        links=LinkMaker.from_settings(settings),
        clock=clock,
        connections=transport.connections,
        return_path=ReturnPath(settings.bounce_address, settings.signing_key()),
    )
    return sender.run()


class _Made:
    """A sending thread's messages, the next one made ahead while the server takes the last.

    Making a message has no effect outside it, so one made ahead and never sent (the thread
    stopped) is simply dropped; a rendering error is kept as the recipient's outcome.
    """

    def __init__(self, renderer: MessageBuilder) -> None:
        self.renderer = renderer
        self._ahead: tuple[int, RenderedMessage | Exception] | None = None

    def ahead(self, delivery: Claimed) -> None:
        if delivery.subscriber is not None:
            self._ahead = delivery.id, self._make(delivery, delivery.subscriber)

    def take(self, delivery: Claimed) -> RenderedMessage | Exception:
        """The delivery's message, or why it could not be made."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == delivery.id:
            return ahead[1]
        assert delivery.subscriber is not None  # the caller settles a deleted one first
        return self._make(delivery, delivery.subscriber)

    def _make(self, delivery: Claimed, subscriber: SubscriberFields) -> RenderedMessage | Exception:
        try:
            return self.renderer.render(delivery.id, delivery.email, subscriber)
        except Exception as error:
            return error
