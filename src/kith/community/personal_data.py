"""A member's personal data: everything the community keeps about one person, exported as one
document at their request, or deleted for good (GDPR articles 15 and 17).

Deleting a member removes their record, login, memberships, activity, the lists' hold on them
and every change the lists logged about them, and takes their contact key out of what they
authored as a Super Admin. The lists' change logs then no longer tell a reader that they left,
so each list they were on marks its log as pruned up to now: a connection reading on from an
older cursor is told to read the list in full (410), and that full read, which no longer holds
them, removes them from the target group, as for anyone who leaves a list. What remains is an
`erasures` row: who deleted, when, and how many rows of each table — nothing of the person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kith.community.accounts import Account, SignInFailure
from kith.community.members import require_super_admin
from kith.community.models import (
    ActivityEvent,
    ActivityType,
    ApiCredential,
    AutomationRule,
    Community,
    CustomUserList,
    Erasure,
    ListChange,
    ListMember,
    Member,
    MemberChange,
    Membership,
)
from kith.db import affected
from kith.erasures import ERASED, json_value, row_json
from kith.errors import InvalidInput, NotFound

# What a member's own login keeps that is nobody's business, not even theirs: left out.
_ACCOUNT_SECRETS = ("password_hash", "session_version")
# Where a Super Admin is named as author, by contact key
_AUTHORED = (
    (CustomUserList, ("created_by", "updated_by")),
    (AutomationRule, ("created_by", "updated_by")),
    (ApiCredential, ("created_by",)),
)


def find_member_by_key(session: Session, contact_key: str) -> Member:
    member = session.scalar(select(Member).where(Member.contact_key == contact_key.strip()))
    if member is None:
        raise NotFound(f"no member has the contact key {contact_key.strip()!r}")
    return member


def export_member(session: Session, contact_key: str) -> dict[str, Any]:
    """Every record of the member with this contact key, one named section per kind."""
    member = find_member_by_key(session, contact_key)
    account = session.scalar(select(Account).where(Account.member_id == member.id))
    return {
        "side": "community",
        "member": row_json(member),
        "account": None if account is None else row_json(account, leave_out=_ACCOUNT_SECRETS),
        "memberships": _memberships(session, member),
        "activity": _activity(session, member),
        "lists": _lists(session, member),
        "list_changes": _list_changes(session, member),
        "authored": _authored(session, member),
    }


def delete_member(session: Session, contact_key: str, *, by: str, now: datetime) -> Erasure:
    """Delete the member for good; `by` is the Super Admin who does it (not the member)."""
    admin = require_super_admin(session, by, "delete members")
    member = find_member_by_key(session, contact_key)
    if member.id == admin.id:
        raise InvalidInput(
            f"{contact_key.strip()!r} is the Super Admin deleting: another Super Admin must"
        )
    counts = {"list_members": 0, "list_changes": 0}
    _forget_in_lists(session, member, counts, now=now)
    counts["memberships"] = _delete(session, Membership, Membership.member_id == member.id)
    counts["activity_events"] = _delete(
        session, ActivityEvent, ActivityEvent.member_id == member.id
    )
    account = session.scalar(select(Account).where(Account.member_id == member.id))
    if account is not None:
        counts["sign_in_failures"] = _delete(
            session, SignInFailure, SignInFailure.subject == account.email_key
        )
        counts["accounts"] = _delete(session, Account, Account.id == account.id)
    counts["authored"] = _unname_author(session, member.contact_key)
    session.expunge(member)
    counts["members"] = _delete(session, Member, Member.id == member.id)
    # the delete's triggers noted the member for the next pass, which has nothing left to do
    _delete(session, MemberChange, MemberChange.member_id == member.id)
    erasure = Erasure(side="community", erased_by=admin.contact_key, erased_at=now, counts=counts)
    session.add(erasure)
    session.flush()
    return erasure


def _memberships(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Community.name, Membership.role, Membership.joined_at)
        .join(Community, Community.id == Membership.community_id)
        .where(Membership.member_id == member.id)
        .order_by(Community.name)
    )
    return [
        {"community": name, "role": role, "joined_at": json_value(joined)}
        for name, role, joined in rows
    ]


def _activity(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ActivityEvent, ActivityType.name, Community.name)
        .join(ActivityType, ActivityType.id == ActivityEvent.type_id)
        .outerjoin(Community, Community.id == ActivityEvent.community_id)
        .where(ActivityEvent.member_id == member.id)
        .order_by(ActivityEvent.occurred_at, ActivityEvent.id)
    )
    return [
        {
            "event_id": event.event_id,
            "type": type_name,
            "occurred_at": json_value(event.occurred_at),
            "community": community,
        }
        for event, type_name, community in rows
    ]


def _lists(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(CustomUserList.list_key, CustomUserList.name, ListMember)
        .join(ListMember, ListMember.list_id == CustomUserList.id)
        .where(ListMember.member_id == member.id)
        .order_by(CustomUserList.name)
    )
    return [
        {"list_key": key, "name": name, **row_json(held, leave_out=("list_id", "member_id"))}
        for key, name, held in rows
    ]


def _list_changes(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(CustomUserList.list_key, ListChange)
        .join(ListChange, ListChange.list_id == CustomUserList.id)
        .where(ListChange.member_id == member.id)
        .order_by(ListChange.seq)
    )
    return [
        {"list_key": key, **row_json(change, leave_out=("list_id", "member_id"))}
        for key, change in rows
    ]


def _authored(session: Session, member: Member) -> list[dict[str, Any]]:
    """What the member created or last changed as a Super Admin: lists, rules, credentials."""
    found = []
    for model, columns in _AUTHORED:
        for column in columns:
            names = session.scalars(
                select(model.name)
                .where(getattr(model, column) == member.contact_key)
                .order_by(model.name)
            )
            found += [{"table": model.__tablename__, "name": name, "as": column} for name in names]
    return found


def _forget_in_lists(
    session: Session, member: Member, counts: dict[str, int], *, now: datetime
) -> None:
    """Take the member out of every list and its change log; each list they were in marks
    its log pruned up to now, so readers of its changes read it in full (see the module)."""
    touched = set(
        session.scalars(select(ListMember.list_id).where(ListMember.member_id == member.id))
    )
    touched |= set(
        session.scalars(
            select(ListChange.list_id).where(ListChange.member_id == member.id).distinct()
        )
    )
    if not touched:
        return
    counts["list_members"] = _delete(session, ListMember, ListMember.member_id == member.id)
    counts["list_changes"] = _delete(session, ListChange, ListChange.member_id == member.id)
    # A change naming nobody, which no reader is ever given, keeps the log's seq rising past
    # every cursor handed out so far (SQLite would reuse the seq of a deleted last change).
    marker = ListChange(list_id=min(touched), member_id=0, change="removed", changed_at=now)
    session.add(marker)
    session.flush()
    session.execute(
        update(CustomUserList)
        .where(CustomUserList.id.in_(touched))
        .values(changes_pruned_through=marker.seq)
    )


def _unname_author(session: Session, contact_key: str) -> int:
    changed = 0
    for model, columns in _AUTHORED:
        for column in columns:
            changed += affected(
                session.execute(
                    update(model)
                    .where(getattr(model, column) == contact_key)
                    .values({column: ERASED})
                )
            )
    return changed


def _delete(session: Session, model: Any, condition: Any) -> int:
    return affected(session.execute(delete(model).where(condition)))
