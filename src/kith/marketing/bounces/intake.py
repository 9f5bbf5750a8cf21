"""The bounce intake: every message stored once before it is read, then read and applied.

Whichever way messages arrive (`kith bounces serve`, `kith bounces process`, the mailbox) they
go through `take_in_batch` (`take_in` for one):
- `receive` stores them whole, keyed by their SHA-256, in a transaction of its own: once this
  returns, nothing can lose them (the SMTP listener answers 250 only then);
- `process` reads them and applies what they say in one transaction, which also marks each
  processed: a message received again, or processed again, changes nothing. They are applied
  in one savepoint; if that fails they are applied again one savepoint each, so that a message
  that fails is rolled back alone and kept as `failed` with the reason, for `retry`.

A malformed or huge message is logged and kept, read as far as it goes (kith.marketing.bounces
.reading); a message that says nothing Kith understands is kept as unrecognised and listed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.config import Settings
from kith.csvimport.bulk import among, dialect_insert
from kith.db import Database
from kith.errors import NotFound, describe
from kith.marketing.bounces.models import BounceMessage
from kith.marketing.bounces.outcomes import Change, Known, SoftBounceRule, apply_reading, load_known
from kith.marketing.bounces.reading import Reading, read_message

log = logging.getLogger(__name__)
BATCH = 200  # messages stored, then processed, in one transaction


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


@dataclass(frozen=True)
class Arrival:
    """A message as it arrived: its bytes, by which way, and its SMTP envelope's recipients."""

    raw: bytes
    source: str  # smtp, lmtp, file, imap, pop3
    envelope_recipients: tuple[str, ...] = ()


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
    [intake] = take_in_batch(
        db, policy, [Arrival(raw, source, tuple(envelope_recipients))], now=now
    )
    return intake


def take_in_batch(
    db: Database, policy: BouncePolicy, arrivals: Sequence[Arrival], *, now: datetime
) -> list[Intake]:
    """`take_in` for several messages (files, a mailbox's new mail): stored in one
    transaction, then processed in one, each message in a savepoint of its own, so that one
    that fails is rolled back alone and kept as failed."""
    return process(db, policy, receive(db, arrivals, now=now), now=now)


def receive(db: Database, arrivals: Sequence[Arrival], *, now: datetime) -> list[int]:
    """Each message's number once stored (the number it had when the same bytes came before)."""
    digests = [hashlib.sha256(arrival.raw).hexdigest() for arrival in arrivals]
    with db.transaction() as session:
        known = _ids_by_digest(session, digests)
        rows = {
            digest: {
                "digest": digest,
                "raw": arrival.raw,
                "size": len(arrival.raw),
                "source": arrival.source,
                "envelope_recipients": list(arrival.envelope_recipients),
                "received_at": now,
                "status": "received",
                "attempts": 0,
            }
            for digest, arrival in zip(digests, arrivals, strict=True)
            if digest not in known
        }
        if rows:
            insert = dialect_insert(session, BounceMessage).on_conflict_do_nothing(
                index_elements=["digest"]
            )
            session.execute(insert, list(rows.values()))
        ids = known | _ids_by_digest(session, list(rows))
    return [ids[digest] for digest in digests]


def _ids_by_digest(session: Session, digests: list[str]) -> dict[str, int]:
    if not digests:
        return {}
    rows = session.execute(
        select(BounceMessage.digest, BounceMessage.id).where(
            among(session, BounceMessage.digest, digests)
        )
    )
    return {digest: message_id for digest, message_id in rows.tuples()}


def process(
    db: Database,
    policy: BouncePolicy,
    message_ids: Sequence[int],
    *,
    now: datetime,
) -> list[Intake]:
    """Read stored messages and apply each, unless it was processed already (then it is a
    duplicate, and changes nothing).

    If the transaction cannot be committed, the messages stay stored as they were (received or
    failed), for `retry`.
    """
    with db.transaction() as session:
        messages = {
            message.id: message
            for message in session.scalars(
                select(BounceMessage)
                .where(among(session, BounceMessage.id, list(set(message_ids))))
                .with_for_update()
            )
        }
        for message_id in message_ids:
            if message_id not in messages:
                raise NotFound(f"no bounce message has the number {message_id}")
        waiting = [
            messages[message_id]
            for message_id in dict.fromkeys(message_ids)
            if messages[message_id].status != "processed"
        ]
        readings = {message.id: _read(policy, message) for message in waiting}
        known = load_known(session, readings.values())
        try:  # all in one savepoint; a failure undoes them all, to be redone one at a time
            with session.begin_nested():
                done = {
                    m.id: _apply(session, policy, m, readings[m.id], known, now) for m in waiting
                }
        except Exception:
            done = {
                m.id: _apply_alone(session, policy, m, readings[m.id], known.change, now)
                for m in waiting
            }
        intakes = []
        for message_id in message_ids:
            intake = done.pop(message_id, None)  # a copy later in the batch: taken in already
            intakes.append(intake if intake is not None else _before(messages[message_id]))
    for intake in intakes:
        if intake.problem and not intake.duplicate:
            log.warning(
                "bounce message %d: %s; kept, read as far as it goes",
                intake.message_id,
                intake.problem,
            )
        if intake.kind == "unrecognised" and not intake.duplicate:
            log.info(
                "bounce message %d: unrecognised, kept (kith bounces list --kind unrecognised)",
                intake.message_id,
            )
    return intakes


def _read(policy: BouncePolicy, message: BounceMessage) -> Reading:
    return read_message(
        message.raw,
        key=policy.key,
        envelope_recipients=message.envelope_recipients,
        limit=policy.read_bytes,
    )


def _apply(
    session: Session,
    policy: BouncePolicy,
    message: BounceMessage,
    reading: Reading,
    known: Known,
    now: datetime,
) -> Intake:
    changes = apply_reading(session, message, reading, policy.soft_rule, known)
    message.status, message.kind, message.how = "processed", reading.kind, reading.how
    message.problem, message.error, message.processed_at = reading.problem, None, now
    message.subject = reading.subject
    message.attempts += 1
    return Intake(message.id, False, "processed", reading.kind, tuple(changes), reading.problem)


def _apply_alone(
    session: Session,
    policy: BouncePolicy,
    message: BounceMessage,
    reading: Reading,
    change: int | None,
    now: datetime,
) -> Intake:
    """`_apply` in a savepoint of its own: a failure rolls back this message's effects alone."""
    try:
        with session.begin_nested():
            known = load_known(session, [reading], change)
            return _apply(session, policy, message, reading, known, now)
    except Exception as error:
        return _failed(message, error)


def _before(message: BounceMessage) -> Intake:
    return Intake(message.id, True, message.status, message.kind, (), message.problem)


def retry(db: Database, policy: BouncePolicy, *, now: datetime) -> list[Intake]:
    """Process again every message left received or failed (by a crash or an error)."""
    with db.session() as session:
        waiting = session.scalars(
            select(BounceMessage.id)
            .where(BounceMessage.status.in_(("received", "failed")))
            .order_by(BounceMessage.id)
        ).all()
    return [
        intake
        for start in range(0, len(waiting), BATCH)
        for intake in process(db, policy, waiting[start : start + BATCH], now=now)
    ]


def _failed(message: BounceMessage, error: Exception) -> Intake:
    reason = describe(error)
    log.error(
        "bounce message %d could not be processed: %s; kept, to process again with "
        "`kith bounces retry`",
        message.id,
        reason,
        exc_info=error,
    )
    message.status, message.error = "failed", reason
    message.attempts += 1
    return Intake(message.id, False, "failed", None, (), None, reason)
