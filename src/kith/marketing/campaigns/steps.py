"""A campaign's steps as a user writes them (a list, Decides branching into lists) and as they
are kept: a flat map of step id -> step, each naming the step after it.

Steps (one key names the kind):
    {"mailing": "Welcome"}                                  send this mailing to the person
    {"wait": {"days": 3}}                                   days / hours / minutes
    {"wait": {"until": {"weekday": "monday", "at": "09:00"}}}   or {"day": 1, "at": "09:00"}
    {"decide": {"member_of": "Posted"}, "yes": [...], "no": [...]}
    {"decide": {"opened": "any"}, ...}                      or {"clicked": "Welcome"}
    {"notify": "admin@example.org", "subject": "..."}       e-mail an admin
    {"profile": {"add_to": "Welcomed"}}                     or {"remove_from": ...}: a static group
    {"end": true}
Any step may carry an "id"; without one it is named by its place ("3", "3.yes.1"). Ids are what
tell, when an active campaign is edited, which steps people have reached.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.emails import InvalidEmail, normalize_email
from kith.errors import InvalidInput, NotFound
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import Mailing, TargetGroup

KINDS = ("mailing", "wait", "decide", "notify", "profile", "end")
# The keys of a kept step that hold a target group's id.
GROUP_KEYS = ("member_of", "add_to", "remove_from")
WEEKDAYS = tuple(day.lower() for day in calendar.day_name)
DURATION_UNITS = ("days", "hours", "minutes")
ENGAGEMENTS = ("opened", "clicked")
MAILING_KEYS = ("mailing_id", *ENGAGEMENTS)
ID_LENGTH = 100

Steps = dict[str, dict[str, Any]]


class InvalidStep(InvalidInput):
    """A step that does not work, named by its id, and the field at fault when it is not the
    one naming the step's kind (so the designer shows why next to that field)."""

    def __init__(self, step_id: str, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"step {step_id}: {reason}")
        self.step_id = step_id
        self.field = field


def parse_steps(session: Session, written: Any) -> tuple[str, Steps]:
    """Check a campaign's steps and resolve the names in them; (first step id, steps).

    Every error names the step at fault by its id.
    """
    if not isinstance(written, list) or not written:
        raise InvalidInput("a campaign needs steps: a list with at least one step")
    steps: Steps = {}
    first = _sequence(session, written, prefix="", steps=steps, after=None)
    assert first is not None  # the list is not empty
    return first, steps


def _sequence(
    session: Session, written: Sequence[Any], *, prefix: str, steps: Steps, after: str | None
) -> str | None:
    """Parse one list of steps into `steps`; the id of its first step. `after` is the kind of
    the step just before the list (a Decide must come right after a Wait)."""
    ids: list[str] = []
    previous_kind = after
    for position, raw in enumerate(written, start=1):
        step_id = _step_id(raw, f"{prefix}{position}")
        if step_id in steps or step_id in ids:
            raise InvalidStep(step_id, "two steps have this id", field="id")
        if previous_kind in ("decide", "end"):
            raise InvalidStep(
                step_id,
                f"nothing can follow a{'n' if previous_kind == 'end' else ''} "
                f"{previous_kind.title()} in the same list (a Decide branches into yes and no)",
            )
        kind = _kind(raw, step_id)
        if kind == "decide" and previous_kind != "wait":
            raise InvalidStep(step_id, "a Decide must come right after a Wait")
        step = _PARSERS[kind](session, raw, step_id)
        step["kind"] = kind
        steps[step_id] = step
        if kind == "decide":
            for branch in ("yes", "no"):
                step[branch] = _sequence(
                    session,
                    _branch(raw, branch, step_id),
                    prefix=f"{step_id}.{branch}.",
                    steps=steps,
                    after=None,
                )
        ids.append(step_id)
        previous_kind = kind
    followers = [*ids[1:], None] if ids else []  # an empty branch: the person is done
    for step_id, following in zip(ids, followers, strict=True):
        if steps[step_id]["kind"] not in ("decide", "end"):
            steps[step_id]["next"] = following
    return ids[0] if ids else None


