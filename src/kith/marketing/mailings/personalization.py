"""The fields a mailing's template may name, as the editor's picker offers them: a subscriber's
own, and the personalization and community fields seen on subscribers (in any one of them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from kith.csvimport.bulk import is_sqlite
from kith.marketing.models import Subscriber

# what every subscriber has, in the order a marketer reaches for them
STANDARD_FIELDS = ("first_name", "last_name", "email", "remote_id", "score", "grade")
MAILING_FIELDS = ("mailing.name", "unsubscribe_url")
MAX_SEEN_FIELDS = 200  # of each kind: a picker longer than that helps nobody


def personalization_fields(session: Session) -> list[str]:
    """Every field a template may name for these subscribers, as it is written in a template
    (`first_name`, `fields.member_type`, `community.thread_started_30d`, `unsubscribe_url`)."""
    seen = _seen_keys(session, Subscriber.fields), _seen_keys(session, Subscriber.community)
    return [
        *STANDARD_FIELDS,
        *(f"fields.{key}" for key in seen[0]),
        *(f"community.{key}" for key in seen[1]),
        *MAILING_FIELDS,
    ]


def _seen_keys(session: Session, column: InstrumentedAttribute[Any]) -> list[str]:
    """The names of `column`'s JSON objects, over all subscribers, sorted; those a template can
    write as `.name` only."""
    keys = _keys_query(session, column).subquery()
    found = session.scalars(
        select(keys.c.key).where(keys.c.key.is_not(None)).distinct().order_by(keys.c.key)
    )
    return [key for key in found if key.isidentifier()][:MAX_SEEN_FIELDS]


def _keys_query(session: Session, column: InstrumentedAttribute[Any]) -> Select[Any]:
    if is_sqlite(session):
        each = func.json_each(column).table_valued("key")
        return select(each.c.key).select_from(Subscriber).join(each, true())  # one row a key
    objects = func.json_typeof(column) == "object"
    return select(func.json_object_keys(column).label("key")).where(objects)
