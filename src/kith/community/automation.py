"""Automation Rules: List Builder criteria with an action, such as an email sent to who matches.

A rule's criteria are validated exactly as a Custom User List's and evaluated whenever the rule
is read, whether or not it is active. Marketing reads the active `send_email` rules (through the
community API) to warn before a mailing reaches members a rule is already emailing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kith.community.lists import member_ids_query
from kith.community.members import require_super_admin
from kith.community.models import AutomationRule, Member
from kith.community.naming import unique_name
from kith.errors import InvalidInput, NotFound

RULE_ACTION = "create, change or delete Automation Rules"
MAX_SUBJECT_LENGTH = 500

# The closed set of actions; only send_email takes a subject.
ACTIONS = {
    "send_email": "email the matched members; needs a subject",
    "award_badge": "award the matched members a badge",
    "notify_admin": "tell the community's admins who matched",
}
SEND_EMAIL = "send_email"


@dataclass(frozen=True)
class MatchedMember:
    """A member a rule matches, with the keys a reader needs to find them elsewhere."""

    id: int
    contact_key: str
    legacy_contact_key: str | None
    email: str | None
    first_name: str | None
    last_name: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "contact_key": self.contact_key,
            "legacy_contact_key": self.legacy_contact_key,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
        }


@dataclass(frozen=True)
class RuleSummary:
    rule: AutomationRule
    member_count: int | None  # None when not counted

    def as_json(self) -> dict[str, Any]:
        """As the API and `rules list --json` show it."""
        rule = self.rule
        return {
            "key": rule.rule_key,
            "name": rule.name,
            "action": rule.action,
            "subject": rule.subject,
            "active": rule.active,
            "criteria": rule.criteria,
            "member_count": self.member_count,
            "created_by": rule.created_by,
            "created_at": rule.created_at,
            "updated_by": rule.updated_by,
            "updated_at": rule.updated_at,
        }


def get_rule(session: Session, key_or_name: str) -> AutomationRule:
    """A rule by its key, or else by its exact name (names are unique ignoring case)."""
    found = session.scalar(select(AutomationRule).where(AutomationRule.rule_key == key_or_name))
    found = found or session.scalar(
        select(AutomationRule).where(func.lower(AutomationRule.name) == key_or_name.lower())
    )
    if found is None:
        raise NotFound(f"no Automation Rule has the key or name {key_or_name!r}")
    return found


def all_rules(
    session: Session, *, active: bool | None = None, action: str | None = None
) -> Sequence[AutomationRule]:
    """Every rule by name; only the active (or inactive) ones, or one action's, when asked."""
    query = select(AutomationRule).order_by(AutomationRule.name)
    if active is not None:
        query = query.where(AutomationRule.active == active)
    if action is not None:
        query = query.where(AutomationRule.action == _checked_action(action))
    return session.scalars(query).all()


def rule_summary(session: Session, rule: AutomationRule, *, now: datetime) -> RuleSummary:
    """The rule with the number of members it matches at `now`."""
    return RuleSummary(rule, count_rule_members(session, rule, now=now))


def rule_summaries(
    session: Session,
    *,
    now: datetime,
    active: bool | None = None,
    action: str | None = None,
    counts: bool = True,
) -> list[RuleSummary]:
    """The rules (see all_rules), each with the number of members it matches at `now`."""
    return [
        RuleSummary(rule, count_rule_members(session, rule, now=now) if counts else None)
        for rule in all_rules(session, active=active, action=action)
    ]


def create_rule(
    session: Session,
    *,
    name: str,
    criteria: Any,
    action: str,
    subject: str | None = None,
    active: bool = True,
    by: str,
    now: datetime,
) -> AutomationRule:
    author = require_super_admin(session, by, RULE_ACTION)
    name = _checked_name(session, name)
    action = _checked_action(action)
    subject = _checked_subject(action, subject)
    member_ids_query(session, criteria, now=now)  # validates; raises InvalidCriteria
    created = AutomationRule(
        rule_key=f"rule_{secrets.token_hex(6)}",
        name=name,
        criteria=criteria,
        action=action,
        subject=subject,
        active=active,
        created_by=author.contact_key,
        created_at=now,
        updated_by=author.contact_key,
        updated_at=now,
    )
    session.add(created)
    session.flush()
    return created


