"""Why isn't my list here, and why do the counts differ? Answered for one list or group.

The seed's troubleshooting questions, answered from what Kith knows: the list's name against
the prefix rule, whether a refresh has seen it, whether the connection is Active, whether the
source was removed, and the last sync's outcomes reason by reason, with example members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.connection.client import ConnectionFailed, client_for
from kith.encryption import SecretBox
from kith.errors import NotFound
from kith.list_names import judge_list_name
from kith.marketing.groups.community import community_groups
from kith.marketing.groups.sync_history import rejected_people
from kith.marketing.groups.target_groups import count_members, get_group
from kith.marketing.models import SKIP_REASONS, SyncRun, TargetGroup

EXAMPLES = 5
REASON_WORDS = {
    "missing_contact_key": "have no legacy contact key, which the connection matches on",
    "malformed_email": "have an email address that is not valid",
    "duplicate_email": "share an email with another member of the list (one of them is kept)",
    "no_matching_subscriber": "have a legacy contact key that no subscriber has as Remote ID",
    "unsubscribed": "match a subscriber who unsubscribed",
    "bounced": "match a subscriber whose address bounced",
}


@dataclass
class Diagnosis:
    """Findings in words, in the order a user should read them, and the figures behind them."""

    subject: str
    findings: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "findings": self.findings, **self.figures}


def diagnose(session: Session, box: SecretBox, reference: str) -> Diagnosis:
    """Explain a group (by name) or a community list (by name or key)."""
    diagnosis = Diagnosis(reference)
    try:
        group = get_group(session, reference)
    except NotFound:
        group = None
    lists = _community_lists(session, box, diagnosis)
    if group is None:
        found = _find_list(lists or [], reference)
        if found is None:
            state = "" if lists is not None else " (the community could not be asked)"
            diagnosis.findings.append(
                f"no target group or community list is named {reference!r}{state}"
            )
            return diagnosis
        group = _explain_list(session, found, diagnosis)
        if group is None:
            return diagnosis
    _explain_group(session, group, lists, diagnosis)
    return diagnosis


def _community_lists(
    session: Session, box: SecretBox, diagnosis: Diagnosis
) -> list[dict[str, Any]] | None:
    try:
        with client_for(session, box) as client:
            lists: list[dict[str, Any]] = client.get_json("/lists")
            return lists
    except ConnectionFailed as failure:
        diagnosis.findings.append(f"the connection cannot read the community: {failure}")
        diagnosis.figures["connection"] = failure.as_json()
        return None


def _find_list(lists: list[dict[str, Any]], reference: str) -> dict[str, Any] | None:
    wanted = reference.strip().lower()
    for item in lists:
        if item["key"] == reference.strip() or item["name"].strip().lower() == wanted:
            return item
    return None


def _explain_list(
    session: Session, item: dict[str, Any], diagnosis: Diagnosis
) -> TargetGroup | None:
    """Why a list has no group (None), or the group it has."""
    diagnosis.figures["list"] = {
        "key": item["key"],
        "name": item["name"],
        "member_count": item.get("member_count"),
    }
    verdict = judge_list_name(item["name"])
    if verdict.group_name is None:
        diagnosis.findings.append(
            f"the list {item['name']!r} is not for marketing: {verdict.reason}"
            + (" (a near-miss of the prefix)" if verdict.near_miss else "")
        )
        return None
    group = community_groups(session).get(item["key"])
    if group is None:
        diagnosis.findings.append(
            f"the list {item['name']!r} would become the group {verdict.group_name!r}, but no "
            "refresh has run since it was created: run `kith marketing groups refresh` "
            "(Refresh Target Group List)"
        )
    return group


def _explain_group(
    session: Session,
    group: TargetGroup,
    lists: list[dict[str, Any]] | None,
    diagnosis: Diagnosis,
) -> None:
    diagnosis.figures["group"] = {
        "name": group.name,
        "kind": group.kind,
        "member_count": count_members(session, group),
        "sync_status": group.sync_status,
        "last_synced_at": group.last_synced_at.isoformat() if group.last_synced_at else None,
    }
    if group.kind != "community":
        diagnosis.findings.append(
            f"{group.name!r} is a {group.kind} group: the connection does not fill it"
        )
        return
    source = next((item for item in lists or [] if item["key"] == group.list_key), None)
    if source is not None:
        diagnosis.figures["list"] = {
            "key": source["key"],
            "name": source["name"],
            "member_count": source.get("member_count"),
        }
    if group.source_removed_at is not None:
        diagnosis.findings.append(
            f"the list behind {group.name!r} was removed from the community (or renamed without "
            f"the Informz prefix) on {group.source_removed_at:%Y-%m-%d}; the group is kept as it "
            "was and no longer synced"
        )
    last = session.scalar(
        select(SyncRun)
        .where(SyncRun.group_id == group.id)
        .order_by(SyncRun.requested_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
    if last is None:
        diagnosis.findings.append(
            f"{group.name!r} has never been synced: Sync Target Group Now on its Info page syncs it"
        )
        return
    if last.status in ("failed", "held"):
        diagnosis.findings.append(f"the last sync was {last.status}: {last.error}")
    completed = session.scalar(
        select(SyncRun)
        .where(SyncRun.group_id == group.id, SyncRun.status == "completed")
        .order_by(SyncRun.requested_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
    if completed is None:
        return
    _explain_counts(session, group, completed, source, diagnosis)


def _explain_counts(
    session: Session,
    group: TargetGroup,
    run: SyncRun,
    source: dict[str, Any] | None,
    diagnosis: Diagnosis,
) -> None:
    skipped = run.skipped or {}
    when = f"{run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else "the last sync"
    diagnosis.findings.append(
        f"at the sync of {when} the list had {run.in_list} members; {run.members} are in the "
        f"group and {sum(skipped.values())} were left out"
    )
    if source is not None and source.get("member_count") not in (None, run.in_list):
        diagnosis.findings.append(
            f"the list has {source['member_count']} members now: resync to bring the group "
            "up to date"
        )
    examples = _examples(session, run, skipped)
    for reason in SKIP_REASONS:
        if skipped.get(reason):
            names = ", ".join(examples.get(reason, []))
            diagnosis.findings.append(
                f"{skipped[reason]} {REASON_WORDS[reason]} ({reason}; e.g. {names})"
            )
    diagnosis.figures["last_sync"] = {
        "in_list": run.in_list,
        "members": run.members,
        "skipped": skipped,
        "examples": examples,
    }


def _examples(session: Session, run: SyncRun, skipped: dict[str, int]) -> dict[str, list[str]]:
    """A few members left out for each reason: contact key, name and email."""
    return {
        reason: [
            str(person) for person in rejected_people(session, run, reason=reason, limit=EXAMPLES)
        ]
        for reason in SKIP_REASONS
        if skipped.get(reason)
    }