def _step_id(raw: Any, place: str) -> str:
    if not isinstance(raw, dict):
        raise InvalidStep(place, 'a step is an object such as {"wait": {"days": 3}}')
    given = raw.get("id", place)
    if not isinstance(given, str) or not given.strip() or len(given) > ID_LENGTH:
        raise InvalidStep(place, f"an id is a text of 1 to {ID_LENGTH} characters", field="id")
    return given.strip()


def _kind(raw: dict[str, Any], step_id: str) -> str:
    kinds = [key for key in raw if key in KINDS]
    if len(kinds) != 1:
        raise InvalidStep(
            step_id,
            f"a step has exactly one of {', '.join(KINDS)}; "
            f"this one has {', '.join(kinds) or 'none'}",
        )
    return kinds[0]


def _branch(raw: dict[str, Any], branch: str, step_id: str) -> list[Any]:
    steps = raw.get(branch, [])
    if not isinstance(steps, list):
        raise InvalidStep(step_id, f"{branch} is a list of steps")
    return steps


def _allowed(raw: dict[str, Any], step_id: str, *keys: str) -> None:
    unknown = sorted(set(raw) - {"id", *keys})
    if unknown:
        raise InvalidStep(step_id, f"unknown field {unknown[0]!r}")


def _mailing(session: Session, raw: dict[str, Any], step_id: str) -> dict[str, Any]:
    _allowed(raw, step_id, "mailing")
    return {"mailing_id": find_mailing(session, raw["mailing"], step_id).id}


def _wait(session: Session, raw: dict[str, Any], step_id: str) -> dict[str, Any]:
    _allowed(raw, step_id, "wait")
    wait = raw["wait"]
    if not isinstance(wait, dict) or not wait:
        raise InvalidStep(step_id, 'a Wait is {"days": N} or {"until": ...}')
    if "until" in wait:
        return {"until": _until(wait, step_id)}
    unknown = sorted(set(wait) - set(DURATION_UNITS))
    if unknown:
        raise InvalidStep(step_id, f"a Wait counts {', '.join(DURATION_UNITS)}, not {unknown[0]!r}")
    for unit, amount in wait.items():
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise InvalidStep(step_id, f"{unit} must be a whole number of 0 or more")
    return {"duration": {unit: wait[unit] for unit in DURATION_UNITS if unit in wait}}


def _until(wait: dict[str, Any], step_id: str) -> dict[str, Any]:
    until = wait["until"]
    if set(wait) != {"until"} or not isinstance(until, dict):
        raise InvalidStep(step_id, 'a Wait until is {"until": {"weekday": ...}}')
    at = until.get("at", "00:00")
    try:
        clock = time.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        clock = None
    if clock is None:
        raise InvalidStep(step_id, f"'at' is a time of day such as \"09:00\", not {at!r}")
    keys = set(until) - {"at"}
    if keys == {"weekday"} and str(until["weekday"]).lower() in WEEKDAYS:
        return {"weekday": WEEKDAYS.index(str(until["weekday"]).lower()), "at": clock.isoformat()}
    day = until.get("day")
    if keys == {"day"} and isinstance(day, int) and 1 <= day <= 31:
        return {"day": day, "at": clock.isoformat()}
    raise InvalidStep(
        step_id,
        "a Wait until names a weekday (monday ... sunday) or a day of the "
        "month (1 to 31), and 'at'",
    )


def _decide(session: Session, raw: dict[str, Any], step_id: str) -> dict[str, Any]:
    _allowed(raw, step_id, "decide", "yes", "no")
    question = raw["decide"]
    if not isinstance(question, dict) or len(question) != 1:
        raise InvalidStep(step_id, "a Decide asks one thing: member_of a group, opened or clicked")
    ((asked, value),) = question.items()
    if asked == "member_of":
        return {"member_of": find_group(session, value, step_id).id}
    if asked in ENGAGEMENTS:
        if value == "any":
            return {asked: "any"}
        return {asked: find_mailing(session, value, step_id).id}
    raise InvalidStep(step_id, f"a Decide cannot ask {asked!r}")


