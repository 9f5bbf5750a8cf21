"""Campaigns as users define them: create, edit (in place or as a new version), activate, show.

A campaign file:
    {"name": "Welcome", "activation": {"group": "New Members", "mode": "both"},
     "starts_at": "2026-12-01T00:00:00Z", "stops_at": null, "steps": [...]}   (steps.py)

Editing an active campaign goes further than the vendor's designer, which makes you deactivate
it first: steps nobody has reached change in place; a change to a step someone has reached (its
own settings or the step after it) makes a new version, which only new enrollments follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, union
from sqlalchemy.orm import Session

from kith.clock import parse_datetime
from kith.db import as_id
from kith.errors import Conflict, InvalidInput, NotFound
from kith.marketing.campaigns.models import (
    ACTIVATION_MODES,
    Campaign,
    CampaignVersion,
    Enrollment,
    StepOutcome,
)
from kith.marketing.campaigns.steps import GROUP_KEYS, WEEKDAYS, Steps, parse_steps
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import Mailing, TargetGroup

NAME_LENGTH = 200


def create_campaign(session: Session, definition: Any, *, now: datetime) -> Campaign:
    """A new, inactive campaign; the definition is checked whole, errors naming the step."""
    fields = _fields(session, definition)
    if session.scalar(select(Campaign.id).where(Campaign.name == fields["name"])):
        raise Conflict(f"a campaign is already named {fields['name']!r}")
    first, steps = parse_steps(session, definition.get("steps"))
    campaign = Campaign(status="inactive", created_at=now, **fields, updated_at=now)
    session.add(campaign)
    session.flush()
    campaign.version_id = _new_version(session, campaign, 1, first, steps, now=now).id
    return campaign


def change_campaign(
    session: Session, name_or_id: str, definition: Any, *, now: datetime
) -> tuple[Campaign, bool]:
    """Apply an edited definition; (the campaign, whether it made a new version)."""
    campaign = get_campaign(session, name_or_id)
    checked = _checked_change(session, campaign, definition)
    for name, value in checked.fields.items():
        setattr(campaign, name, value)
    campaign.updated_at = now
    version, first, steps = checked.version, checked.first, checked.steps
    if not checked.changes.new_version:
        version.first_step, version.steps = first, steps
        return campaign, False
    campaign.version_id = _new_version(
        session, campaign, version.number + 1, first, steps, now=now
    ).id
    return campaign, True


@dataclass(frozen=True)
class StepChanges:
    """What saving an edited definition would do to the steps, by id: those changed in place
    (nobody reached them) and those whose change makes a new version."""

    in_place: list[str]
    new_version: list[str]


def planned_changes(session: Session, name_or_id: str, definition: Any) -> StepChanges:
    """What change_campaign would do with this definition, checked whole, nothing saved."""
    return _checked_change(session, get_campaign(session, name_or_id), definition).changes


@dataclass(frozen=True)
class _CheckedChange:
    """An edited definition checked whole: its fields, first step and steps, the version it
    edits, and what it changes there."""

    fields: dict[str, Any]
    first: str
    steps: Steps
    version: CampaignVersion
    changes: StepChanges


def _checked_change(session: Session, campaign: Campaign, definition: Any) -> _CheckedChange:
    if campaign.status == "finished":
        raise Conflict(f"campaign {campaign.name!r} has finished")
    fields = _fields(session, definition)
    first, steps = parse_steps(session, definition.get("steps"))
    version = current_version(session, campaign)
    reached = reached_steps(session, version.id)
    changed = [
        step_id
        for step_id in _in_order_ids(version.first_step, version.steps, first, steps)
        if version.steps.get(step_id) != steps.get(step_id)
        or (step_id == version.first_step) != (step_id == first)
    ]
    changes = StepChanges(
        in_place=[step_id for step_id in changed if step_id not in reached],
        new_version=[step_id for step_id in changed if step_id in reached],
    )
    return _CheckedChange(fields, first, steps, version, changes)


def _in_order_ids(old_first: str, old: Steps, first: str, steps: Steps) -> list[str]:
    """The ids of the edited steps in order, then those of the kept steps it dropped."""
    edited = [step_id for step_id, _ in _in_order(first, steps)]
    dropped = [step_id for step_id, _ in _in_order(old_first, old) if step_id not in steps]
    return edited + dropped


def get_campaign(session: Session, name_or_id: str | int) -> Campaign:
    """The campaign with this id or, when the text is not one, this name."""
    campaign_id = name_or_id if isinstance(name_or_id, int) else as_id(name_or_id)
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
    else:
        campaign = session.scalars(select(Campaign).where(Campaign.name == name_or_id)).first()
    if campaign is None:
        raise NotFound(f"no campaign is named {name_or_id!r}")
    return campaign


def current_version(session: Session, campaign: Campaign) -> CampaignVersion:
    version = session.get(CampaignVersion, campaign.version_id)
    assert version is not None  # every campaign is created with its first version
    return version


def activate(session: Session, name_or_id: str, *, now: datetime) -> Campaign:
    """Start (or resume) a campaign: the next tick enrolls people and runs its steps."""
    campaign = get_campaign(session, name_or_id)
    if campaign.status == "finished":
        raise Conflict(f"campaign {campaign.name!r} has finished")
    if campaign.archived_at is not None:
        raise Conflict(f"campaign {campaign.name!r} is archived: unarchive it to activate it")
    if campaign.stops_at is not None and campaign.stops_at <= now:
        raise Conflict(
            f"campaign {campaign.name!r} stopped on {campaign.stops_at:%Y-%m-%d %H:%M}; "
            "move its stop date to activate it"
        )
    campaign.status, campaign.updated_at = "active", now
    campaign.activated_at = campaign.activated_at or now
    return campaign


def deactivate(session: Session, name_or_id: str, *, now: datetime) -> Campaign:
    """Pause a campaign: nobody enters and no step runs until it is activated again."""
    campaign = get_campaign(session, name_or_id)
    if campaign.status == "active":
        campaign.status, campaign.updated_at = "inactive", now
    return campaign


def versions_in_use(campaign_ids: Select[tuple[int]]) -> ColumnElement[bool]:
    """Whether a version of these campaigns is still read or run: each campaign's current
    version, and any version someone is still in."""
    return or_(
        CampaignVersion.id.in_(select(Campaign.version_id).where(Campaign.id.in_(campaign_ids))),
        CampaignVersion.id.in_(
            select(Enrollment.version_id).where(
                Enrollment.campaign_id.in_(campaign_ids), Enrollment.status == "active"
            )
        ),
    )


def reached_steps(session: Session, version_id: int) -> set[str]:
    """The steps of a version that someone has reached: passed, or waiting at."""
    enrolled = select(Enrollment.id).where(Enrollment.version_id == version_id)
    passed = select(StepOutcome.step).where(StepOutcome.enrollment_id.in_(enrolled))
    waiting = select(Enrollment.step).where(
        Enrollment.version_id == version_id, Enrollment.step.is_not(None)
    )
    return set(session.scalars(union(passed, waiting)))


def campaign_json(session: Session, campaign: Campaign, *, now: datetime) -> dict[str, Any]:
    """The campaign with, per step of its current version, who waits there and what it did."""
    version = current_version(session, campaign)
    group = session.get(TargetGroup, campaign.activation_group_id)
    assert group is not None  # a foreign key
    enrolled = dict(
        session.execute(
            select(Enrollment.status, func.count())
            .where(Enrollment.campaign_id == campaign.id)
            .group_by(Enrollment.status)
        )
        .tuples()
        .all()
    )
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "activation": {"group": group.name, "mode": campaign.activation_mode},
        "starts_at": _iso(campaign.starts_at),
        "stops_at": _iso(campaign.stops_at),
        "activated_at": _iso(campaign.activated_at),
        "archived_at": _iso(campaign.archived_at),
        "version": version.number,
        "enrolled": sum(enrolled.values()),
        "in_progress": enrolled.get("active", 0),
        "completed": enrolled.get("done", 0),
        "steps": _step_views(session, version, now=now),
    }


def campaign_definition(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The campaign as a user writes it (what create_campaign and change_campaign take), its
    steps those of its current version."""
    version = current_version(session, campaign)
    group = session.get(TargetGroup, campaign.activation_group_id)
    assert group is not None  # a foreign key
    written: dict[str, Any] = {
        "name": campaign.name,
        "activation": {"group": group.name, "mode": campaign.activation_mode},
    }
    for key, value in (("starts_at", campaign.starts_at), ("stops_at", campaign.stops_at)):
        if value is not None:
            written[key] = _iso(value)
    names = _names(session, version.steps)
    written["steps"] = _written_steps(version.first_step, version.steps, names)
    return written


