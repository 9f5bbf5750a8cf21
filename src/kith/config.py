"""Settings read from the environment (KITH_*), with the embedded defaults under a data dir."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kith.private_files import create_private_file


class Settings(BaseSettings):
    """One typed object for every setting; each field is also `KITH_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KITH_", extra="ignore")

    data_dir: Path = Path("var")
    community_db_url: str | None = None
    marketing_db_url: str | None = None
    queue_url: str | None = None
    # workers take jobs from the queue of this name only: installations sharing one Redis
    # keep apart by giving each its own name
    queue_name: str = "kith"
    secret_key: str | None = None
    api_failure_limit: int = 5
    api_failure_window_seconds: int = 300
    # a sync that finds an empty list is held when its group had more members than this
    empty_guard: int = 100
    # reading the community (a sync's list, the activity pull, the duplicate check) fails with
    # the reason after this many seconds, plus a second per 1,000 items the same read last
    # brought (the list's members, the pull's lines): httpx's timeouts bound each read only
    community_read_deadline_seconds: float = Field(300.0, gt=0)
    # where people reach this server: unsubscribe and tracking links in messages point here
    public_url: str = "http://127.0.0.1:8000"
    # mailings go to this SMTP server (smtp://user:password@host:587?tls=starttls); unset: the
    # outbox folder under the data dir (kith.marketing.mailings.outbox)
    smtp_url: str | None = None
    # each message's envelope sender is this address with a signed token naming the mailing and
    # the subscriber (bounces@mail.example.org -> bounces+TOKEN@...); unset: the From address
    bounce_address: str | None = None
    # a subscriber is bounced after this many soft (4.x.x) bounces within that many days
    soft_bounce_limit: int = Field(3, ge=1)
    soft_bounce_days: int = Field(14, ge=1)
    # a bounce message larger than this is kept whole but only its first bytes are read
    bounce_read_bytes: int = Field(1_000_000, ge=10_000)
    # a mailbox the worker takes bounces from (imaps://user:password@host/INBOX, pop3s://...),
    # every that many seconds; unset: bounces come in by `kith bounces serve` or files only
    bounce_mailbox_url: str | None = None
    bounce_mailbox_seconds: float = Field(60.0, gt=0)
    # while a campaign runs, its community groups are resynced at this minute of every hour,
    # or every `hourly_sync_interval_minutes` counted from it (a divisor of 60: 1, 5, 15 ...)
    hourly_sync_minute: int = Field(55, ge=0, le=59)
    hourly_sync_interval_minutes: int = Field(60, ge=1, le=60)
    # a list's change log keeps this many days; a reader further behind reads the list in full
    list_changes_retention_days: int = Field(7, ge=1)
    # how often a worker brings the live lists up to date (a pass), in seconds
    list_pass_seconds: float = Field(1.0, gt=0)
    # how often a worker syncs the community groups whose lists changed (a delta each)
    live_sync_seconds: float = Field(10.0, gt=0)
    # a live group not read in full for this many hours gets a full sync, its drift recorded
    drift_check_hours: float = Field(24.0, gt=0)
    # `kith` shows the traceback of an unexpected failure (as `kith --debug` does), not one line
    debug: bool = False

    @property
    def drift_check_every(self) -> timedelta:
        return timedelta(hours=self.drift_check_hours)

    @property
    def list_changes_retention(self) -> timedelta:
        return timedelta(days=self.list_changes_retention_days)

    @field_validator("bounce_address")
    @classmethod
    def _an_address(cls, address: str | None) -> str | None:
        if address is not None and not _PLAIN_ADDRESS.fullmatch(address.strip()):
            raise ValueError(f"must be a plain address (bounces@mail.example.org), not {address!r}")
        return address.strip() if address else None

    @field_validator("hourly_sync_interval_minutes")
    @classmethod
    def _divides_the_hour(cls, minutes: int) -> int:
        if 60 % minutes:
            raise ValueError(
                f"must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60), not {minutes}"
            )
        return minutes

    @property
    def community_url(self) -> str:
        return self.community_db_url or _sqlite_url(self.data_dir / "community.db")

    @property
    def marketing_url(self) -> str:
        return self.marketing_db_url or _sqlite_url(self.data_dir / "marketing.db")

    @property
    def secret_keys(self) -> list[str]:
        """KITH_SECRET_KEY as a comma-separated list, newest first (empty when unset).

        A list lets an operator rotate: the first secret signs and encrypts, the others only
        still decrypt what older ones encrypted (kith.encryption).
        """
        return [item.strip() for item in (self.secret_key or "").split(",") if item.strip()]

    def signing_key(self) -> bytes:
        """The key that signs tokens: KITH_SECRET_KEY's first secret, else a generated one.

        The generated key is written once into the data dir and read from there afterwards.
        """
        if self.secret_keys:
            return self.secret_keys[0].encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            create_private_file(path, secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
