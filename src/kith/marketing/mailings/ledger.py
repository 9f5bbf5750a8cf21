"""A sending thread's bookkeeping of deliveries: claim a few, settle each, keep the lease.

Each sending thread keeps one database connection for its claims and settlements: a claim
marks a few pending deliveries `sending` in one transaction, and every message is settled in a
transaction of its own, committed before the thread sends its next message (see sending.py
for why). Statements are built once: building one costs about as much as running it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, literal, select, update
from sqlalchemy.sql.expression import Update

from kith.csvimport.timestamps import sqlite_text
from kith.marketing.bounces.models import StatusChange
from kith.marketing.mailings.messages import SubscriberFields
from kith.marketing.models import Delivery, Mailing, Subscriber
from kith.marketing.scoring.models import SubscriberScore
from kith.marketing.subscriber_changes import next_change

Clock = Callable[[], datetime]
CLAIM_BATCH = 50


class Claimed(NamedTuple):
    """A delivery a thread has claimed; `subscriber` is None when the subscriber was deleted."""

    id: int
    email: str
    subscriber_id: int | None
    subscriber: SubscriberFields | None


class Ledger:
    """One sending thread's claims and settlements, on a database connection of its own.

    Statements built once and a connection kept for the whole send: a Session, an ORM update
    and a statement built anew per message cost more than rendering the message. Claims and
    settlements go one step further, straight to the driver (`_Claim`, `_Settlement`).
    `write_turn` (SQLite only) lets one thread of the send write at a time.

    A settlement may also be left to run on the ledger's own thread (`settle(..., later=True)`)
    while the sending thread goes on with the next message's envelope; `settled()` waits for
    it, and every other use of the connection waits for it first. A ledger is a context
    manager: leaving it waits for the last settlement.
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
        self._claim = _Claim(connection)
        self._settlement = _Settlement(connection)
        self._later = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kith-settle")
        self._pending: Future[None] | None = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.settled()
        finally:
            self._later.shutdown()

    def settled(self) -> None:
        """Wait for the settlement left running by `settle(..., later=True)`; its error, if any,
        is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _writing(self) -> AbstractContextManager[object]:
        return self._write_turn if self._write_turn is not None else nullcontext()

    def claim(self) -> list[Claimed]:
        """The next few pending deliveries, marked `sending` by this thread (at most once)."""
        self.settled()
        with self._writing(), self.connection.begin():
            return self._claim.run(self.mailing_id, self.clock())

    def settle(
        self,
        delivery: Claimed,
        status: str,
        detail: str,
        *,
        attempts: int,
        message_id: str | None = None,
        bounced: bool = False,
        later: bool = False,
    ) -> None:
        """Record how a delivery ended, committed before this returns, or with `later` by the
        ledger's thread (see `settled`); `bounced` (a permanent refusal by the mail server)
        also marks its subscriber bounced, at once."""
        self.settled()
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
            if later:
                self._pending = self._later.submit(self._settle, values)
            else:
                self._settle(values)
            return
        with self._writing(), self.connection.begin():  # rare: three writes, one transaction
            self.connection.execute(_SETTLE, values)
            self.connection.execute(
                _REFUSED_HISTORY,
                {"refused_subscriber_id": delivery.subscriber_id, "refused_at": now},
            )
            self.connection.execute(
                update(Subscriber)
                .where(Subscriber.id == delivery.subscriber_id)
                .values(status="bounced", updated_at=now, change_seq=next_change(self.connection))
            )

    def _settle(self, values: dict[str, Any]) -> None:
        with self._writing():
            self._settlement.run(values)

    def renew_lease(self, owner: str, until: datetime) -> None:
        self.settled()
        with self._writing(), self.connection.begin():
            self.connection.execute(
                update(Mailing)
                .where(Mailing.id == self.mailing_id, Mailing.lease_owner == owner)
                .values(lease_until=until)
            )


class _Compiled:
    """A statement compiled once for the connection's dialect, run by its driver with its
    parameters as the driver takes them: in order for SQLite's "?" placeholders (a time as
    stored text, as kith.csvimport.bulk writes it), by name for psycopg."""

    def __init__(self, statement: Update, connection: Connection) -> None:
        compiled = statement.compile(dialect=connection.dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)
        self.positions = tuple(compiled.positiontup or ())
        self.is_sqlite = connection.dialect.name == "sqlite"

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        given = self.defaults | values
        if not self.is_sqlite:
            return given
        ordered = (given[name] for name in self.positions)
        return tuple(
            sqlite_text(value) if isinstance(value, datetime) else value for value in ordered
        )


class _Claim:
    """`_CLAIM` and `_CLAIMED` run by the driver, in the transaction `claim` holds:
    SQLAlchemy's handling of the claimed rows cost more than the statements. A subscriber's
    JSON fields are read as SQLAlchemy reads them (json.loads; psycopg parses them itself)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.claim = _Compiled(_CLAIM, connection)
        self.is_sqlite = self.claim.is_sqlite
        self.claimed_sql = str(_CLAIMED.compile(dialect=connection.dialect))
        self._claimed_sql: dict[int, str] = {}  # by the number of ids

    def run(self, mailing_id: int, now: datetime) -> list[Claimed]:
        driver = self.connection.connection.driver_connection
        assert driver is not None  # the connection is open: the thread holds it
        values = {"claiming_mailing_id": mailing_id, "claiming_at": now}
        claimed = driver.execute(self.claim.sql, self.claim.parameters(values))
        ids = [row[0] for row in claimed]
        if not ids:
            return []
        sql = self._claimed_sql.get(len(ids)) or self._expanded(len(ids))
        if self.is_sqlite:
            rows = driver.execute(sql, ids).fetchall()
        else:
            rows = driver.execute(sql, {f"ids_{i}": id_ for i, id_ in enumerate(ids)}).fetchall()
        return [  # in id order (the statement's ORDER BY)
            Claimed(row[0], row[1], row[2], None if row[3] is None else self._subscriber(row))
            for row in rows
        ]

    def _subscriber(self, row: Any) -> SubscriberFields:
        json_of = self._json
        return SubscriberFields(
            row[4], row[5], row[6], row[7], json_of(row[8]), json_of(row[9]), row[10], row[11]
        )

    def _expanded(self, count: int) -> str:
        """`_CLAIMED` for `count` ids: SQLAlchemy expands its IN list when it runs it."""
        marks = ["?"] * count if self.is_sqlite else [f"%(ids_{i})s" for i in range(count)]
        sql = self.claimed_sql.replace("__[POSTCOMPILE_ids]", ", ".join(marks))
        self._claimed_sql[count] = sql
        return sql

    def _json(self, value: Any) -> Any:
        return json.loads(value) if self.is_sqlite and isinstance(value, str) else value


