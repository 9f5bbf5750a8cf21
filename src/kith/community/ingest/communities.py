"""Communities named in import rows: found by name in any case, created on first mention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.community.models import Community
from kith.csvimport.bulk import dialect_insert

COMMUNITY_NAME_LENGTH = 300


class CommunityIds:
    """Community name -> id for one import, one query per distinct spelling.

    Names compare as the database's lower() does, the same rule its unique index enforces.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self.known: dict[str, int] = {}
        self._unknown: set[str] = set()

    def find(self, name: str) -> int | None:
        """The id of the community with this name, or None if there is none."""
        if name in self.known:
            return self.known[name]
        if name in self._unknown:
            return None
        community_id = self._session.scalar(
            select(Community.id).where(func.lower(Community.name) == func.lower(name.strip()))
        )
        if community_id is None:
            self._unknown.add(name)
        else:
            self.known[name] = community_id
        return community_id

    def find_or_create(self, name: str, *, now: datetime) -> int:
        community_id = self.find(name)
        if community_id is not None:
            return community_id
        self._session.execute(
            dialect_insert(self._session, Community)
            .values(name=name.strip(), created_at=now)
            .on_conflict_do_nothing()
        )
        self._unknown.discard(name)
        community_id = self.find(name)
        assert community_id is not None, name
        return community_id
