"""Target groups: create, find, count, list and read members of them (deletion.py deletes them).

Three kinds: `static` (members added and removed by hand, CSV or API), `community` (filled only
by the connection from a community list) and `compound` (computed from other groups).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kith.errors import Conflict, InvalidInput, NotFound
from kith.marketing.groups.compound import (
    Section,
    check_mode,
    define_compound,
    members_condition,
    sections_condition,
    sections_of,
)
from kith.marketing.groups.folders import get_folder
from kith.marketing.models import Folder, GroupMember, Subscriber, TargetGroup

NAME_LENGTH = 200


@dataclass(frozen=True)
class GroupSummary:
    """A group as lists show it: where it is, what kind, how many members, how it syncs."""

    group: TargetGroup
    folder: str
    member_count: int
    sections: dict[str, Section]

    def as_json(self) -> dict[str, Any]:
        group = self.group
        view: dict[str, Any] = {
            "name": group.name,
            "folder": self.folder,
            "kind": group.kind,
            "member_count": self.member_count,
            "last_synced_at": _iso(group.last_synced_at),
            "sync_status": group.sync_status,
        }
        if group.kind == "community":
            view["source_removed_at"] = _iso(group.source_removed_at)
            view["live"] = group.live
        for name, section in self.sections.items():
            view[name] = {"groups": section.names(), "mode": section.mode}
        return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def name_key(name: str) -> str:
    return name.lower()


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"a group name has 1 to {NAME_LENGTH} characters, not {len(name)}")
    return name


def get_group(session: Session, name: str) -> TargetGroup:
    """The group of that name, in any case."""
    group = session.scalar(
        select(TargetGroup).where(TargetGroup.name_key == name_key(name.strip()))
    )
    if group is None:
        raise NotFound(f"no target group is named {name.strip()!r}")
    return group


def get_groups(session: Session, names: Sequence[str]) -> tuple[TargetGroup, ...]:
    return tuple(get_group(session, name) for name in names)


def create_group(
    session: Session,
    name: str,
    *,
    now: datetime,
    folder: str | None = None,
    kind: str = "static",
    list_key: str | None = None,
) -> TargetGroup:
    """A new, empty group in `folder` (Main by default); names are unique in any case."""
    name = check_name(name)
    if session.scalar(select(TargetGroup.id).where(TargetGroup.name_key == name_key(name))):
        raise Conflict(f"a target group named {name!r} already exists")
    group = TargetGroup(
        name=name,
        name_key=name_key(name),
        folder_id=get_folder(session, folder).id,
        kind=kind,
        list_key=list_key,
        created_at=now,
    )
    session.add(group)
    session.flush()
    return group


def create_compound_group(
    session: Session,
    name: str,
    *,
    include: Sequence[str],
    include_mode: str,
    exclude: Sequence[str] = (),
    exclude_mode: str = "any",
    folder: str | None = None,
    now: datetime,
) -> TargetGroup:
    """A compound group: members of the Include groups minus those of the Exclude groups."""
    sections = _sections(session, include, include_mode, exclude, exclude_mode)
    group = create_group(session, name, now=now, folder=folder, kind="compound")
    define_compound(session, group, *sections)
    return group


def change_compound_group(
    session: Session,
    name: str,
    *,
    include: Sequence[str],
    include_mode: str,
    exclude: Sequence[str] = (),
    exclude_mode: str = "any",
) -> TargetGroup:
    """Replace a compound group's sections; one that would contain itself is refused."""
    group = get_group(session, name)
    if group.kind != "compound":
        raise InvalidInput(f"the group {group.name!r} is a {group.kind} group, not a compound one")
    define_compound(
        session, group, *_sections(session, include, include_mode, exclude, exclude_mode)
    )
    return group


