"""The platform edition's exception to Create records: a person erased on the marketing side
(kith.marketing.personal_data) is not linked or created again from a community list.

The erased are kept as keyed digests, which SQL cannot compute, so the undecided members'
legacy keys and emails are digested here as one read streams by; nothing is read when nobody
was erased, as on most installations.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kith.connection.incoming import Incoming
from kith.connection.staging import batches
from kith.encryption import SecretBox
from kith.marketing.models import ErasedPerson


def mark_erased(session: Session, box: SecretBox) -> int:
    """Give undecided members whose legacy key or email was erased the outcome `erased`."""
    erased = set(session.scalars(select(ErasedPerson.digest)))
    if not erased:
        return 0
    incoming = Incoming.c
    undecided = session.execute(
        select(incoming.position, incoming.legacy_key, incoming.normal_key)
        .where(incoming.outcome.is_(None))
        .execution_options(yield_per=10_000)
    )
    found = [
        position
        for position, legacy_key, normal_key in undecided.tuples()
        if erased.intersection(
            box.person_digests("remote_id", legacy_key)
            + (box.person_digests("email", normal_key) if normal_key else [])
        )
    ]
    for batch in batches(found):
        session.execute(
            update(Incoming).where(incoming.position.in_(batch)).values(outcome="erased")
        )
    return len(found)
