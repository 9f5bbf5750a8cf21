"""The bounce intake: every message stored once before it is read, then read and applied.

Whichever way a message arrives (`kith bounces serve`, `kith bounces process`, the mailbox) it
goes through `take_in`:
- `receive` stores it whole, keyed by its SHA-256, in a transaction of its own: once this
  returns, nothing can lose it (the SMTP listener answers 250 only then);
- `process` reads it and applies what it says in one transaction, which also marks it
  processed: a message received again, or processed again, changes nothing; a failure rolls the
  effects back and leaves the message stored as `failed` with the reason, for `retry`.

A malformed or huge message is logged and kept, read as far as it goes (kith.marketing.bounces
.reading); a message that says nothing Kith understands is kept as unrecognised and listed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from kith.config import Settings
from kith.csvimport.bulk import dialect_insert
from kith.db import Database
from kith.errors import NotFound, describe
from kith.marketing.bounces.models import BounceMessage
from kith.marketing.bounces.outcomes import Change, SoftBounceRule, apply_reading
from kith.marketing.bounces.reading import read_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BouncePolicy:
    """How messages are read and followed: the key VERP tokens are signed with, the soft-bounce
    rule, and how much of a message is parsed (KITH_BOUNCE_READ_BYTES)."""

    key: bytes
    soft_rule: SoftBounceRule = field(default_factory=SoftBounceRule)
    read_bytes: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> BouncePolicy:
        rule = SoftBounceRule(settings.soft_bounce_limit, timedelta(days=settings.soft_bounce_days))
        return cls(settings.signing_key(), rule, settings.bounce_read_bytes)


@dataclass(frozen=True)
class Intake:
    """What became of one message: its number, whether it had been taken in before (and so
    changed nothing now), how it was read, whom it changed, and any problem or error."""

    message_id: int
    duplicate: bool
    status: str
    kind: str | None
    changes: tuple[Change, ...] = ()
    problem: str | None = None
    error: str | None = None


def take_in(
    db: Database,
    policy: BouncePolicy,
    raw: bytes,
    *,
    source: str,
    now: datetime,
    envelope_recipients: Iterable[str] = (),
) -> Intake:
    """Store `raw` (once), then process it unless it was processed before."""
    message_id, new = receive(
        db, raw, source=source, now=now, envelope_recipients=envelope_recipients
    )
    return process(db, policy, message_id, now=now, duplicate=not new)


def receive(
    db: Database,
    raw: bytes,
    *,
    source: str,
    now: datetime,
    envelope_recipients: Iterable[str] = (),
) -> tuple[int, bool]:
    """The stored message's number, and whether it is new (False: the same bytes came before)."""
    digest = hashlib.sha256(raw).hexdigest()
    with db.transaction() as session:
        inserted = session.execute(
            dialect_insert(session, BounceMessage)
            .values(
                digest=digest,
                raw=raw,
                size=len(raw),
                source=source,
                envelope_recipients=list(envelope_recipients),
                received_at=now,
                status="received",
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["digest"])
        )
        message_id = session.scalar(select(BounceMessage.id).where(BounceMessage.digest == digest))
    assert message_id is not None  # inserted now or before
    return message_id, bool(inserted.rowcount)  # type: ignore[attr-defined]


def process(
    db: Database, policy: BouncePolicy, message_id: int, *, now: datetime, duplicate: bool = False
) -> Intake:
    """Read a stored message and apply it, unless it was processed already."""
    try:
        with db.transaction() as session:
            message = session.get(BounceMessage, message_id, with_for_update=True)
            if message is None:
                raise NotFound(f"no bounce message has the number {message_id}")
            if message.status == "processed":
                return Intake(message.id, True, message.status, message.kind, (), message.problem)
            reading = read_message(
                message.raw,
                key=policy.key,
                envelope_recipients=message.envelope_recipients,
                limit=policy.read_bytes,
            )
            changes = apply_reading(session, message, reading, policy.soft_rule)
            message.status, message.kind, message.how = "processed", reading.kind, reading.how
            message.problem, message.error, message.processed_at = reading.problem, None, now
            message.subject = reading.subject
            message.attempts += 1
    except NotFound:
        raise
    except Exception as error:
        return _failed(db, message_id, error)
    if reading.problem:
        log.warning(
            "bounce message %d: %s; kept, read as far as it goes", message_id, reading.problem
        )
    if reading.kind == "unrecognised":
        log.info(
            "bounce message %d: unrecognised, kept (kith bounces list --kind unrecognised)",
            message_id,
        )
    return Intake(message_id, duplicate, "processed", reading.kind, tuple(changes), reading.problem)


def retry(db: Database, policy: BouncePolicy, *, now: datetime) -> list[Intake]:
    """Process again every message left received or failed (by a crash or an error)."""
    with db.session() as session:
        waiting = session.scalars(
            select(BounceMessage.id)
            .where(BounceMessage.status.in_(("received", "failed")))
            .order_by(BounceMessage.id)
        ).all()
    return [process(db, policy, message_id, now=now) for message_id in waiting]


def _failed(db: Database, message_id: int, error: Exception) -> Intake:
    reason = describe(error)
    log.error(
        "bounce message %d could not be processed: %s; kept, to process again with "
        "`kith bounces retry`",
        message_id,
        reason,
        exc_info=error,
    )
    with db.transaction() as session:
        message = session.get(BounceMessage, message_id)
        assert message is not None  # stored before processing began
        message.status, message.error = "failed", reason
        message.attempts += 1
    return Intake(message_id, False, "failed", None, (), None, reason)