class _Settlement:
    """`_SETTLE` run by the driver, as a transaction of its own: SQLAlchemy's execution of it
    cost more than the update itself.

    SQLAlchemy is in no transaction on the connection here (the ledger's are `begin()` blocks
    that end before), so the driver's state is the whole story: SQLite's driver is in
    autocommit mode (kith.db), where one statement is its own transaction; psycopg is put in
    autocommit mode for the statement, so that the update is committed in one round trip to
    the server (not an update then a COMMIT).
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.settle = _Compiled(_SETTLE, connection)

    def run(self, values: dict[str, Any]) -> None:
        driver = self.connection.connection.driver_connection
        assert driver is not None  # the connection is open: the thread holds it
        parameters = self.settle.parameters(values)
        if self.settle.is_sqlite:
            driver.execute(self.settle.sql, parameters)
            return
        driver.autocommit = True
        try:
            driver.execute(self.settle.sql, parameters)
        finally:
            driver.autocommit = False


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
        SubscriberScore.score,
        SubscriberScore.grade,
    )
    .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
    .outerjoin(SubscriberScore, SubscriberScore.subscriber_id == Subscriber.id)
    .where(Delivery.id.in_(bindparam("ids", expanding=True)))
    .order_by(Delivery.id)
)
# the subscriber's history keeps a refusal at the send (its reason: the delivery's detail)
_REFUSED_HISTORY = insert(StatusChange).from_select(
    ["subscriber_id", "from_status", "to_status", "reason", "changed_at"],
    select(
        Subscriber.id,
        Subscriber.status,
        literal("bounced"),
        literal("refused_at_send"),
        bindparam("refused_at", type_=StatusChange.changed_at.type),
    ).where(Subscriber.id == bindparam("refused_subscriber_id"), Subscriber.status != "bounced"),
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
