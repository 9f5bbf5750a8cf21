"""Automation Rules: List Builder criteria with an action, such as an email sent to who matches.

A rule is saved criteria like a Custom User List, validated the same way and evaluated whenever
the rule is read, whether or not it is active; its own are the action, the subject and the
active flag. Marketing reads the active `send_email` rules (through the community API) to warn
before a mailing reaches members a rule is already emailing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from kith.community import saved_criteria
from kith.community.models import AutomationRule
from kith.community.saved_criteria import SavedKind
from kith.errors import InvalidInput

RULES = SavedKind(
    model=AutomationRule,
    key=AutomationRule.rule_key,
    key_prefix="rule_",
    title="Automation Rule",
    what="Automation Rule",
    changes="create, change or delete Automation Rules",
)
MAX_SUBJECT_LENGTH = 500

# The closed set of actions; only send_email takes a subject.
ACTIONS = {
    "send_email": "email the matched members; needs a subject",
    "award_badge": "award the matched members a badge",
    "notify_admin": "tell the community's admins who matched",
}
SEND_EMAIL = "send_email"


@dataclass(frozen=True)
class RuleSummary:
    rule: AutomationRule
    member_count: int | None  # None when not counted
    error: str | None = None  # why the rule could not be counted, when it could not

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
            "error": self.error,
            "created_by": rule.created_by,
            "created_at": rule.created_at,
            "updated_by": rule.updated_by,
            "updated_at": rule.updated_at,
        }


def get_rule(session: Session, key_or_name: str) -> AutomationRule:
    """A rule by its key, or else by its exact name (names are unique ignoring case)."""
    return saved_criteria.find(session, RULES, key_or_name)


def all_rules(
    session: Session, *, active: bool | None = None, action: str | None = None
) -> Sequence[AutomationRule]:
    """Every rule by name; only the active (or inactive) ones, or one action's, when asked."""
    conditions: list[ColumnElement[bool]] = []
    if active is not None:
        conditions.append(AutomationRule.active == active)
    if action is not None:
        conditions.append(AutomationRule.action == _checked_action(action))
    return saved_criteria.all_saved(session, RULES, *conditions)


def rule_summary(session: Session, rule: AutomationRule, *, now: datetime) -> RuleSummary:
    """The rule with the number of members it matches at `now`."""
    return RuleSummary(rule, saved_criteria.count_members(session, rule.criteria, now=now))


def rule_summaries(
    session: Session,
    *,
    now: datetime,
    active: bool | None = None,
    action: str | None = None,
    counts: bool = True,
) -> list[RuleSummary]:
    """The rules (see all_rules), each with the number of members it matches at `now`."""
    found = all_rules(session, active=active, action=action)
    return [
        RuleSummary(rule, count, error)
        for rule, count, error in saved_criteria.with_counts(session, found, now=now, counts=counts)
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
    def own(created: AutomationRule) -> None:
        created.action = _checked_action(action)
        created.subject = _checked_subject(created.action, subject)
        created.active = active

    return saved_criteria.create(
        session, RULES, name=name, criteria=criteria, by=by, now=now, own=own
    )


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

    def own(found: AutomationRule) -> None:
        new_action = found.action if action is None else _checked_action(action)
        kept = found.subject if subject is None and new_action == SEND_EMAIL else subject
        found.subject = _checked_subject(new_action, kept)
        found.action = new_action
        if active is not None:
            found.active = active

    return saved_criteria.update(
        session, RULES, key_or_name, by=by, now=now, name=name, criteria=criteria, own=own
    )


def delete_rule(session: Session, key_or_name: str, *, by: str) -> AutomationRule:
    return saved_criteria.delete(session, RULES, key_or_name, by=by)


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
