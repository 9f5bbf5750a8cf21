"""Refresh Target Group List: one community group per "Informz" list, named after it.

Reads the community's lists over its API and brings the Online Community folder in line:
new lists get groups, renamed lists rename theirs (keeping members and history), lists that
disappeared (or lost the prefix) leave their groups marked `source removed`. Every list not
taken is reported with the reason, near-misses of the prefix flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kith.clock import parse_datetime
from kith.connection.client import CommunityClient
from kith.list_names import judge_list_name
from kith.marketing.groups.community import (
    add_community_group,
    community_groups,
    free_name,
    mark_source_removed,
    rename_group,
    restore_source,
)


@dataclass
class RefreshReport:
    """What a refresh did, and every list it did not take with the reason."""

    added: list[dict[str, str]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    restored: list[dict[str, str]] = field(default_factory=list)
    collisions: list[dict[str, str]] = field(default_factory=list)
    not_taken: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "renamed": self.renamed,
            "removed": self.removed,
            "restored": self.restored,
            "collisions": self.collisions,
            "not_taken": self.not_taken,
            "unchanged": self.unchanged,
        }


def refresh_groups(session: Session, client: CommunityClient, *, now: datetime) -> RefreshReport:
    """Read the lists and bring the community groups in line with them, in one transaction.

    Lists are taken in the order they were created, so of two lists that want the same group
    name the later one gets the suffix (" (2)"); a group that already has a name keeps it.
    """
    lists = client.get_json("/lists", params={"counts": "false"})
    lists.sort(key=lambda item: (parse_datetime(item["created_at"]), item["key"]))
    groups = community_groups(session)
    report = RefreshReport()
    taken: set[str] = set()
    for item in lists:
        key, list_name = item["key"], item["name"]
        verdict = judge_list_name(list_name)
        if verdict.group_name is None:
            report.not_taken.append(
                {
                    "list": list_name,
                    "key": key,
                    "reason": verdict.reason,
                    "near_miss": verdict.near_miss,
                }
            )
            continue
        taken.add(key)
        group = groups.get(key)
        if group is None:
            name = free_name(session, verdict.group_name)
            group = add_community_group(session, name, list_key=key, now=now)
            report.added.append({"group": name, "list": list_name})
        elif verdict.group_name.lower() != _unsuffixed(group.name, verdict.group_name).lower():
            before = group.name
            name = free_name(session, verdict.group_name, keep=group)
            rename_group(session, group, name)
            report.renamed.append({"from": before, "to": name, "list": list_name})
        else:
            name = group.name
            report.unchanged += group.source_removed_at is None
        group.list_name = list_name
        if group.source_removed_at is not None:
            restore_source(group)
            report.restored.append({"group": name, "list": list_name})
        if name != verdict.group_name:
            report.collisions.append(
                {"list": list_name, "group": name, "wanted": verdict.group_name}
            )
    present = {item["key"] for item in lists}
    for key, group in groups.items():
        if key not in taken and group.source_removed_at is None:
            mark_source_removed(group, now=now)
            reason = (
                "the list no longer begins with Informz"
                if key in present
                else "the list was deleted in the community"
            )
            report.removed.append({"group": group.name, "list_key": key, "reason": reason})
    session.flush()
    return report


def _unsuffixed(name: str, wanted: str) -> str:
    """A group name without the " (N)" a collision gave it, when it is `wanted` plus one."""
    if name.startswith(wanted) and name[len(wanted) :].startswith(" (") and name.endswith(")"):
        return wanted
    return name