def _notify(session: Session, raw: dict[str, Any], step_id: str) -> dict[str, Any]:
    _allowed(raw, step_id, "notify", "subject")
    try:
        address = normalize_email(str(raw["notify"]))
    except InvalidEmail as error:
        raise InvalidStep(step_id, f"notify: {error}") from None
    subject = raw.get("subject", "Campaign step reached")
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidStep(step_id, "subject is a text", field="subject")
    return {"notify": address, "subject": subject.strip()}


def _profile(session: Session, raw: dict[str, Any], step_id: str) -> dict[str, Any]:
    _allowed(raw, step_id, "profile")
    change = raw["profile"]
    if (
        not isinstance(change, dict)
        or len(change) != 1
        or not set(change) < {"add_to", "remove_from"}
    ):
        raise InvalidStep(step_id, 'a Profile step is {"add_to": GROUP} or {"remove_from": GROUP}')
    ((action, name),) = change.items()
    group = find_group(session, name, step_id)
    if group.kind != "static":
        raise InvalidStep(
            step_id, f"{group.name!r} is a {group.kind} group; a Profile step changes static groups"
        )
    return {action: group.id}


def _end(session: Session, raw: dict[str, Any], step_id: str) -> dict[str, Any]:
    _allowed(raw, step_id, "end")
    return {}


_PARSERS: Mapping[str, Callable[[Session, dict[str, Any], str], dict[str, Any]]] = {
    "mailing": _mailing,
    "wait": _wait,
    "decide": _decide,
    "notify": _notify,
    "profile": _profile,
    "end": _end,
}


def find_group(session: Session, name: Any, step_id: str) -> TargetGroup:
    try:
        return get_group(session, str(name))
    except NotFound as error:
        raise InvalidStep(step_id, str(error)) from None


def find_mailing(session: Session, name_or_id: Any, step_id: str) -> Mailing:
    """A mailing by id or by name (the newest of that name)."""
    if isinstance(name_or_id, int):
        mailing = session.get(Mailing, name_or_id)
    else:
        mailing = session.scalars(
            select(Mailing).where(Mailing.name == str(name_or_id)).order_by(Mailing.id.desc())
        ).first()
    if mailing is None:
        raise InvalidStep(step_id, f"no mailing is named {name_or_id!r}")
    return mailing


def wait_end(step: dict[str, Any], reached: datetime) -> datetime:
    """When a Wait reached at `reached` is over."""
    if "duration" in step:
        return reached + timedelta(**step["duration"])
    until = step["until"]
    at = time.fromisoformat(until["at"])
    if "weekday" in until:
        candidate = datetime.combine(reached.date(), at, tzinfo=reached.tzinfo)
        candidate += timedelta(days=(until["weekday"] - reached.weekday()) % 7)
        return candidate if candidate > reached else candidate + timedelta(days=7)
    year, month = reached.year, reached.month
    while True:  # the next month (this one first) that has that day, at that time
        last = calendar.monthrange(year, month)[1]
        if until["day"] <= last:
            candidate = datetime(
                year, month, until["day"], at.hour, at.minute, tzinfo=reached.tzinfo
            )
            if candidate > reached:
                return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def step_groups(steps: Steps) -> list[int]:
    """The target groups the steps' Decides ask about."""
    return [step["member_of"] for step in steps.values() if "member_of" in step]


def steps_naming_group(steps: Steps, group_id: int) -> list[str]:
    """The ids of the steps that name the group: a Decide asking about it, a Profile step
    adding to it or removing from it."""
    return [
        step_id
        for step_id, step in steps.items()
        if any(step.get(key) == group_id for key in GROUP_KEYS)
    ]


def steps_naming_mailing(steps: Steps, mailing_id: int) -> list[str]:
    """The ids of the steps that name the mailing: sending it, or a Decide asking whether it
    was opened or clicked."""
    return [
        step_id
        for step_id, step in steps.items()
        if any(step.get(key) == mailing_id for key in MAILING_KEYS)
    ]


def step_mailings(steps: Steps) -> list[int]:
    return [step["mailing_id"] for step in steps.values() if "mailing_id" in step]
