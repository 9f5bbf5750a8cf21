"""Members' ids by contact key, looked up a batch at a time during an import."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.models import Member
from kith.csvimport.bulk import among


class MemberIds:
    """Contact key -> member id, looked up a batch at a time and remembered for the import.

    Activity files name the same members again and again; remembering their ids saves an index
    probe per row. Memory stays bounded: past `limit` keys, nothing more is remembered.
    """

    def __init__(self, session: Session, limit: int = 2_000_000) -> None:
        self._session = session
        self._limit = limit
        self.known: dict[str, int] = {}

    def resolve(self, contact_keys: Collection[str]) -> dict[str, int]:
        """A map holding the ids of those contact keys that belong to a member (one query)."""
        known = self.known
        missing = [key for key in contact_keys if key not in known]
        if not missing:
            return known
        query = select(Member.contact_key, Member.id).where(
            among(self._session, Member.contact_key, missing)
        )
        found = dict(self._session.connection().execute(query).tuples().all())
        if len(known) + len(found) <= self._limit:
            known.update(found)
            return known
        return {**{key: known[key] for key in contact_keys if key in known}, **found}