def _written_steps(
    first: str | None, steps: Steps, names: dict[tuple[str, int], str]
) -> list[dict[str, Any]]:
    """Kept steps as a user writes them (parse_steps undone), from `first` on: ids kept, and
    groups and mailings by their names."""
    listed = []
    step_id = first
    while step_id is not None:
        step = steps[step_id]
        listed.append({"id": step_id, **_written(step, steps, names)})
        step_id = step.get("next")
    return listed


def _written(
    step: dict[str, Any], steps: Steps, names: dict[tuple[str, int], str]
) -> dict[str, Any]:
    """One kept step as written, without its id (a Decide with its branches)."""
    kind = step["kind"]
    if kind == "mailing":
        return {"mailing": names[("mailing", step["mailing_id"])]}
    if kind == "wait" and "duration" in step:
        return {"wait": dict(step["duration"])}
    if kind == "wait":
        until = dict(step["until"])
        if "weekday" in until:
            until["weekday"] = WEEKDAYS[until["weekday"]]
        until["at"] = until["at"][:5] if until["at"].endswith(":00") else until["at"]
        return {"wait": {"until": until}}
    if kind == "decide":
        ((asked, value),) = ((k, step[k]) for k in ("member_of", "opened", "clicked") if k in step)
        kind_of = "group" if asked == "member_of" else "mailing"
        named = value if value == "any" else names[(kind_of, value)]
        return {
            "decide": {asked: named},
            "yes": _written_steps(step["yes"], steps, names),
            "no": _written_steps(step["no"], steps, names),
        }
    if kind == "notify":
        return {"notify": step["notify"], "subject": step["subject"]}
    if kind == "profile":
        ((action, group_id),) = ((k, step[k]) for k in ("add_to", "remove_from") if k in step)
        return {"profile": {action: names[("group", group_id)]}}
    return {"end": True}


