"""The community side's pages: Members and Communities, and for Super Admins the Admin pages
(Users > List Builder, API credentials, Automation Rules)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from kith.community.accounts import SUPER_ADMIN, Account
from kith.community.web import credentials, criteria_builder, list_builder, members, rules
from kith.web import signin
from kith.web.site import install_site


def install_pages(app: FastAPI) -> None:
    install_site(
        app,
        side="community",
        title="Kith Community",
        account_model=Account,
        admin_role=SUPER_ADMIN,
        templates=Path(__file__).parent / "templates",
        routers=[
            signin.router,
            members.router,
            list_builder.router,
            criteria_builder.router,
            credentials.router,
            rules.router,
        ],
    )
