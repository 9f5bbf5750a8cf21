"""What the marketing side needs from the connection, declared here and filled at start-up.

Marketing never imports the connection (imports run one way: connection -> marketing). A send
needs its community groups resynced just before, and the community's automation rules checked
for duplicate mailings; campaign templates need community lists made; the scheduler pulls
the community's activity. It asks through these ports, which `kith.wiring.wire()` fills.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class GroupSync:
    """How a sync asked for by marketing ended: `completed`, `failed` or `held`, and why."""

    group: str
    status: str
    error: str | None


@dataclass(frozen=True)
class RuleOverlap:
    """A community automation rule that e-mails some of a mailing's recipients itself."""

    rule: str
    subject: str | None
    recipients: int


class GroupSyncer(Protocol):
    def __call__(self, group_name: str, *, trigger: str, now: datetime) -> GroupSync: ...


class DuplicateChecker(Protocol):
    def __call__(
        self, session: Session, recipients_among: Callable[[Collection[str]], int]
    ) -> list[RuleOverlap]: ...


class ListProvider(Protocol):
    def __call__(self, name: str, criteria: dict[str, Any], *, now: datetime) -> str: ...


class ActivityPuller(Protocol):
    def __call__(self, *, now: datetime) -> None: ...


@dataclass
class Ports:
    sync_group: GroupSyncer | None = None
    check_duplicates: DuplicateChecker | None = None
    # the community group behind a community list, created with these criteria if missing
    provide_community_list: ListProvider | None = None
    # the community's activity pulled into marketing, for scoring and reports (a KithError if not)
    pull_activity: ActivityPuller | None = None


ports = Ports()
