"""Failed authentications, counted per client address and the IAM key or login they aim at."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from kith.db import Database, UTCDateTime
from kith.errors import Throttled

# Longer addresses and subjects (an IAM key, a login's email) are counted by their digest.
MAX_SOURCE = 100
MAX_SUBJECT = 200


class FailureColumns:
    """The columns of a table of failures; each side declares its own tables from these."""

    source: Mapped[str] = mapped_column(String(MAX_SOURCE), primary_key=True)
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class Throttle:
    """Failed attempts at one kind of subject (IAM keys, logins), counted in `model`.

    A count belongs to the pair (client address, subject), not to the subject alone: counted
    per subject, anyone who knows an IAM key or a login's email could keep its owner locked
    out. After `limit` failures inside `window` the pair is locked for a full window from the
    failure that reached the limit; attempts during the lock are refused without checking the
    password (the right one does not lift it) and are not counted. Other addresses are not
    affected. A success resets its address's count. The counts live in the database, so every
    web process shares them.
    """

    model: type[FailureColumns]
    limit: int
    window: timedelta
    # What a locked-out client is told, before "; retry in N seconds".
    refusal: str

    def refuse_if_locked(
        self, session: Session, source: str, subject: str, *, now: datetime
    ) -> bool:
        """Throttled while `source` is locked out of `subject`; else whether it has failures."""
        key = {"source": _bounded(source, MAX_SOURCE), "subject": _bounded(subject, MAX_SUBJECT)}
        failure = session.get(self.model, key)
        if failure is None:
            return False
        lifted_at = failure.window_started_at + self.window
        if failure.failures >= self.limit and lifted_at > now:
            retry_after = max(1, math.ceil((lifted_at - now).total_seconds()))
            raise Throttled(f"{self.refusal}; retry in {retry_after} seconds", retry_after)
        return True

    def count_failure(self, db: Database, source: str, subject: str, *, now: datetime) -> None:
        """Add one failure in one atomic upsert, so concurrent processes never lose a count.

        A window older than `window` starts again at 1; the failure that reaches `limit`
        restarts the window, which then measures the lock. Pairs whose window has passed are
        deleted first (in a transaction of their own), so the table holds only live counts.
        """
        model = self.model
        expired_before = literal(now - self.window, UTCDateTime())
        with db.transaction() as session:
            session.execute(delete(model).where(model.window_started_at <= expired_before))
        insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(model)
        in_window = model.window_started_at > expired_before
        statement = insert.values(
            source=_bounded(source, MAX_SOURCE),
            subject=_bounded(subject, MAX_SUBJECT),
            failures=1,
            window_started_at=now,
        ).on_conflict_do_update(
            index_elements=[model.source, model.subject],
            set_={
                "failures": case((in_window, model.failures + 1), else_=1),
                "window_started_at": case(
                    (in_window & (model.failures + 1 < self.limit), model.window_started_at),
                    else_=literal(now, UTCDateTime()),
                ),
            },
        )
        with db.transaction() as session:
            session.execute(statement)

    def forget(self, session: Session, source: str, subject: str) -> None:
        """A success: the failures of `source` at `subject` no longer count."""
        session.execute(
            delete(self.model).where(
                self.model.source == _bounded(source, MAX_SOURCE),
                self.model.subject == _bounded(subject, MAX_SUBJECT),
            )
        )

    def forget_subject(self, session: Session, subject: str) -> None:
        """Lift every address's lock on `subject` (as a new password does)."""
        session.execute(
            delete(self.model).where(self.model.subject == _bounded(subject, MAX_SUBJECT))
        )


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
