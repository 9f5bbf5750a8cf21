"""`make demo`'s logins to the web admin: a marketing admin, and the demo community's Super Admin.

Each gets a generated password, which exists in clear only in what this returns; running the
demo again gives the same logins new passwords.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kith.community import accounts as community_accounts
from kith.config import Settings
from kith.db import Database
from kith.demo.community import SUPER_ADMIN_EMAIL
from kith.errors import NotFound
from kith.marketing import accounts as marketing_accounts
from kith.web.accounts import AccountColumns, generate_password, get_account, set_password

MARKETING_ADMIN_EMAIL = "mia.marketer@demo.example.org"


@dataclass(frozen=True)
class DemoLogin:
    """Where to sign in, and with what."""

    url: str
    email: str
    password: str
    role: str

    def __str__(self) -> str:
        return f"{self.url}  {self.email} / {self.password}  ({self.role.replace('_', ' ')})"


def create_demo_logins(settings: Settings, now: datetime) -> tuple[DemoLogin, DemoLogin]:
    """(the marketing login, the community login); the community's needs the demo's members."""
    base = settings.public_url.rstrip("/")
    return (
        _login(
            settings.marketing_url,
            marketing_accounts.Account,
            marketing_accounts.create_login,
            DemoLogin(f"{base}/marketing/", MARKETING_ADMIN_EMAIL, "", marketing_accounts.ADMIN),
            now,
        ),
        _login(
            settings.community_url,
            community_accounts.Account,
            community_accounts.create_login,
            DemoLogin(f"{base}/community/", SUPER_ADMIN_EMAIL, "", community_accounts.SUPER_ADMIN),
            now,
        ),
    )


def _login(
    url: str,
    model: type[AccountColumns],
    create: Callable[..., Any],
    login: DemoLogin,
    now: datetime,
) -> DemoLogin:
    """`login` with a new password; the login is created when it does not exist yet."""
    password = generate_password()
    db = Database(url)
    with db.transaction() as session:
        try:
            set_password(session, get_account(session, model, login.email), password)
        except NotFound:
            create(session, email=login.email, role=login.role, password=password, now=now)
    db.dispose()
    return DemoLogin(login.url, login.email, password, login.role)