def update_rule(
    session: Session,
    key_or_name: str,
    *,
    by: str,
    now: datetime,
    name: str | None = None,
    criteria: Any = None,
    action: str | None = None,
    subject: str | None = None,
    active: bool | None = None,
) -> AutomationRule:
    """Change what is given; None keeps a value. A rule moved off send_email drops its subject;
    one moved onto it needs a subject, given now or kept from before."""
    author = require_super_admin(session, by, RULE_ACTION)
    found = get_rule(session, key_or_name)
    if name is not None and name.strip() != found.name:
        found.name = _checked_name(session, name, renaming=found)
    new_action = found.action if action is None else _checked_action(action)
    if subject is None and new_action == SEND_EMAIL:
        subject = found.subject
    found.subject = _checked_subject(new_action, subject)
    found.action = new_action
    if criteria is not None:
        member_ids_query(session, criteria, now=now)
        found.criteria = criteria
    if active is not None:
        found.active = active
    found.updated_by = author.contact_key
    found.updated_at = now
    session.flush()
    return found


def delete_rule(session: Session, key_or_name: str, *, by: str) -> AutomationRule:
    require_super_admin(session, by, RULE_ACTION)
    found = get_rule(session, key_or_name)
    session.delete(found)
    session.flush()
    return found


def rule_member_ids_query(
    session: Session, rule: AutomationRule, now: datetime
) -> Select[tuple[int]]:
    """The ids of the members the rule matches at `now`, as one query, in id order."""
    return member_ids_query(session, rule.criteria, now=now)


def count_rule_members(session: Session, rule: AutomationRule, *, now: datetime) -> int:
    ids = rule_member_ids_query(session, rule, now).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def matched_member_chunks(
    session: Session,
    rule: AutomationRule,
    *,
    now: datetime,
    after_id: int | None = None,
    chunk: int = 10_000,
) -> Iterator[list[MatchedMember]]:
    """The members the rule matches at `now`, in id order, `chunk` at a time (from one query).

    Rows stream from the database (a server-side cursor on PostgreSQL) as plain values, so
    memory holds one chunk however many match. `after_id` resumes after a member already read.
    """
    ids = rule_member_ids_query(session, rule, now)
    query = select(
        Member.id,
        Member.contact_key,
        Member.legacy_contact_key,
        Member.email,
        Member.first_name,
        Member.last_name,
    ).where(Member.id.in_(ids))
    if after_id is not None:
        query = query.where(Member.id > after_id)
    result = session.execute(query.order_by(Member.id).execution_options(yield_per=chunk))
    for partition in result.tuples().partitions():
        yield [MatchedMember(*row) for row in partition]


def iter_matched_members(
    session: Session, rule: AutomationRule, *, now: datetime, chunk: int = 10_000
) -> Iterator[MatchedMember]:
    """Every member the rule matches at `now`, in id order (see matched_member_chunks)."""
    for members in matched_member_chunks(session, rule, now=now, chunk=chunk):
        yield from members


def _checked_action(action: str) -> str:
    action = action.strip()
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise InvalidInput(f"unknown action {action!r}; the actions are {known}")
    return action


def _checked_subject(action: str, subject: str | None) -> str | None:
    """send_email's subject, trimmed; no other action takes one."""
    if action != SEND_EMAIL:
        if subject is not None and subject.strip():
            raise InvalidInput(f"only {SEND_EMAIL} rules have a subject; {action} takes none")
        return None
    subject = (subject or "").strip()
    if not subject:
        raise InvalidInput(f"a {SEND_EMAIL} rule needs a subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidInput(f"a subject has at most {MAX_SUBJECT_LENGTH} characters")
    if "\r" in subject or "\n" in subject:
        raise InvalidInput("a subject is one line; it may not contain a line break")
    return subject


def _checked_name(session: Session, name: str, renaming: AutomationRule | None = None) -> str:
    return unique_name(
        session, AutomationRule, name, what="Automation Rule", key="rule_key", renaming=renaming
    )