def _step_views(
    session: Session, version: CampaignVersion, *, now: datetime
) -> list[dict[str, Any]]:
    in_version = select(Enrollment.id).where(Enrollment.version_id == version.id)
    outcomes: dict[str, dict[str, int]] = {}
    for step, outcome, count in session.execute(
        select(StepOutcome.step, StepOutcome.outcome, func.count())
        .where(StepOutcome.enrollment_id.in_(in_version))
        .group_by(StepOutcome.step, StepOutcome.outcome)
    ).tuples():
        outcomes.setdefault(step, {})[outcome] = count
    waiting = dict(
        session.execute(
            select(Enrollment.step, func.count())
            .where(
                Enrollment.version_id == version.id,
                Enrollment.status == "active",
                Enrollment.step.is_not(None),
            )
            .group_by(Enrollment.step)
        )
        .tuples()
        .all()
    )
    names = _names(session, version.steps)
    return [
        {
            "id": step_id,
            "kind": step["kind"],
            "describe": describe(step, names),
            "waiting": waiting.get(step_id, 0),
            "done": sum(outcomes.get(step_id, {}).values()),
            "outcomes": outcomes.get(step_id, {}),
            **{key: step[key] for key in ("next", "yes", "no") if key in step},
        }
        for step_id, step in _in_order(version.first_step, version.steps)
    ]


def _in_order(first: str, steps: Steps) -> list[tuple[str, dict[str, Any]]]:
    """The steps depth first from `first`: each step, then what follows it, yes before no."""
    ordered, pending = [], [first]
    while pending:
        step_id = pending.pop()
        step = steps[step_id]
        ordered.append((step_id, step))
        pending.extend(step[key] for key in ("no", "yes", "next") if step.get(key))
    return ordered


