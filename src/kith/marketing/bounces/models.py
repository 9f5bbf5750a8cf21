"""Tables of the bounce intake: every message received, kept whole, and what it reported; and
the subscribers' status history, where a bounce is the evidence of a change.

A message is stored once (its SHA-256 is unique) before it is read, and marked processed in the
same transaction as its effects: received twice, it changes nothing the second time; when
reading or applying it fails, it stays stored with the error, to be processed again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kith.db import BigId, UTCDateTime
from kith.marketing.models import Base

# received: stored, not yet processed; processed: read and applied; failed: see `error`
BOUNCE_MESSAGE_STATUSES = ("received", "processed", "failed")
BOUNCE_KINDS = ("hard", "soft", "complaint")


class BounceMessage(Base):
    """One message to the bounce address, as received (`raw`), and how it was read."""

    __tablename__ = "bounce_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(20))  # smtp, lmtp, file, imap, pop3
    envelope_recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="received")
    kind: Mapped[str | None] = mapped_column(String(12))  # kith.marketing.bounces.reading.KINDS
    how: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(Text)
    problem: Mapped[str | None] = mapped_column(Text)  # malformed, truncated: read anyway
    error: Mapped[str | None] = mapped_column(Text)  # why processing failed
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_bounce_messages_status", "status", "id"),)


class Bounce(Base):
    """What one message reported about one subscriber: a hard or soft bounce, or a complaint,
    with its evidence (the mailing and delivery, the status code, the remote server's words)."""

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("bounce_messages.id", ondelete="CASCADE"), index=True
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    mailing_id: Mapped[int | None] = mapped_column(ForeignKey("mailings.id", ondelete="SET NULL"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(12))
    status_code: Mapped[str | None] = mapped_column(String(32))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_bounces_subscriber_kind", "subscriber_id", "kind", "occurred_at"),
        Index("ix_bounces_mailing", "mailing_id", "kind"),
    )


class BounceMailboxSettings(Base):
    """The mailbox `kith bounces mailbox configure` set (KITH_BOUNCE_MAILBOX_URL comes first):
    its URL without the password, and the password encrypted like the other secrets."""

    __tablename__ = "bounce_mailbox_settings"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    password_encrypted: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusChange(Base):
    """One change of a subscriber's status, why, and its evidence: the subscriber's history.

    `reason` is "hard_bounce", "soft_bounces" or "complaint" (the bounce intake, with the
    bounce that decided it), "refused_at_send" (a 5xx from the mail server: the delivery's
    detail), "unsubscribe_link", or "marketer" (set by hand: a reactivation).
    """

    __tablename__ = "subscriber_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(20))
    bounce_id: Mapped[int | None] = mapped_column(
        ForeignKey("bounces.id", ondelete="SET NULL"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # set with the bounce not yet written: the intake writes a batch's rows in one flush
    bounce: Mapped[Bounce | None] = relationship()
