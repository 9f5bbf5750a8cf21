"""Compound target groups: Include and Exclude sections over other groups, evaluated in SQL.

Members = (the Include groups, "In all" or "In one or more") minus (the Exclude groups, with
their own mode). Nothing is stored per member: each use compiles the definition, nested
compounds included, into one condition on subscribers, so a compound is always as current as
the groups it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, delete, false, not_, or_, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput
from kith.marketing.models import COMPOUND_MODES, CompoundPart, GroupMember, Subscriber, TargetGroup

MODE_WORDS = {"all": "In all", "any": "In one or more"}


@dataclass(frozen=True)
class Section:
    """One side of a compound: the groups it names, in order, and how they combine."""

    groups: tuple[TargetGroup, ...]
    mode: str

    def names(self) -> list[str]:
        return [group.name for group in self.groups]


def check_mode(mode: str, section: str) -> str:
    if mode not in COMPOUND_MODES:
        raise InvalidInput(
            f"the {section} mode must be 'all' ({MODE_WORDS['all']}) or 'any' "
            f"({MODE_WORDS['any']}), not {mode!r}"
        )
    return mode


def define_compound(
    session: Session, compound: TargetGroup, include: Section, exclude: Section | None
) -> None:
    """Give `compound` these sections, replacing any it had; a cycle raises InvalidInput."""
    if not include.groups:
        raise InvalidInput("a compound group needs at least one group in its Include section")
    sections = {"include": include, **({"exclude": exclude} if exclude else {})}
    for name, section in sections.items():
        check_mode(section.mode, name)
        seen: set[int] = set()
        for group in section.groups:
            if group.id in seen:
                raise InvalidInput(f"the {name} section names the group {group.name!r} twice")
            seen.add(group.id)
    _refuse_cycles(session, compound, [g for s in sections.values() for g in s.groups])
    compound.include_mode = include.mode
    compound.exclude_mode = exclude.mode if exclude else None
    session.execute(delete(CompoundPart).where(CompoundPart.compound_id == compound.id))
    session.add_all(
        CompoundPart(compound_id=compound.id, section=name, part_id=group.id, position=position)
        for name, section in sections.items()
        for position, group in enumerate(section.groups)
    )
    session.flush()


def sections_of(session: Session, compound: TargetGroup) -> dict[str, Section]:
    """The compound's sections as stored: `include`, and `exclude` when it has one."""
    rows = session.execute(
        select(CompoundPart.section, TargetGroup)
        .join(TargetGroup, TargetGroup.id == CompoundPart.part_id)
        .where(CompoundPart.compound_id == compound.id)
        .order_by(CompoundPart.section, CompoundPart.position)
    ).tuples()
    groups: dict[str, list[TargetGroup]] = {}
    for section, group in rows:
        groups.setdefault(section, []).append(group)
    modes = {"include": compound.include_mode, "exclude": compound.exclude_mode}
    return {
        name: Section(tuple(groups[name]), modes[name] or "any")
        for name in ("include", "exclude")
        if name in groups
    }


def members_condition(session: Session, group: TargetGroup) -> ColumnElement[bool]:
    """A condition on `subscribers` true for the group's members, whatever its kind."""
    parts = _all_parts(session)
    return _condition(group.id, group.kind == "compound", parts, _compound_modes(session))


def sections_condition(
    session: Session, include: Section, exclude: Section | None
) -> ColumnElement[bool]:
    """A condition on `subscribers` true for the members a compound with these sections would
    have: what the editor counts while the marketer builds it, before anything is saved."""
    parts, modes = _all_parts(session), _compound_modes(session)
    sections = {
        name: [_condition(group.id, group.id in modes, parts, modes) for group in section.groups]
        for name, section in (("include", include), ("exclude", exclude))
        if section is not None
    }
    return _included_minus_excluded(
        {"exclude": [], **sections}, include.mode, exclude.mode if exclude else None
    )


class GroupRef(NamedTuple):
    """A target group by id, with its name for the messages that mention it."""

    id: int
    name: str