def describe(step: dict[str, Any], names: dict[tuple[str, int], str]) -> str:
    """A step in words, as `campaigns show` prints it."""
    kind = step["kind"]
    if kind == "mailing":
        return f"send mailing {names[('mailing', step['mailing_id'])]!r}"
    if kind == "wait" and "duration" in step:
        return "wait " + ", ".join(f"{n} {unit}" for unit, n in step["duration"].items())
    if kind == "wait":
        until = step["until"]
        day = (
            f"the next {WEEKDAY_NAMES[until['weekday']]}"
            if "weekday" in until
            else f"day {until['day']} of the month"
        )
        return f"wait until {day} at {until['at'][:5]}"
    if kind == "decide" and "member_of" in step:
        return f"decide: member of {names[('group', step['member_of'])]!r}?"
    if kind == "decide":
        ((asked, value),) = ((k, step[k]) for k in ("opened", "clicked") if k in step)
        what = (
            "any of this campaign's mailings"
            if value == "any"
            else (f"mailing {names[('mailing', value)]!r}")
        )
        return f"decide: {asked} {what}?"
    if kind == "notify":
        return f"notify {step['notify']}"
    if kind == "profile":
        ((action, group_id),) = ((k, step[k]) for k in ("add_to", "remove_from") if k in step)
        return f"{action.replace('_', ' ')} {names[('group', group_id)]!r}"
    return "end"


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _names(session: Session, steps: Steps) -> dict[tuple[str, int], str]:
    groups = {s[k] for s in steps.values() for k in GROUP_KEYS if k in s}
    mailings = {s["mailing_id"] for s in steps.values() if "mailing_id" in s} | {
        s[k] for s in steps.values() for k in ("opened", "clicked") if isinstance(s.get(k), int)
    }
    names: dict[tuple[str, int], str] = {}
    for id_, name in session.execute(
        select(TargetGroup.id, TargetGroup.name).where(TargetGroup.id.in_(groups))
    ):
        names[("group", id_)] = name
    for id_, name in session.execute(
        select(Mailing.id, Mailing.name).where(Mailing.id.in_(mailings))
    ):
        names[("mailing", id_)] = name
    return names


class InvalidSetting(InvalidInput):
    """A campaign's setting that does not work, by its key in the definition (name,
    activation, starts_at, stops_at), so the designer shows why next to its field."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(reason)
        self.setting = setting


def _fields(session: Session, definition: Any) -> dict[str, Any]:
    if not isinstance(definition, dict):
        raise InvalidInput("a campaign is a JSON object with name, activation and steps")
    unknown = sorted(set(definition) - {"name", "activation", "starts_at", "stops_at", "steps"})
    if unknown:
        raise InvalidInput(f"a campaign has no field {unknown[0]!r}")
    name = str(definition.get("name") or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidSetting("name", f"a campaign name has 1 to {NAME_LENGTH} characters")
    activation = definition.get("activation")
    if not isinstance(activation, dict) or set(activation) - {"group", "mode"}:
        raise InvalidSetting(
            "activation", 'activation is {"group": NAME, "mode": "at_once|over_time|both"}'
        )
    mode = activation.get("mode", "both")
    if mode not in ACTIVATION_MODES:
        raise InvalidSetting(
            "activation",
            f"the activation mode is one of {', '.join(ACTIVATION_MODES)}, not {mode!r}",
        )
    if not str(activation.get("group") or "").strip():
        raise InvalidSetting("activation", "pick the group that activates the campaign")
    try:
        group = get_group(session, str(activation["group"]))
    except NotFound as error:
        raise InvalidSetting("activation", f"activation: {error}") from None
    starts_at, stops_at = _instant(definition, "starts_at"), _instant(definition, "stops_at")
    if starts_at and stops_at and stops_at <= starts_at:
        raise InvalidSetting("stops_at", "the stop date must come after the start date")
    return {
        "name": name,
        "activation_group_id": group.id,
        "activation_mode": mode,
        "starts_at": starts_at,
        "stops_at": stops_at,
    }


def _instant(definition: dict[str, Any], key: str) -> datetime | None:
    value = definition.get(key)
    if value is None:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        raise InvalidSetting(key, f"{key} is an ISO date and time, not {value!r}") from None


def _new_version(
    session: Session, campaign: Campaign, number: int, first: str, steps: Steps, *, now: datetime
) -> CampaignVersion:
    version = CampaignVersion(
        campaign_id=campaign.id, number=number, first_step=first, steps=steps, created_at=now
    )
    session.add(version)
    session.flush()
    return version


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
