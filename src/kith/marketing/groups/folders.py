"""Folders of target groups: `Main` always exists; features file their groups in their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.errors import Conflict, InvalidInput, NotFound
from kith.marketing.models import MAIN_FOLDER, Folder, TargetGroup

NAME_LENGTH = 200


@dataclass(frozen=True)
class FolderSummary:
    name: str
    group_count: int
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "group_count": self.group_count,
            "created_at": self.created_at.isoformat(),
        }


def get_folder(session: Session, name: str | None) -> Folder:
    """The folder of that name (any case); `Main` when no name is given."""
    wanted = (name or MAIN_FOLDER).strip()
    folder = session.scalar(select(Folder).where(func.lower(Folder.name) == wanted.lower()))
    if folder is None:
        raise NotFound(
            f"no folder is named {wanted!r}; create it with `kith marketing folders create`"
        )
    return folder


def ensure_folder(session: Session, name: str, *, now: datetime) -> Folder:
    """The folder a feature files its groups in (`Online Community`, `Scoring`), created once."""
    folder = session.scalar(select(Folder).where(func.lower(Folder.name) == name.lower()))
    return folder or create_folder(session, name, now=now)


def create_folder(session: Session, name: str, *, now: datetime) -> Folder:
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"a folder name has 1 to {NAME_LENGTH} characters, not {len(name)}")
    if session.scalar(select(Folder.id).where(func.lower(Folder.name) == name.lower())):
        raise Conflict(f"a folder named {name!r} already exists")
    folder = Folder(name=name, created_at=now)
    session.add(folder)
    session.flush()
    return folder


def list_folders(session: Session) -> list[FolderSummary]:
    """Every folder with the number of groups in it, Main first, then by name."""
    counts = (
        select(TargetGroup.folder_id, func.count().label("groups"))
        .group_by(TargetGroup.folder_id)
        .subquery()
    )
    rows = session.execute(
        select(Folder.name, func.coalesce(counts.c.groups, 0), Folder.created_at)
        .outerjoin(counts, counts.c.folder_id == Folder.id)
        .order_by(Folder.name != MAIN_FOLDER, func.lower(Folder.name))
    )
    return [FolderSummary(name, count, created_at) for name, count, created_at in rows]
