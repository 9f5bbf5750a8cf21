"""What the marketing side needs from the connection, declared here and filled at start-up.

Marketing never imports the connection (imports run one way: connection -> marketing). A send
needs its community groups resynced just before, and the community's automation rules checked
for duplicate mailings; campaign templates need community lists made; the scheduler syncs
groups hourly and pulls the community's activity. It asks through these ports, which process
startup (`kith.app`) fills, refusing to start while one is empty. A port asked for while empty
raises `NotWired`, which every caller treats as the failure it is (a send is held), never as
"nothing to do".
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from kith.db import Database
from kith.errors import Conflict


@dataclass(frozen=True)
class SyncOutcome:
    """How a sync asked for by marketing ended: `completed`, `failed` or `held`, and why."""

    status: str
    error: str | None


@dataclass(frozen=True)
class Overlapping:
    """How many of some Remote IDs are a mailing's recipients, and the first few's addresses."""

    count: int
    some: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleOverlap:
    """A community automation rule that e-mails some of a mailing's recipients itself (the
    first few of them named in `some`)."""

    rule: str
    subject: str | None
    recipients: int
    some: tuple[str, ...] = ()


Port = TypeVar("Port")


class GroupSyncer(Protocol):
    def __call__(
        self, db: Database, group_id: int, *, trigger: str, now: datetime
    ) -> SyncOutcome: ...


class DuplicateChecker(Protocol):
    """Asks `recipients_among(rule, remote_ids)` about each batch of the Remote IDs each rule
    reaches."""

    def __call__(
        self, session: Session, recipients_among: Callable[[str, Collection[str]], Overlapping]
    ) -> list[RuleOverlap]: ...


class ListProvider(Protocol):
    def __call__(
        self, db: Database, name: str, criteria: dict[str, Any], *, now: datetime
    ) -> str: ...


class ActivityPuller(Protocol):
    def __call__(self, db: Database, *, now: datetime) -> None: ...


class NotWired(Conflict):
    """A port asked for before process startup filled it."""

    def __init__(self, port: str) -> None:
        super().__init__(f"the connection is not wired (no {port.replace('_', ' ')} port)")


@dataclass
class Ports:
    sync_group: GroupSyncer | None = None
    check_duplicates: DuplicateChecker | None = None
    # the community group behind a community list, created with these criteria if missing
    provide_community_list: ListProvider | None = None
    # the community's activity pulled into marketing, for scoring and reports (a KithError if not)
    pull_activity: ActivityPuller | None = None

    def missing(self) -> list[str]:
        """The ports nobody filled."""
        return [port.name for port in fields(self) if getattr(self, port.name) is None]

    def syncer(self) -> GroupSyncer:
        return self._filled(self.sync_group, "sync_group")

    def duplicate_checker(self) -> DuplicateChecker:
        return self._filled(self.check_duplicates, "check_duplicates")

    def list_provider(self) -> ListProvider:
        return self._filled(self.provide_community_list, "provide_community_list")

    def activity_puller(self) -> ActivityPuller:
        return self._filled(self.pull_activity, "pull_activity")

    @staticmethod
    def _filled(port: Port | None, name: str) -> Port:
        if port is None:
            raise NotWired(name)
        return port


ports = Ports()