def _sections(
    session: Session,
    include: Sequence[str],
    include_mode: str,
    exclude: Sequence[str],
    exclude_mode: str,
) -> tuple[Section, Section | None]:
    """The Include section and the Exclude section (None when it names no group)."""
    included = Section(get_groups(session, include), include_mode)
    return included, Section(get_groups(session, exclude), exclude_mode) if exclude else None


def count_compound_draft(
    session: Session,
    *,
    include: Sequence[str],
    include_mode: str,
    exclude: Sequence[str] = (),
    exclude_mode: str = "any",
) -> int:
    """How many members a compound group with these sections would have now (0 while its
    Include section names no group); an unknown group or mode is refused in words."""
    check_mode(include_mode, "include")
    check_mode(exclude_mode, "exclude")
    condition = sections_condition(
        session, *_sections(session, include, include_mode, exclude, exclude_mode)
    )
    return session.scalar(select(func.count()).select_from(Subscriber).where(condition)) or 0


def members_query(session: Session, group: TargetGroup) -> Select[tuple[int]]:
    """The ids of the group's subscribers, as one query (compounds evaluated in it)."""
    return select(Subscriber.id).where(members_condition(session, group))


def count_members(session: Session, group: TargetGroup) -> int:
    if group.kind == "compound":
        return (
            session.scalar(
                select(func.count()).select_from(members_query(session, group).subquery())
            )
            or 0
        )
    held = select(func.count()).where(GroupMember.group_id == group.id)
    return session.scalar(held) or 0


def iter_members(
    session: Session, group: TargetGroup, *, chunk: int = 10_000
) -> Iterator[Subscriber]:
    """The group's subscribers in id order, streamed `chunk` at a time from one evaluation."""
    query = select(Subscriber).where(members_condition(session, group)).order_by(Subscriber.id)
    for partition in session.scalars(query.execution_options(yield_per=chunk)).partitions():
        yield from partition
        for subscriber in partition:
            session.expunge(subscriber)


def summarize(session: Session, group: TargetGroup) -> GroupSummary:
    folder = session.get(Folder, group.folder_id)
    assert folder is not None  # a foreign key
    sections = sections_of(session, group) if group.kind == "compound" else {}
    return GroupSummary(group, folder.name, count_members(session, group), sections)


NOT_SYNCED = ("failed", "held")  # a community group's last sync that left it as it was


def groups_not_synced(session: Session) -> list[TargetGroup]:
    """Community groups whose last sync failed or was held (their lists still in the community),
    by name: mailings and campaigns use them as last synced."""
    return list(
        session.scalars(
            select(TargetGroup)
            .where(
                TargetGroup.kind == "community",
                TargetGroup.sync_status.in_(NOT_SYNCED),
                TargetGroup.source_removed_at.is_(None),
            )
            .order_by(TargetGroup.name_key)
        )
    )


def list_groups(
    session: Session, *, folder: str | None = None, named: str = ""
) -> list[GroupSummary]:
    """Every group (or those in one folder, or whose name contains `named` in any case) by
    folder then name, each with its member count.

    Static and community groups are counted in one grouped query; each compound is counted
    by evaluating it.
    """
    query = (
        select(TargetGroup, Folder.name)
        .join(Folder, Folder.id == TargetGroup.folder_id)
        .order_by(func.lower(Folder.name), TargetGroup.name_key)
    )
    if folder is not None:
        query = query.where(TargetGroup.folder_id == get_folder(session, folder).id)
    if named.strip():
        query = query.where(TargetGroup.name_key.contains(name_key(named.strip()), autoescape=True))
    rows = session.execute(query).tuples().all()
    counted = select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)
    held: dict[int, int] = dict(session.execute(counted).tuples().all())
    summaries = []
    for group, folder_name in rows:
        if group.kind == "compound":
            count = count_members(session, group)
            sections = sections_of(session, group)
        else:
            count, sections = held.get(group.id, 0), {}
        summaries.append(GroupSummary(group, folder_name, count, sections))
    return summaries