def community_groups_in(session: Session, groups: Sequence[TargetGroup]) -> list[GroupRef]:
    """The community groups among `groups` or inside them (compounds, nested)."""
    parts = _all_parts(session)
    kinds = dict(session.execute(select(TargetGroup.id, TargetGroup.kind)).tuples().all())
    names = dict(session.execute(select(TargetGroup.id, TargetGroup.name)).tuples().all())
    found: list[GroupRef] = []
    seen: set[int] = set()
    pending = [group.id for group in groups]
    while pending:
        group_id = pending.pop(0)
        if group_id in seen:
            continue
        seen.add(group_id)
        if kinds.get(group_id) == "community":
            found.append(GroupRef(group_id, names[group_id]))
        pending.extend(part_id for _, part_id in parts.get(group_id, []))
    return found


def _condition(
    group_id: int,
    is_compound: bool,
    parts: dict[int, list[tuple[str, int]]],
    modes: dict[int, tuple[str | None, str | None]],
) -> ColumnElement[bool]:
    if not is_compound:
        held = select(GroupMember.subscriber_id).where(GroupMember.group_id == group_id)
        return Subscriber.id.in_(held)
    include_mode, exclude_mode = modes[group_id]
    sections: dict[str, list[ColumnElement[bool]]] = {"include": [], "exclude": []}
    for section, part_id in parts.get(group_id, []):
        sections[section].append(_condition(part_id, part_id in modes, parts, modes))
    return _included_minus_excluded(sections, include_mode, exclude_mode)


def _included_minus_excluded(
    sections: dict[str, list[ColumnElement[bool]]],
    include_mode: str | None,
    exclude_mode: str | None,
) -> ColumnElement[bool]:
    included = _combine(sections["include"], include_mode)
    if not sections["exclude"]:
        return included
    return and_(included, not_(_combine(sections["exclude"], exclude_mode)))


def _combine(conditions: Sequence[ColumnElement[bool]], mode: str | None) -> ColumnElement[bool]:
    if not conditions:
        return false()
    return and_(*conditions) if mode == "all" else or_(*conditions)


def _all_parts(session: Session) -> dict[int, list[tuple[str, int]]]:
    """Every compound's parts, by compound id: the definitions are few and small."""
    parts: dict[int, list[tuple[str, int]]] = {}
    rows = session.execute(
        select(CompoundPart.compound_id, CompoundPart.section, CompoundPart.part_id).order_by(
            CompoundPart.compound_id, CompoundPart.section, CompoundPart.position
        )
    )
    for compound_id, section, part_id in rows:
        parts.setdefault(compound_id, []).append((section, part_id))
    return parts


def _compound_modes(session: Session) -> dict[int, tuple[str | None, str | None]]:
    rows = session.execute(
        select(TargetGroup.id, TargetGroup.include_mode, TargetGroup.exclude_mode).where(
            TargetGroup.kind == "compound"
        )
    )
    return {group_id: (include, exclude) for group_id, include, exclude in rows}


def _refuse_cycles(session: Session, compound: TargetGroup, parts: list[TargetGroup]) -> None:
    """InvalidInput naming the path when the new parts would make `compound` contain itself."""
    stored = _all_parts(session)
    stored[compound.id] = [("include", part.id) for part in parts]
    names = dict(session.execute(select(TargetGroup.id, TargetGroup.name)).tuples().all())
    names[compound.id] = compound.name

    explored: set[int] = set()

    def path_back(start: int, trail: list[int]) -> list[int] | None:
        explored.add(start)
        for _, part_id in stored.get(start, []):
            if part_id == compound.id:
                return [*trail, part_id]
            if part_id not in explored:
                found = path_back(part_id, [*trail, part_id])
                if found:
                    return found
        return None

    cycle = path_back(compound.id, [compound.id])
    if cycle:
        raise InvalidInput(
            f"the compound group {compound.name!r} would contain itself: "
            + " → ".join(names[group_id] for group_id in cycle)
        )
